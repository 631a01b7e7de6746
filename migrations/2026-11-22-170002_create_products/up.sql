-- The catalogue. Products are archived (archived_at), never deleted, because orders keep
-- referring to them.
CREATE TABLE products (
    id              SERIAL PRIMARY KEY,
    name            VARCHAR(255)  NOT NULL,
    description     TEXT,
    price           NUMERIC(12,2) NOT NULL,
    inventory_count INTEGER       NOT NULL DEFAULT 0,
    archived_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    -- Kept by PostgreSQL itself, so it can never drift from name and description; name
    -- matches (weight A) rank above description matches (weight B).
    search_vector   TSVECTOR      NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') ||
        setweight(to_tsvector('english', coalesce(description, '')), 'B')
    ) STORED,
    CONSTRAINT products_price_check CHECK (price >= 0),
    CONSTRAINT products_inventory_count_check CHECK (inventory_count >= 0)
);

CREATE INDEX products_search_vector_idx ON products USING GIN (search_vector);
-- Keyset pagination: each listing order is (sort key, id), over live products only.
-- Descending orders use the same indexes scanned backwards.
CREATE INDEX products_price_id_idx ON products (price, id) WHERE archived_at IS NULL;
CREATE INDEX products_created_at_id_idx ON products (created_at, id) WHERE archived_at IS NULL;

SELECT diesel_manage_updated_at('products');

COMMENT ON TABLE products IS 'The catalogue; rows are archived, never deleted.';
COMMENT ON COLUMN products.id IS 'Surrogate key; the product id in the API and in cart_items.';
COMMENT ON COLUMN products.name IS 'Display name; searched with weight A.';
COMMENT ON COLUMN products.description IS 'Optional longer text; searched with weight B.';
COMMENT ON COLUMN products.price IS 'Current unit price; orders freeze their own copy in cart_items.unit_price.';
COMMENT ON COLUMN products.inventory_count IS 'Units in stock; checkout decrements it and it never goes below 0.';
COMMENT ON COLUMN products.archived_at IS 'Set when staff archive the product; archived products are hidden from the catalogue.';
COMMENT ON COLUMN products.search_vector IS 'Full-text search document: name (weight A) and description (weight B), english.';
COMMENT ON COLUMN products.created_at IS 'When the product was added; the sort=newest key.';
COMMENT ON COLUMN products.updated_at IS 'Last change to the row; kept by the set_updated_at trigger.';
