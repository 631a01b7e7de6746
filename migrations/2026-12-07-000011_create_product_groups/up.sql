-- Variant groups: one shirt in several sizes and colours. Each variant is a product of
-- its own (price, stock, ledger, cart lines) that names its group and its option values.
CREATE TABLE product_groups (
    id         SERIAL       PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    -- The option axes in order: [{"name": "size", "values": ["S", "M"]}, ...].
    options    JSONB        NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT product_groups_options_check CHECK (jsonb_typeof(options) = 'array')
);
SELECT diesel_manage_updated_at('product_groups');

ALTER TABLE products
    ADD COLUMN group_id INTEGER REFERENCES product_groups (id) ON DELETE RESTRICT,
    -- The variant's value on each of its group's axes: {"size": "M", "colour": "red"}.
    ADD COLUMN options JSONB,
    ADD CONSTRAINT products_group_id_options_check CHECK ((group_id IS NULL) = (options IS NULL));
-- Two live variants of one group never share their options (jsonb equality ignores key
-- order); an archived variant frees its combination.
CREATE UNIQUE INDEX products_group_id_options_key
    ON products (group_id, options) WHERE group_id IS NOT NULL AND archived_at IS NULL;
