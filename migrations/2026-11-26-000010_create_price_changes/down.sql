ALTER TABLE products DROP COLUMN price_changed_at;
DROP TABLE price_changes;
