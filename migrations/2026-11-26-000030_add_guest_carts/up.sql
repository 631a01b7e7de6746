-- Guest carts: a cart filled before the shopper has an account. It is a row of `carts`
-- like any other (so every cart query, line and constraint serves both), owned by a
-- cart token instead of a user: user_id is NULL and the token's SHA-256 and expiry are
-- set. Logging in with the token merges the lines into the user's open cart and deletes
-- the guest cart (its lines go with it), which kills the token.
ALTER TABLE carts
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN guest_token_hash BYTEA,
    ADD COLUMN guest_expires_at TIMESTAMPTZ,
    -- Exactly one owner: a user, or a cart token.
    ADD CONSTRAINT carts_owner_check CHECK ((user_id IS NULL) = (guest_token_hash IS NOT NULL)),
    -- A guest cart always has an expiry; a user's cart never has one.
    ADD CONSTRAINT carts_guest_expires_at_check CHECK ((guest_token_hash IS NULL) = (guest_expires_at IS NULL)),
    -- Checkout needs an account: a guest cart is never an order.
    ADD CONSTRAINT carts_guest_open_check CHECK (user_id IS NOT NULL OR status = 'open'),
    ADD CONSTRAINT carts_guest_token_hash_check CHECK (octet_length(guest_token_hash) = 32),
    -- A presented token names at most one cart (user carts, NULL here, are not compared).
    ADD CONSTRAINT carts_guest_token_hash_key UNIQUE (guest_token_hash);

-- Lets the sweep find expired guest carts without scanning every cart and order.
CREATE INDEX carts_guest_expires_at_idx ON carts (guest_expires_at)
    WHERE guest_expires_at IS NOT NULL;

COMMENT ON COLUMN carts.user_id IS 'Owner; deleting the user deletes their carts and orders. NULL for a guest cart (owned by its token).';
COMMENT ON COLUMN carts.guest_token_hash IS 'Guest carts only: SHA-256 of the 256-bit random cart token (X-Cart-Token); the token itself is never stored.';
COMMENT ON COLUMN carts.guest_expires_at IS 'Guest carts only: the token stops working at this time and the cart is swept (with its lines).';

-- Guest cart creation is throttled per client address like registrations.
COMMENT ON COLUMN throttle_counters.key IS 'What is counted: login:<name>, account:<user id>, address:<client IP>, registration:<client IP> or guest-cart:<client IP>.';
