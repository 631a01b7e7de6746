//! Queries on `throttle_counters`: attempt counts shared by every instance.
//!
//! An attempt is taken before it is made, atomically for all its keys: one upsert counts
//! it against every key and returns the new counts; if any key is over its limit the
//! transaction rolls back and nothing was counted. Concurrent attempts on one key queue
//! on its row lock, so N instances allow exactly the limit in total.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Integer, Text};

/// One thing an attempt counts against.
#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    pub key: String,
    /// Attempts allowed per window.
    pub max: u32,
    pub window: Duration,
}

#[derive(QueryableByName, Debug)]
struct Counted {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Double)]
    secs_left: f64,
}

/// Why an attempt was refused.
#[derive(Debug, PartialEq)]
pub enum TakeError {
    /// A key is over its limit until its window ends, this far from now.
    Exhausted {
        retry_after: Duration,
    },
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for TakeError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Database(err)
    }
}

/// Counts one attempt against every counter, or against none when any is exhausted.
pub fn take(conn: &mut PgConnection, counters: &[Counter]) -> Result<(), TakeError> {
    // Rows are locked in key order, so two attempts sharing keys cannot deadlock.
    let mut counters: Vec<&Counter> = counters.iter().collect();
    counters.sort_by(|a, b| a.key.cmp(&b.key));
    counters.dedup_by(|a, b| a.key == b.key);
    let keys: Vec<&str> = counters.iter().map(|c| c.key.as_str()).collect();
    let windows: Vec<f64> = counters.iter().map(|c| c.window.as_secs_f64()).collect();
    conn.transaction(|conn| {
        let counted: Vec<Counted> = diesel::sql_query(
            "INSERT INTO throttle_counters AS c (key, attempts, expires_at)
             SELECT key, 1, now() + make_interval(secs => window_secs)
             FROM unnest($1::text[], $2::float8[]) AS t(key, window_secs)
             ORDER BY key
             ON CONFLICT (key) DO UPDATE SET
                 attempts = CASE WHEN c.expires_at <= now() THEN 1 ELSE c.attempts + 1 END,
                 expires_at = CASE WHEN c.expires_at <= now()
                                   THEN excluded.expires_at ELSE c.expires_at END
             RETURNING c.key, c.attempts,
                 EXTRACT(EPOCH FROM c.expires_at - now())::float8 AS secs_left",
        )
        .bind::<Array<Text>, _>(&keys)
        .bind::<Array<Double>, _>(&windows)
        .load(conn)?;
        let exhausted = counted
            .iter()
            .filter(|row| {
                counters
                    .iter()
                    .any(|c| c.key == row.key && i64::from(row.attempts) > i64::from(c.max))
            })
            .map(|row| row.secs_left)
            .fold(None, |longest: Option<f64>, secs| {
                Some(longest.map_or(secs, |l| l.max(secs)))
            });
        match exhausted {
            Some(secs) => Err(TakeError::Exhausted {
                retry_after: Duration::from_secs_f64(secs.max(0.0)),
            }),
            None => Ok(()),
        }
    })
}

/// Forgets `cleared` keys and gives one attempt back to each of `returned` (a successful
/// login clears its name and account, and does not count against its address).
pub fn give_back(
    conn: &mut PgConnection,
    cleared: &[String],
    returned: &[String],
) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM throttle_counters WHERE key = ANY($1)")
        .bind::<Array<Text>, _>(cleared)
        .execute(conn)?;
    diesel::sql_query(
        "UPDATE throttle_counters SET attempts = attempts - 1
         WHERE key = ANY($1) AND attempts > 0",
    )
    .bind::<Array<Text>, _>(returned)
    .execute(conn)?;
    Ok(())
}

/// Deletes up to `limit` counters whose window has ended; returns how many. The sweep
/// job's round: counters held by another round or a login are skipped, not waited for.
pub fn sweep_expired(conn: &mut PgConnection, limit: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM throttle_counters WHERE key IN (
             SELECT key FROM throttle_counters WHERE expires_at <= now()
             LIMIT $1
             FOR UPDATE SKIP LOCKED)",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .execute(conn)
}
