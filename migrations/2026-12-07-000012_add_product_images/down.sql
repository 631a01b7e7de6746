ALTER TABLE products DROP CONSTRAINT products_images_check, DROP COLUMN images;
