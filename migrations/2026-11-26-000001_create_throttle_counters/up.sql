-- Attempt counters of the login and registration throttles, shared by every instance of
-- the service (a per-process count would let N instances allow N times the attempts).
-- UNLOGGED: not written to the WAL, so counting costs no fsync and is not replicated; a
-- crash empties the table, which only resets the counts.
CREATE UNLOGGED TABLE throttle_counters (
    key        TEXT        PRIMARY KEY,
    attempts   INTEGER     NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT throttle_counters_attempts_check CHECK (attempts >= 0)
);

-- Lets the sweep find expired counters without scanning the table.
CREATE INDEX throttle_counters_expires_at_idx ON throttle_counters (expires_at);

COMMENT ON TABLE throttle_counters IS 'Login and registration attempts per key within a window; rows past expires_at count for nothing and are swept.';
COMMENT ON COLUMN throttle_counters.key IS 'What is counted: login:<name>, account:<user id>, address:<client IP> or registration:<client IP>.';
COMMENT ON COLUMN throttle_counters.attempts IS 'Attempts counted in the current window (a successful login gives its attempt back).';
COMMENT ON COLUMN throttle_counters.expires_at IS 'End of the current window; the next attempt after it starts a new one.';
