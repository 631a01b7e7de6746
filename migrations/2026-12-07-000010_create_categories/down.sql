DROP TRIGGER products_price_to_category_listings ON products;
DROP FUNCTION copy_price_to_category_listings();
DROP TABLE category_listings;
ALTER TABLE products DROP COLUMN category_ids;
DROP TABLE categories;
