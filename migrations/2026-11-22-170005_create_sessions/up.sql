-- Server-side login sessions, so logout and revocation take effect at once. The bearer token
-- itself is never stored: only its SHA-256, so a leaked table cannot be replayed.
CREATE TABLE sessions (
    id         BIGSERIAL PRIMARY KEY,
    user_id    INTEGER     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_token_hash_check CHECK (octet_length(token_hash) = 32)
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- Lets a sweep delete expired sessions without scanning the table.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

COMMENT ON TABLE sessions IS 'Bearer-token login sessions; deleting a row logs that session out.';
COMMENT ON COLUMN sessions.id IS 'Surrogate key; BIGINT because every login adds a row.';
COMMENT ON COLUMN sessions.user_id IS 'The logged-in user; deleting the user ends their sessions.';
COMMENT ON COLUMN sessions.token_hash IS 'SHA-256 of the 256-bit random bearer token; the token itself is never stored.';
COMMENT ON COLUMN sessions.expires_at IS 'The token stops working at this time.';
COMMENT ON COLUMN sessions.created_at IS 'When the user logged in.';
