-- A product's pictures, in the order shown: [{"url": "https://...", "alt": "...",
-- "position": 0}, ...], at most 20 (validated by the service, bounded here too). Kept on
-- the row: a product is read with its images in one index lookup, and any change to them
-- is a change to the product (its updated_at and ETag).
ALTER TABLE products
    ADD COLUMN images JSONB NOT NULL DEFAULT '[]',
    ADD CONSTRAINT products_images_check
        CHECK (jsonb_typeof(images) = 'array' AND jsonb_array_length(images) <= 20);
