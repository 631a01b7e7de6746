-- Shop accounts. Customers register themselves; staff are users with is_admin set.
CREATE TABLE users (
    id            SERIAL PRIMARY KEY,
    username      VARCHAR(50)  NOT NULL,
    email         VARCHAR(255) NOT NULL,
    password_hash VARCHAR      NOT NULL,
    is_admin      BOOLEAN      NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username)
);

-- Two addresses differing only in case reach the same mailbox, so uniqueness (and login by
-- email) compares lower(email). The API maps this constraint name to 409 already_exists.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_created_at_idx ON users (created_at);

SELECT diesel_manage_updated_at('users');

COMMENT ON TABLE users IS 'Shop accounts: customers and staff (is_admin).';
COMMENT ON COLUMN users.username IS 'Public login name, unique; 3 to 50 letters, digits, _ - .';
COMMENT ON COLUMN users.email IS 'Login and contact address, unique case-insensitively.';
COMMENT ON COLUMN users.password_hash IS 'argon2id PHC string; never leaves the database layer.';
COMMENT ON COLUMN users.is_admin IS 'Staff flag: may create, edit and archive products.';
COMMENT ON COLUMN users.id IS 'Surrogate key; the user id in the API.';
COMMENT ON COLUMN users.created_at IS 'When the account was registered.';
COMMENT ON COLUMN users.updated_at IS 'Last change to the row; kept by the set_updated_at trigger.';
