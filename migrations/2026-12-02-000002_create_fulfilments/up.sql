-- Shipments recorded by staff. One ships the whole order (fulfilment_status becomes
-- fulfilled); a table rather than columns so split shipments can come later.
CREATE TABLE fulfilments (
    id              SERIAL       PRIMARY KEY,
    order_id        INTEGER      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    carrier         VARCHAR(100) NOT NULL,
    tracking_number VARCHAR(100) NOT NULL,
    by_user_id      INTEGER      REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- An order's fulfilments, with the order.
CREATE INDEX fulfilments_order_id_idx ON fulfilments (order_id);
-- Deleting a user sets by_user_id to NULL here; this finds the rows without a scan.
CREATE INDEX fulfilments_by_user_id_idx ON fulfilments (by_user_id) WHERE by_user_id IS NOT NULL;

COMMENT ON TABLE fulfilments IS 'Shipments of orders, recorded by staff.';
COMMENT ON COLUMN fulfilments.id IS 'Surrogate key.';
COMMENT ON COLUMN fulfilments.order_id IS 'The order shipped.';
COMMENT ON COLUMN fulfilments.carrier IS 'Who carries it, as staff typed it (1-100 characters).';
COMMENT ON COLUMN fulfilments.tracking_number IS 'The carrier''s tracking number (1-100 visible characters).';
COMMENT ON COLUMN fulfilments.by_user_id IS 'The admin who recorded it; NULL once that account is deleted.';
COMMENT ON COLUMN fulfilments.created_at IS 'When it was recorded.';
