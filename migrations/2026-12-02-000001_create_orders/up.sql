-- An order's lifecycle, apart from the cart it was placed from. A checked-out cart keeps
-- what was bought (its lines, with the unit prices frozen at checkout); the order row
-- keeps what happens afterwards: the order, payment and fulfilment states, the payment
-- deadline and the cancellation. It shares the cart's id, so order ids, stock movements
-- (order_id) and checkout idempotency keys stay as they were. Totals, the address and
-- payments hang off this row as they arrive.
CREATE TABLE orders (
    id                INTEGER      PRIMARY KEY REFERENCES carts (id) ON DELETE CASCADE,
    status            VARCHAR(20)  NOT NULL DEFAULT 'checked_out',
    payment_status    VARCHAR(20)  NOT NULL DEFAULT 'awaiting_payment',
    fulfilment_status VARCHAR(20)  NOT NULL DEFAULT 'unfulfilled',
    payment_due_at    TIMESTAMPTZ,
    cancelled_at      TIMESTAMPTZ,
    cancel_reason     VARCHAR(500),
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT orders_status_check CHECK (status IN ('checked_out', 'completed', 'cancelled')),
    CONSTRAINT orders_payment_status_check CHECK (payment_status IN
        ('awaiting_payment', 'authorized', 'paid', 'partially_refunded', 'refunded', 'voided')),
    CONSTRAINT orders_fulfilment_status_check CHECK (fulfilment_status IN ('unfulfilled', 'fulfilled')),
    -- cancelled_at is set exactly when the order is cancelled.
    CONSTRAINT orders_cancelled_at_check CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    -- An order is completed when it has shipped, and a shipped order is never cancelled.
    CONSTRAINT orders_completed_check CHECK ((status = 'completed') = (fulfilment_status = 'fulfilled')),
    -- A deadline only while a payment is awaited.
    CONSTRAINT orders_payment_due_at_check CHECK (payment_due_at IS NULL OR
        (payment_status = 'awaiting_payment' AND status = 'checked_out'))
);

-- The expiry job: orders whose payment deadline has passed, oldest deadline first, found
-- without scanning orders that are paid, cancelled or have no deadline.
CREATE INDEX orders_payment_due_at_idx ON orders (payment_due_at) WHERE payment_due_at IS NOT NULL;
-- The admin listing filters on the states; the newest-first order comes from carts.
CREATE INDEX orders_states_idx ON orders (status, payment_status, fulfilment_status);
-- The admin listing: every order newest first (keyset on checked_out_at, id).
CREATE INDEX carts_checked_out_at_idx ON carts (checked_out_at DESC, id DESC) WHERE status = 'checked_out';

SELECT diesel_manage_updated_at('orders');

-- Orders placed before payments existed were settled outside the service: they are paid.
INSERT INTO orders (id, payment_status, created_at, updated_at)
SELECT id, 'paid', checked_out_at, checked_out_at FROM carts WHERE status = 'checked_out';

COMMENT ON TABLE orders IS 'The lifecycle of an order: one row per checked-out cart (same id), written by checkout in its transaction.';
COMMENT ON COLUMN orders.id IS 'The id of the checked-out cart that holds the order''s lines; the order id clients see.';
COMMENT ON COLUMN orders.status IS 'checked_out once placed, completed once fulfilled, cancelled (by the owner, staff, or the payment deadline).';
COMMENT ON COLUMN orders.payment_status IS 'awaiting_payment, authorized, paid, partially_refunded, refunded, or voided (no payment will come: cancelled unpaid).';
COMMENT ON COLUMN orders.fulfilment_status IS 'unfulfilled until staff record a shipment, then fulfilled.';
COMMENT ON COLUMN orders.payment_due_at IS 'While awaiting payment: when the service cancels the order and releases its stock; NULL without a deadline or once no payment is awaited.';
COMMENT ON COLUMN orders.cancelled_at IS 'When the order was cancelled; NULL otherwise.';
COMMENT ON COLUMN orders.cancel_reason IS 'Why it was cancelled: payment_expired for the deadline, else the text given with the cancel (may be NULL).';
COMMENT ON COLUMN orders.created_at IS 'When the order was placed (the checkout).';
COMMENT ON COLUMN orders.updated_at IS 'Last change to the row; kept by the set_updated_at trigger.';
