//! Schema migrations, embedded in the binary so a deployed `storefront` needs no
//! `migrations/` directory and no diesel_cli.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::checksums::{self, Modified};
use super::error::DbError;
use super::pool::establish;
use crate::config::DatabaseUrl;

/// Every migration under `migrations/` (build.rs makes cargo re-embed them when they change).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Key of the session-level advisory lock that serialises migration runs, so several
/// instances starting together apply each migration exactly once.
const MIGRATION_LOCK_KEY: i64 = 0x5354_4f52_4546_524e; // "STOREFRN"

/// Creates the database if it is missing, then applies pending migrations.
/// Returns the versions applied by this call (empty when the schema was current).
/// Refuses (`DbError::ModifiedMigrations`) when an applied migration was modified since,
/// unless `allow_modified`.
pub fn prepare_database(url: &DatabaseUrl, allow_modified: bool) -> Result<Vec<String>, DbError> {
    let mut conn = connect_creating_database(url)?;
    check_unmodified(&mut conn, allow_modified)?;
    run_pending_migrations(&mut conn)
}

/// Connects to the database in `url`, creating it first if that is what the connection
/// lacked. The target is tried first, so a role allowed to reach only its own database
/// never needs the `postgres` maintenance database.
pub fn connect_creating_database(url: &DatabaseUrl) -> Result<PgConnection, DbError> {
    match establish(url) {
        Ok(conn) => Ok(conn),
        // Whatever the failure was, the first error is the one worth reporting when
        // creating the database does not help (server down, wrong password, ...).
        Err(first) => match ensure_database_exists(url) {
            Ok(()) => establish(url),
            Err(_) => Err(first),
        },
    }
}

/// Creates the database named in `url` unless it exists. Connects to the server's
/// `postgres` database to do so, and tolerates another instance creating it first.
pub fn ensure_database_exists(url: &DatabaseUrl) -> Result<(), DbError> {
    let name = url.database_name();
    let mut admin = establish(&url.with_database("postgres"))?;
    if database_exists(&mut admin, name)? {
        return Ok(());
    }
    let create = format!("CREATE DATABASE {}", quote_identifier(name));
    match diesel::sql_query(create).execute(&mut admin) {
        Ok(_) => {
            tracing::info!(database = name, "created database");
            Ok(())
        }
        // A concurrent CREATE DATABASE of the same name won the race: that is success.
        Err(_) if database_exists(&mut admin, name)? => Ok(()),
        Err(err) => Err(err.into()),
    }
}

fn database_exists(conn: &mut PgConnection, name: &str) -> QueryResult<bool> {
    diesel::select(
        diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = ",
        )
        .bind::<Text, _>(name)
        .sql(")"),
    )
    .get_result(conn)
}

/// `"name"` with embedded quotes doubled, as PostgreSQL quotes identifiers.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Applies pending migrations while holding the migration advisory lock.
/// Records the checksum of each one applied (and adopts those applied without one).
pub fn run_pending_migrations(conn: &mut PgConnection) -> Result<Vec<String>, DbError> {
    with_migration_lock(conn, |conn| {
        let applied: Vec<String> = conn
            .run_pending_migrations(MIGRATIONS)?
            .iter()
            .map(ToString::to_string)
            .collect();
        checksums::record(conn)?;
        Ok(applied)
    })
}

/// Applied migrations whose `up.sql` changed since they were applied: an error naming
/// each, unless `allow` (then a WARN each).
pub fn check_unmodified(conn: &mut PgConnection, allow: bool) -> Result<(), DbError> {
    let modified = checksums::modified(conn)?;
    if modified.is_empty() {
        return Ok(());
    }
    let described: Vec<String> = modified.iter().map(describe).collect();
    if allow {
        for line in &described {
            tracing::warn!("{line} (started anyway: MIGRATIONS_ALLOW_MODIFIED=true)");
        }
        return Ok(());
    }
    Err(DbError::ModifiedMigrations(described.join("; ")))
}

fn describe(modified: &Modified) -> String {
    format!(
        "migration {} was modified after it was applied: up.sql SHA-256 recorded {}, embedded {}",
        name_of(&modified.version),
        modified.recorded,
        modified.embedded
    )
}

/// The migration's full name (`2026-11-22-170001_create_users`) for its version.
fn name_of(version: &str) -> String {
    embedded_migrations_against(&[])
        .ok()
        .and_then(|all| {
            all.into_iter()
                .map(|m| m.name)
                .find(|name| name.replace('-', "").starts_with(version))
        })
        .unwrap_or_else(|| version.to_owned())
}

/// Reverts the most recently applied migration; returns its version.
pub fn revert_last_migration(conn: &mut PgConnection) -> Result<String, DbError> {
    with_migration_lock(conn, |conn| {
        let version = conn.revert_last_migration(MIGRATIONS)?.to_string();
        checksums::forget(conn, &version)?;
        Ok(version)
    })
}

/// Reverts the most recent migration and applies it again (checks its down.sql).
pub fn redo_last_migration(conn: &mut PgConnection) -> Result<String, DbError> {
    with_migration_lock(conn, |conn| {
        let version = conn.revert_last_migration(MIGRATIONS)?.to_string();
        checksums::forget(conn, &version)?;
        conn.run_next_migration(MIGRATIONS)?;
        checksums::record(conn)?;
        Ok(version)
    })
}

/// One embedded migration and whether the database has it (and, if so, whether its
/// `up.sql` changed since it was applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
    pub modified: bool,
}

pub fn migration_status(conn: &mut PgConnection) -> Result<Vec<MigrationState>, DbError> {
    let applied: Vec<String> = conn
        .applied_migrations()
        .map_err(|err| DbError::Migration(err.to_string()))?
        .iter()
        .map(ToString::to_string)
        .collect();
    let modified: Vec<String> = checksums::modified(conn)?
        .into_iter()
        .map(|m| m.version)
        .collect();
    let mut states = embedded_migrations_against(&applied)?;
    for state in &mut states {
        state.modified = modified
            .iter()
            .any(|version| state.name.replace('-', "").starts_with(version.as_str()));
    }
    Ok(states)
}

/// Every embedded migration, each marked applied when its version is in `applied`.
pub fn embedded_migrations_against(applied: &[String]) -> Result<Vec<MigrationState>, DbError> {
    let migrations = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|err| DbError::Migration(err.to_string()))?;
    Ok(migrations
        .iter()
        .map(|migration| {
            let name = migration.name();
            MigrationState {
                applied: applied.contains(&name.version().to_string()),
                modified: false,
                name: name.to_string(),
            }
        })
        .collect())
}

type MigrationResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn with_migration_lock<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> MigrationResult<T>,
) -> Result<T, DbError> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)?;
    let outcome = work(conn);
    // Released even when the work failed; closing the connection would release it too.
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)?;
    outcome.map_err(|err| DbError::Migration(err.to_string()))
}
