-- Guest carts cannot exist without these columns: they (and their lines) go first.
DELETE FROM carts WHERE user_id IS NULL;
DROP INDEX carts_guest_expires_at_idx;
ALTER TABLE carts
    DROP CONSTRAINT carts_guest_token_hash_key,
    DROP CONSTRAINT carts_guest_token_hash_check,
    DROP CONSTRAINT carts_guest_open_check,
    DROP CONSTRAINT carts_guest_expires_at_check,
    DROP CONSTRAINT carts_owner_check,
    DROP COLUMN guest_expires_at,
    DROP COLUMN guest_token_hash,
    ALTER COLUMN user_id SET NOT NULL;
COMMENT ON COLUMN carts.user_id IS 'Owner; deleting the user deletes their carts and orders.';
COMMENT ON COLUMN throttle_counters.key IS 'What is counted: login:<name>, account:<user id>, address:<client IP> or registration:<client IP>.';
