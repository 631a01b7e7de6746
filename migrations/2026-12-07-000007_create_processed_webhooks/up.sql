-- The webhooks a provider sent that have been applied, by their `webhook-id`: written in
-- the transaction that applies one, so a delivery seen before (providers deliver at least
-- once) changes nothing, and one whose application failed is applied when it comes again.
CREATE TABLE processed_webhooks (
    provider    VARCHAR(20)  NOT NULL,
    webhook_id  VARCHAR(200) NOT NULL,
    received_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, webhook_id)
);

COMMENT ON TABLE processed_webhooks IS 'Provider webhooks already applied, by webhook-id: the inbox that makes a repeated delivery a no-op.';
COMMENT ON COLUMN processed_webhooks.provider IS 'Which provider sent it.';
COMMENT ON COLUMN processed_webhooks.webhook_id IS 'Its webhook-id header (the provider''s event id).';
COMMENT ON COLUMN processed_webhooks.received_at IS 'When it was applied.';
