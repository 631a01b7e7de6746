DROP FUNCTION refresh_low_price(INTEGER);
DROP FUNCTION lowest_earlier_price(INTEGER);
ALTER TABLE products DROP COLUMN low_price_until;
ALTER TABLE products DROP COLUMN low_price;
ALTER TABLE products DROP COLUMN price_changed_at;
DROP TABLE price_changes;
