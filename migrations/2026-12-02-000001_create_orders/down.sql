DROP INDEX carts_checked_out_at_idx;
DROP TABLE orders;
