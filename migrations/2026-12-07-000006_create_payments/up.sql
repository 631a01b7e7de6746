-- Attempts to pay an order through a payment provider: one row per intent at the
-- provider. At most one is open (pending or awaiting the shopper's action) per order, so
-- two tabs paying at once share one intent instead of charging twice.
CREATE TABLE payments (
    id              SERIAL        PRIMARY KEY,
    order_id        INTEGER       NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    provider        VARCHAR(20)   NOT NULL,
    provider_ref    VARCHAR(100)  NOT NULL,
    status          VARCHAR(20)   NOT NULL DEFAULT 'pending',
    amount          NUMERIC(18,2) NOT NULL,
    currency        VARCHAR(3)    NOT NULL,
    client_secret   VARCHAR(255)  NOT NULL,
    confirm_url     VARCHAR(500)  NOT NULL,
    captured_amount NUMERIC(18,2) NOT NULL DEFAULT 0,
    requires_review BOOLEAN       NOT NULL DEFAULT false,
    failure_reason  VARCHAR(200),
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT payments_provider_ref_key UNIQUE (provider, provider_ref),
    CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT payments_amount_check CHECK (amount > 0 AND captured_amount >= 0),
    -- Money is captured exactly when the payment succeeded.
    CONSTRAINT payments_captured_check CHECK ((status = 'succeeded') = (captured_amount > 0))
);

-- At most one open payment per order.
CREATE UNIQUE INDEX payments_one_open_per_order ON payments (order_id)
    WHERE status IN ('pending', 'requires_action');
-- An order's payments, with the order.
CREATE INDEX payments_order_id_idx ON payments (order_id);

SELECT diesel_manage_updated_at('payments');

COMMENT ON TABLE payments IS 'Attempts to pay orders: one row per intent at a payment provider.';
COMMENT ON COLUMN payments.id IS 'Surrogate key.';
COMMENT ON COLUMN payments.order_id IS 'The order paid.';
COMMENT ON COLUMN payments.provider IS 'Which provider (test: the test gateway).';
COMMENT ON COLUMN payments.provider_ref IS 'The intent''s id at the provider; unique per provider.';
COMMENT ON COLUMN payments.status IS 'pending, requires_action, succeeded (captured), failed (declined) or cancelled.';
COMMENT ON COLUMN payments.amount IS 'What the intent asks for: the order''s total when it was created.';
COMMENT ON COLUMN payments.currency IS 'ISO 4217 code.';
COMMENT ON COLUMN payments.client_secret IS 'Lets the shopper''s browser confirm this intent at the provider; shown to the order''s owner only.';
COMMENT ON COLUMN payments.confirm_url IS 'Where the shopper confirms it.';
COMMENT ON COLUMN payments.captured_amount IS 'What the provider captured (0 until it succeeded).';
COMMENT ON COLUMN payments.requires_review IS 'Captured, but not what the order charges: the order stays unpaid until staff look.';
COMMENT ON COLUMN payments.failure_reason IS 'Why the provider declined it, in its words.';
COMMENT ON COLUMN payments.created_at IS 'When the intent was created.';
COMMENT ON COLUMN payments.updated_at IS 'Last change; kept by the set_updated_at trigger.';
