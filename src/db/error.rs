//! What can go wrong before serving: reaching the database, creating it, migrating it.

/// Why the database could not be reached or brought up to date. Messages name the server
/// and what to check, because they are what an operator reads when the start fails.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL at {host} (database {database:?}): {reason}. Check that the server is running and that DATABASE_URL points at it.")]
    Unreachable {
        host: String,
        database: String,
        reason: String,
    },
    #[error("database {database:?} does not exist on the PostgreSQL server at {host}; `storefront migrate run` (or `storefront serve`) creates it")]
    MissingDatabase { host: String, database: String },
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("{0}. Restore the SQL that was applied (make changes in a new migration), or set MIGRATIONS_ALLOW_MODIFIED=true to start anyway.")]
    ModifiedMigrations(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}
