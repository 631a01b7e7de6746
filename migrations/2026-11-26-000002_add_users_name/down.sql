DROP TRIGGER users_default_name ON users;
DROP FUNCTION users_default_name();
ALTER TABLE users DROP COLUMN name;
