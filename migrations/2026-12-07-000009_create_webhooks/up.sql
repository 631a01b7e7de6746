-- Events for other systems (a transactional outbox) and the webhook endpoints they go to.
-- An event is written in the transaction of the change it reports, together with one
-- delivery per endpoint that wants it, so nothing is sent for a change that rolled back
-- and nothing committed is lost; every instance's relay claims due deliveries with
-- FOR UPDATE SKIP LOCKED.
CREATE TABLE events (
    id         VARCHAR(40)  PRIMARY KEY,
    type       VARCHAR(40)  NOT NULL,
    data       JSONB        NOT NULL,
    -- The moment of the write, not of the transaction's start: the events of one
    -- transaction keep their order.
    created_at TIMESTAMPTZ  NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_created_at_idx ON events (created_at);

CREATE TABLE webhook_endpoints (
    id                      SERIAL        PRIMARY KEY,
    url                     VARCHAR(2000) NOT NULL,
    description             VARCHAR(500),
    -- The event types it wants; empty: every type.
    events                  TEXT[]        NOT NULL DEFAULT '{}',
    enabled                 BOOLEAN       NOT NULL DEFAULT true,
    secret                  VARCHAR(100)  NOT NULL,
    previous_secret         VARCHAR(100),
    previous_secret_until   TIMESTAMPTZ,
    disabled_reason         VARCHAR(200),
    created_at              TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_previous_secret_check
        CHECK ((previous_secret IS NULL) = (previous_secret_until IS NULL)),
    CONSTRAINT webhook_endpoints_events_check CHECK (array_position(events, NULL) IS NULL)
);
SELECT diesel_manage_updated_at('webhook_endpoints');

CREATE TABLE webhook_deliveries (
    id               BIGSERIAL    PRIMARY KEY,
    endpoint_id      INTEGER      NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         VARCHAR(40)  NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status           VARCHAR(20)  NOT NULL DEFAULT 'pending',
    attempts         INTEGER      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ  DEFAULT now(),
    last_status_code INTEGER,
    last_error       VARCHAR(500),
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_endpoint_id_event_id_key UNIQUE (endpoint_id, event_id),
    CONSTRAINT webhook_deliveries_status_check
        CHECK (status IN ('pending', 'delivered', 'failed')),
    -- Only a pending delivery has a next attempt.
    CONSTRAINT webhook_deliveries_next_attempt_check
        CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The relay's probe: due deliveries, oldest first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- An endpoint's deliveries, newest first (keyset by id).
CREATE INDEX webhook_deliveries_endpoint_id_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event_id_idx ON webhook_deliveries (event_id);
SELECT diesel_manage_updated_at('webhook_deliveries');

COMMENT ON TABLE events IS 'Changes other systems care about, written in the transaction of the change (the outbox).';
COMMENT ON COLUMN events.id IS 'evt_ and 24 hex digits: the webhook-id of every delivery of it.';
COMMENT ON COLUMN events.type IS 'order.placed, order.paid, order.cancelled, order.refunded, order.fulfilled, product.created, product.updated, product.archived or stock.low.';
COMMENT ON COLUMN events.data IS 'Ids and states, not whole documents.';
COMMENT ON COLUMN events.created_at IS 'When the change happened.';
COMMENT ON TABLE webhook_endpoints IS 'Where staff want events sent.';
COMMENT ON COLUMN webhook_endpoints.id IS 'Surrogate key.';
COMMENT ON COLUMN webhook_endpoints.url IS 'Where deliveries are POSTed.';
COMMENT ON COLUMN webhook_endpoints.description IS 'What it is for, as staff wrote it.';
COMMENT ON COLUMN webhook_endpoints.events IS 'The event types it receives; empty: all of them.';
COMMENT ON COLUMN webhook_endpoints.enabled IS 'Whether new events are delivered to it.';
COMMENT ON COLUMN webhook_endpoints.secret IS 'whsec_ secret its deliveries are signed with (shown to staff once).';
COMMENT ON COLUMN webhook_endpoints.previous_secret IS 'The secret before the last rotation: still signs until previous_secret_until.';
COMMENT ON COLUMN webhook_endpoints.previous_secret_until IS 'When the previous secret stops signing (24 h after the rotation).';
COMMENT ON COLUMN webhook_endpoints.disabled_reason IS 'Why the service disabled it (a 410 Gone), if it did.';
COMMENT ON COLUMN webhook_endpoints.created_at IS 'When it was created.';
COMMENT ON COLUMN webhook_endpoints.updated_at IS 'Last change; kept by the set_updated_at trigger.';
COMMENT ON TABLE webhook_deliveries IS 'One event to one endpoint: its attempts and outcome.';
COMMENT ON COLUMN webhook_deliveries.id IS 'Surrogate key.';
COMMENT ON COLUMN webhook_deliveries.endpoint_id IS 'Where it goes.';
COMMENT ON COLUMN webhook_deliveries.event_id IS 'What it carries.';
COMMENT ON COLUMN webhook_deliveries.status IS 'pending (to be sent, again), delivered (a 2xx) or failed (every attempt failed, or the endpoint is gone).';
COMMENT ON COLUMN webhook_deliveries.attempts IS 'Attempts made so far.';
COMMENT ON COLUMN webhook_deliveries.next_attempt_at IS 'While pending: when the relay next sends it (moved on while an instance holds it).';
COMMENT ON COLUMN webhook_deliveries.last_status_code IS 'The endpoint''s last HTTP status; null when it did not answer.';
COMMENT ON COLUMN webhook_deliveries.last_error IS 'Why the last attempt failed, when it did.';
COMMENT ON COLUMN webhook_deliveries.delivered_at IS 'When a 2xx came.';
COMMENT ON COLUMN webhook_deliveries.created_at IS 'When the event was written.';
COMMENT ON COLUMN webhook_deliveries.updated_at IS 'Last change; kept by the set_updated_at trigger.';
