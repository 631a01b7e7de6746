-- The address an order ships to, as given at checkout (typed in, or copied from the
-- address book): later edits to saved addresses do not change it.
CREATE TABLE order_addresses (
    order_id    INTEGER      PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    name        VARCHAR(100) NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    line2       VARCHAR(200),
    city        VARCHAR(100) NOT NULL,
    postal_code VARCHAR(20),
    region      VARCHAR(100),
    country     VARCHAR(2)   NOT NULL,
    phone       VARCHAR(30),
    CONSTRAINT order_addresses_country_check CHECK (country ~ '^[A-Z]{2}$')
);

COMMENT ON TABLE order_addresses IS 'Where an order ships to, copied at checkout; none for an order placed without an address.';
COMMENT ON COLUMN order_addresses.order_id IS 'The order (one address each).';
COMMENT ON COLUMN order_addresses.name IS 'Who receives the parcel.';
COMMENT ON COLUMN order_addresses.line1 IS 'Street and number.';
COMMENT ON COLUMN order_addresses.line2 IS 'Apartment, floor, c/o (optional).';
COMMENT ON COLUMN order_addresses.city IS 'City.';
COMMENT ON COLUMN order_addresses.postal_code IS 'Postal code (optional).';
COMMENT ON COLUMN order_addresses.region IS 'State, province or county (optional).';
COMMENT ON COLUMN order_addresses.country IS 'ISO 3166-1 alpha-2 code; its tax rate applied.';
COMMENT ON COLUMN order_addresses.phone IS 'A phone number for the carrier (optional).';
