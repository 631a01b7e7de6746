//! The database layer's plumbing: the connection pool and schema migrations.
//!
//! Queries themselves live in `crate::repository`; this module only hands out connections
//! and keeps the schema current.

mod migrations;
mod pool;

pub use migrations::{
    connect_creating_database, embedded_migrations_against, ensure_database_exists,
    migration_status, prepare_database, redo_last_migration, revert_last_migration,
    run_pending_migrations, MigrationState, MIGRATIONS,
};
pub use pool::{
    build_pool, build_pool_lazily, connection_url, establish, pool_state, DbConnection, DbPool,
    PoolState,
};

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
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}
