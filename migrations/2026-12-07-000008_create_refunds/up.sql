-- Money given back on orders' payments. A refund is recorded (pending) in the transaction
-- that decides it (an admin's refund, a cancel, a capture that came too late), and sent
-- to the provider after commit with an idempotency key of its own, so a crash or an
-- outage between the two is finished by the next attempt and never refunds twice.
CREATE TABLE refunds (
    id              SERIAL        PRIMARY KEY,
    order_id        INTEGER       NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_id      INTEGER       NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    amount          NUMERIC(18,2) NOT NULL,
    reason          VARCHAR(500),
    source          VARCHAR(20)   NOT NULL,
    status          VARCHAR(20)   NOT NULL DEFAULT 'pending',
    provider_ref    VARCHAR(100),
    idempotency_key VARCHAR(255),
    requested_by    INTEGER       REFERENCES users (id) ON DELETE SET NULL,
    next_attempt_at TIMESTAMPTZ   NOT NULL DEFAULT now() + interval '30 seconds',
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT refunds_amount_check CHECK (amount > 0),
    CONSTRAINT refunds_source_check CHECK (source IN ('admin', 'cancel', 'late_capture')),
    CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- An admin's retried request (same Idempotency-Key) finds the refund it made.
    CONSTRAINT refunds_order_id_idempotency_key_key UNIQUE (order_id, idempotency_key)
);

-- A cancel, or a capture that came too late, gives a payment's money back once.
CREATE UNIQUE INDEX refunds_one_automatic_per_payment ON refunds (payment_id, source)
    WHERE source <> 'admin';
-- Refunds not yet confirmed by the provider, for the reconciliation job.
CREATE INDEX refunds_pending_idx ON refunds (next_attempt_at) WHERE status = 'pending';
CREATE INDEX refunds_order_id_idx ON refunds (order_id);
CREATE INDEX refunds_payment_id_idx ON refunds (payment_id);
CREATE INDEX refunds_requested_by_idx ON refunds (requested_by);

SELECT diesel_manage_updated_at('refunds');

-- Open payments are settled by a reconciliation job when neither the shopper's return nor
-- a webhook has settled them; an instance claims one by moving this forward.
ALTER TABLE payments ADD COLUMN next_check_at TIMESTAMPTZ NOT NULL DEFAULT now() + interval '30 seconds';
CREATE INDEX payments_open_next_check_idx ON payments (next_check_at)
    WHERE status IN ('pending', 'requires_action');
COMMENT ON COLUMN payments.next_check_at IS 'While open: when the reconciliation job next asks the provider about it.';

COMMENT ON TABLE refunds IS 'Money given back on a payment: recorded when decided, then sent to the provider.';
COMMENT ON COLUMN refunds.id IS 'Surrogate key.';
COMMENT ON COLUMN refunds.order_id IS 'The order refunded.';
COMMENT ON COLUMN refunds.payment_id IS 'The payment the money goes back from.';
COMMENT ON COLUMN refunds.amount IS 'How much.';
COMMENT ON COLUMN refunds.reason IS 'Why, as staff gave it (or the cancel''s reason).';
COMMENT ON COLUMN refunds.source IS 'admin (a refund staff asked for), cancel (the order was cancelled), or late_capture (captured after the order stopped awaiting payment).';
COMMENT ON COLUMN refunds.status IS 'pending (not yet confirmed by the provider), succeeded, or failed (the provider refused it).';
COMMENT ON COLUMN refunds.provider_ref IS 'The refund''s id at the provider, once made.';
COMMENT ON COLUMN refunds.idempotency_key IS 'The Idempotency-Key of the admin request that made it.';
COMMENT ON COLUMN refunds.requested_by IS 'The admin who asked for it; null for the service''s own.';
COMMENT ON COLUMN refunds.next_attempt_at IS 'While pending: when the reconciliation job next sends it.';
COMMENT ON COLUMN refunds.created_at IS 'When it was decided.';
COMMENT ON COLUMN refunds.updated_at IS 'Last change; kept by the set_updated_at trigger.';
