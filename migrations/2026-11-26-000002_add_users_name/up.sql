-- The name a shop greets its customer with and prefills a delivery form from. Existing
-- accounts are named after their username, and so is a new one registered without a
-- name: the trigger fills it before the NOT NULL check, so every writer (the API, the
-- seed, an operator's INSERT) gets the same default.
ALTER TABLE users ADD COLUMN name VARCHAR(255);
UPDATE users SET name = username;
ALTER TABLE users ALTER COLUMN name SET NOT NULL;

CREATE FUNCTION users_default_name() RETURNS trigger AS $$
BEGIN
    NEW.name := coalesce(NEW.name, NEW.username);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_default_name BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_default_name();

COMMENT ON COLUMN users.name IS 'Display name, 1 to 255 characters, trimmed; the username unless the user gives one.';
