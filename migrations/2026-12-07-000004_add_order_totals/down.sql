ALTER TABLE cart_items DROP COLUMN tax;
DROP INDEX orders_shipping_method_id_idx;
ALTER TABLE orders
    DROP COLUMN subtotal,
    DROP COLUMN shipping,
    DROP COLUMN tax,
    DROP COLUMN total,
    DROP COLUMN tax_rate,
    DROP COLUMN prices_include_tax,
    DROP COLUMN shipping_method_id,
    DROP COLUMN shipping_method_name;
