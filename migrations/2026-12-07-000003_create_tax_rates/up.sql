-- The tax rate of each country the shop sells to; a country without a row has none.
CREATE TABLE tax_rates (
    country    VARCHAR(2)   PRIMARY KEY,
    rate       NUMERIC(6,3) NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT tax_rates_country_check CHECK (country ~ '^[A-Z]{2}$'),
    CONSTRAINT tax_rates_rate_check CHECK (rate >= 0 AND rate <= 100)
);

SELECT diesel_manage_updated_at('tax_rates');

COMMENT ON TABLE tax_rates IS 'Tax rate per destination country; staff manage them.';
COMMENT ON COLUMN tax_rates.country IS 'ISO 3166-1 alpha-2 code in capitals; one rate per country.';
COMMENT ON COLUMN tax_rates.rate IS 'A percentage (19.000 is 19 %), 0 to 100.';
COMMENT ON COLUMN tax_rates.created_at IS 'When it was created.';
COMMENT ON COLUMN tax_rates.updated_at IS 'Last change; kept by the set_updated_at trigger.';
