-- A customer's saved addresses (the address book). An order copies the address it ships
-- to (order_addresses), so editing or deleting a saved one never changes an order.
CREATE TABLE addresses (
    id          SERIAL       PRIMARY KEY,
    user_id     INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        VARCHAR(100) NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    line2       VARCHAR(200),
    city        VARCHAR(100) NOT NULL,
    postal_code VARCHAR(20),
    region      VARCHAR(100),
    country     VARCHAR(2)   NOT NULL,
    phone       VARCHAR(30),
    is_default  BOOLEAN      NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT addresses_country_check CHECK (country ~ '^[A-Z]{2}$')
);

-- A user's addresses, oldest first.
CREATE INDEX addresses_user_id_idx ON addresses (user_id, id);
-- At most one default per user: two concurrent "make this the default" cannot both win.
CREATE UNIQUE INDEX addresses_one_default_per_user ON addresses (user_id) WHERE is_default;

SELECT diesel_manage_updated_at('addresses');

COMMENT ON TABLE addresses IS 'Customers'' saved postal addresses; orders keep a copy of the one they ship to.';
COMMENT ON COLUMN addresses.id IS 'Surrogate key.';
COMMENT ON COLUMN addresses.user_id IS 'The customer whose address book it is in.';
COMMENT ON COLUMN addresses.name IS 'Who receives the parcel (1-100 characters).';
COMMENT ON COLUMN addresses.line1 IS 'Street and number (1-200 characters).';
COMMENT ON COLUMN addresses.line2 IS 'Apartment, floor, c/o (optional).';
COMMENT ON COLUMN addresses.city IS 'City (1-100 characters).';
COMMENT ON COLUMN addresses.postal_code IS 'Postal code: letters, digits, spaces, hyphens (optional: not every country has them).';
COMMENT ON COLUMN addresses.region IS 'State, province or county (optional).';
COMMENT ON COLUMN addresses.country IS 'ISO 3166-1 alpha-2 code in capitals, checked against the service''s list.';
COMMENT ON COLUMN addresses.phone IS 'A phone number for the carrier (optional).';
COMMENT ON COLUMN addresses.is_default IS 'The address a front end preselects; at most one per user.';
COMMENT ON COLUMN addresses.created_at IS 'When it was saved.';
COMMENT ON COLUMN addresses.updated_at IS 'Last change; kept by the set_updated_at trigger.';
