-- The category tree, and the products filed under it. A product names its own categories
-- (products.category_ids, what admins set and clients read); category_listings is derived
-- from it: one row per category a product is listed under (its own categories and every
-- ancestor of them) carrying the product's sort keys, so a category's page is one index
-- range in the listing's order (then each row's product by its key), whatever the size of
-- the category: no gathering of descendants, no sort. The repository rewrites a product's rows whenever its categories or the tree
-- above them change; a trigger keeps the copied price equal to the product's.
CREATE TABLE categories (
    id         SERIAL       PRIMARY KEY,
    -- NULL: a top-level category. Moves are serialised and checked for cycles by the
    -- repository (a transaction-level advisory lock), so two concurrent moves cannot
    -- make one either.
    parent_id  INTEGER      REFERENCES categories (id) ON DELETE RESTRICT,
    name       VARCHAR(255) NOT NULL,
    slug       VARCHAR(100) NOT NULL,
    position   INTEGER      NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_key UNIQUE (slug),
    CONSTRAINT categories_slug_check CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT categories_position_check CHECK (position >= 0),
    CONSTRAINT categories_parent_id_check CHECK (parent_id <> id)
);
CREATE INDEX categories_parent_id_position_idx ON categories (parent_id, position);
SELECT diesel_manage_updated_at('categories');
COMMENT ON TABLE categories IS 'The category tree: parent_id NULL for a top-level category; siblings ordered by position, then name.';

ALTER TABLE products
    ADD COLUMN category_ids INTEGER[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT products_category_ids_check CHECK (array_position(category_ids, NULL) IS NULL);
COMMENT ON COLUMN products.category_ids IS 'The categories the product is filed under, ascending; every id has its row in category_listings (whose foreign key guards it).';

CREATE TABLE category_listings (
    category_id INTEGER       NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    product_id  INTEGER       NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    -- Copies of the product's sort keys (created_at never changes; price by trigger).
    created_at  TIMESTAMPTZ   NOT NULL,
    price       NUMERIC(12,2) NOT NULL,
    PRIMARY KEY (category_id, product_id)
);
CREATE INDEX category_listings_newest_idx
    ON category_listings (category_id, created_at DESC, product_id DESC);
CREATE INDEX category_listings_price_idx ON category_listings (category_id, price, product_id);
CREATE INDEX category_listings_product_id_idx ON category_listings (product_id);
COMMENT ON TABLE category_listings IS 'One row per category a product is listed under (its own and their ancestors), with its sort keys: a category page is one index range.';

CREATE FUNCTION copy_price_to_category_listings() RETURNS trigger AS $$
BEGIN
    UPDATE category_listings SET price = NEW.price WHERE product_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER products_price_to_category_listings
    AFTER UPDATE OF price ON products
    FOR EACH ROW WHEN (OLD.price IS DISTINCT FROM NEW.price)
    EXECUTE FUNCTION copy_price_to_category_listings();
