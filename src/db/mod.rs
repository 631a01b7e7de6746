//! The database layer's plumbing: the connection pool, the blocking helper handlers
//! reach it through, and schema migrations.
//!
//! Queries themselves live in the repository; this module only hands out connections
//! and keeps the schema current.

mod blocking;
mod checksums;
mod error;
mod migrations;
mod pool;
mod replica;
mod roles;
mod schema_state;
mod staleness;

pub use blocking::{run_blocking, with_conn};
pub use error::{is_transient, DbError};

pub use migrations::{
    check_unmodified, connect_creating_database, embedded_migrations_against,
    ensure_database_exists, migration_status, prepare_database, redo_last_migration,
    revert_last_migration, run_pending_migrations, MigrationState, MIGRATIONS,
};
pub use pool::{
    build_pool, build_pool_lazily, connection_url, establish, pool_state, DbConnection, DbPool,
};
pub use replica::{CatalogueReads, ReplicaHealth};
pub use roles::{grant_app_role, serving_role_warning};
pub use schema_state::SchemaState;
