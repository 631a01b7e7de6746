-- How orders can be shipped, to which countries, at what price. Orders keep the method's
-- name and the price they paid, so a method can be changed or deleted afterwards.
CREATE TABLE shipping_methods (
    id         SERIAL        PRIMARY KEY,
    name       VARCHAR(100)  NOT NULL,
    price      NUMERIC(12,2) NOT NULL,
    countries  TEXT[]        NOT NULL,
    free_over  NUMERIC(12,2),
    created_at TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT shipping_methods_price_check CHECK (price >= 0),
    CONSTRAINT shipping_methods_free_over_check CHECK (free_over >= 0),
    -- At least one country, each a two-letter code, none NULL (array_to_string skips
    -- NULLs; array_position finds them).
    CONSTRAINT shipping_methods_countries_check
        CHECK (array_to_string(countries, ',') ~ '^[A-Z]{2}(,[A-Z]{2})*$'
               AND array_position(countries, NULL) IS NULL)
);

-- GET /shipping-methods?country=XX and checkout's "does it ship there": countries @> ARRAY[XX].
CREATE INDEX shipping_methods_countries_idx ON shipping_methods USING GIN (countries);

SELECT diesel_manage_updated_at('shipping_methods');

COMMENT ON TABLE shipping_methods IS 'Ways an order can be shipped; staff manage them. With none, checkout needs no shipping method.';
COMMENT ON COLUMN shipping_methods.id IS 'Surrogate key.';
COMMENT ON COLUMN shipping_methods.name IS 'What the customer sees ("DHL Paket", 1-100 characters).';
COMMENT ON COLUMN shipping_methods.price IS 'What shipping costs, in the shop''s currency.';
COMMENT ON COLUMN shipping_methods.countries IS 'ISO 3166-1 alpha-2 codes it ships to (at least one).';
COMMENT ON COLUMN shipping_methods.free_over IS 'A subtotal from which this shipping is free; NULL: never free.';
COMMENT ON COLUMN shipping_methods.created_at IS 'When it was created.';
COMMENT ON COLUMN shipping_methods.updated_at IS 'Last change; kept by the set_updated_at trigger.';
