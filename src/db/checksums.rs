//! Migration checksums: the SHA-256 of each migration's `up.sql` (computed by build.rs
//! from the bytes `embed_migrations!` embeds) is recorded when the migration is applied,
//! so an `up.sql` edited after it was applied is noticed instead of leaving databases
//! created before and after the edit silently different. Diesel records only versions.
//!
//! Records live in their own schema, `storefront_meta`, next to Diesel's
//! `__diesel_schema_migrations`, so `diesel print-schema` (public only) never sees them.
//! Migrations that diesel_cli applied are adopted (recorded with today's checksum) at the
//! next start; one re-applied since it was recorded (its `run_on` changed: reverted and
//! run again) is adopted afresh.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};

include!(concat!(env!("OUT_DIR"), "/migration_checksums.rs"));

/// The embedded checksum of a migration version.
pub fn embedded(version: &str) -> Option<&'static str> {
    EMBEDDED_CHECKSUMS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sha256)| *sha256)
}

/// An applied migration whose `up.sql` is no longer the one that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modified {
    pub version: String,
    pub recorded: String,
    pub embedded: String,
}

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Timestamp)]
    run_on: NaiveDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    recorded: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    recorded_run_on: Option<NaiveDateTime>,
}

impl Applied {
    /// Recorded for this application of the migration (not an earlier one, reverted).
    fn record_is_current(&self) -> bool {
        self.recorded.is_some() && self.recorded_run_on == Some(self.run_on)
    }
}

/// Applied migrations with their records; empty when nothing was ever applied.
fn applied(conn: &mut PgConnection) -> QueryResult<Vec<Applied>> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        diesel: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        records: bool,
    }
    let exists: Exists = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS diesel,
                to_regclass('storefront_meta.migration_checksums') IS NOT NULL AS records",
    )
    .get_result(conn)?;
    if !exists.diesel {
        return Ok(Vec::new());
    }
    let records = if exists.records {
        "LEFT JOIN storefront_meta.migration_checksums c USING (version)"
    } else {
        "LEFT JOIN (SELECT NULL::text AS version, NULL::text AS sha256,
                           NULL::timestamp AS applied_at) c USING (version)"
    };
    diesel::sql_query(format!(
        "SELECT m.version::text AS version, m.run_on, c.sha256 AS recorded,
                c.applied_at AS recorded_run_on
         FROM __diesel_schema_migrations m {records} ORDER BY m.version"
    ))
    .load(conn)
}

/// Applied migrations whose embedded `up.sql` differs from the one recorded when they
/// were applied.
pub fn modified(conn: &mut PgConnection) -> QueryResult<Vec<Modified>> {
    Ok(applied(conn)?
        .into_iter()
        .filter(Applied::record_is_current)
        .filter_map(|row| {
            let embedded = embedded(&row.version)?;
            let recorded = row.recorded?;
            (recorded != embedded).then(|| Modified {
                version: row.version,
                recorded,
                embedded: embedded.to_owned(),
            })
        })
        .collect())
}

/// Records the checksum of every applied migration that has no current record (just
/// applied, applied by diesel_cli, or re-applied). Call with the migration lock held.
pub fn record(conn: &mut PgConnection) -> QueryResult<usize> {
    conn.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS storefront_meta;
         CREATE TABLE IF NOT EXISTS storefront_meta.migration_checksums (
             version     VARCHAR(50) PRIMARY KEY,
             sha256      CHAR(64)    NOT NULL,
             applied_at  TIMESTAMP   NOT NULL,
             recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );
         COMMENT ON TABLE storefront_meta.migration_checksums IS
             'SHA-256 of each applied migration''s up.sql, and the run_on of the application it belongs to.';",
    )?;
    let mut recorded = 0;
    for row in applied(conn)?.iter().filter(|row| !row.record_is_current()) {
        let Some(sha256) = embedded(&row.version) else {
            continue; // applied by a newer build: its SQL is not ours to vouch for
        };
        recorded += diesel::sql_query(
            "INSERT INTO storefront_meta.migration_checksums (version, sha256, applied_at)
             VALUES ($1, $2, $3)
             ON CONFLICT (version) DO UPDATE
             SET sha256 = excluded.sha256, applied_at = excluded.applied_at, recorded_at = now()",
        )
        .bind::<Text, _>(&row.version)
        .bind::<Text, _>(sha256)
        .bind::<Timestamp, _>(row.run_on)
        .execute(conn)?;
    }
    Ok(recorded)
}

/// Forgets the record of a reverted migration.
pub fn forget(conn: &mut PgConnection, version: &str) -> QueryResult<()> {
    record(conn)?; // creates the table if this database has none yet
    diesel::sql_query("DELETE FROM storefront_meta.migration_checksums WHERE version = $1")
        .bind::<Text, _>(version)
        .execute(conn)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_has_the_checksum_of_its_up_sql() {
        use sha2::{Digest, Sha256};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let version: String = name.split('_').next().unwrap().replace('-', "");
            let up = std::fs::read(path.join("up.sql")).unwrap();
            let expected: String = Sha256::digest(&up)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(embedded(&version), Some(expected.as_str()), "{name}");
            seen += 1;
        }
        assert_eq!(seen, EMBEDDED_CHECKSUMS.len());
        assert_eq!(embedded("19990101000000"), None);
    }
}
