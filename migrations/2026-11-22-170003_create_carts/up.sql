-- A cart is open while the customer shops; checkout turns it into an order
-- (status checked_out), so orders are checked-out carts.
CREATE TABLE carts (
    id              SERIAL PRIMARY KEY,
    user_id         INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          VARCHAR(20)  NOT NULL DEFAULT 'open',
    checked_out_at  TIMESTAMPTZ,
    idempotency_key VARCHAR(255),
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT carts_status_check CHECK (status IN ('open', 'checked_out')),
    -- checked_out_at is set exactly when the cart is checked out.
    CONSTRAINT carts_checked_out_at_check CHECK ((status = 'checked_out') = (checked_out_at IS NOT NULL))
);

CREATE INDEX carts_user_id_idx ON carts (user_id);
-- At most one open cart per user: concurrent "create my cart" requests settle here.
CREATE UNIQUE INDEX carts_one_open_per_user_idx ON carts (user_id) WHERE status = 'open';
-- A retried checkout with the same Idempotency-Key finds the first order through this index.
CREATE UNIQUE INDEX carts_user_id_idempotency_key_idx ON carts (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Order history: a user's checked-out carts, newest first, keyset paginated.
CREATE INDEX carts_orders_idx ON carts (user_id, checked_out_at, id) WHERE status = 'checked_out';

SELECT diesel_manage_updated_at('carts');

COMMENT ON TABLE carts IS 'Shopping carts; a checked-out cart is an order.';
COMMENT ON COLUMN carts.id IS 'Surrogate key; also the order id once checked out.';
COMMENT ON COLUMN carts.user_id IS 'Owner; deleting the user deletes their carts and orders.';
COMMENT ON COLUMN carts.status IS 'open while shopping, checked_out once ordered.';
COMMENT ON COLUMN carts.checked_out_at IS 'When checkout succeeded; NULL while open.';
COMMENT ON COLUMN carts.idempotency_key IS 'Idempotency-Key of the checkout request that created this order, unique per user.';
COMMENT ON COLUMN carts.created_at IS 'When the cart was opened.';
COMMENT ON COLUMN carts.updated_at IS 'Last change to the row; kept by the set_updated_at trigger.';
