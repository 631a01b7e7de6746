//! Catalogue reads from a streaming replica, with the primary as the fallback.
//!
//! Anonymous catalogue reads may be a moment stale, so they go to the replica while it is
//! healthy: reachable, quick to hand out a connection (`DB_REPLICA_TIMEOUT_MS`) and no
//! more than `DB_REPLICA_MAX_LAG_MS` behind the primary. A background probe measures
//! that four times per allowed lag (see `staleness`); its verdict expires `max_lag` after
//! the moment it vouches for, so a probe that falls behind makes the replica unused, never
//! staler. A read that fails on the replica marks it down and is served by the primary
//! instead, so a client sees no error, only the primary's answer.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};

use super::blocking::run_blocking;
use super::error::DbError;
use super::pool::{pool_state, DbPool};
use super::staleness::{parse_lsn, probe_interval, WalHistory};
use crate::telemetry::{Metrics, PoolState, PRIMARY, REPLICA};

/// What `/health/ready` says of the replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaHealth {
    /// No replica is configured.
    None,
    Up,
    /// Reachable, but not known to be within the allowed lag: further behind, or not
    /// measured again in time.
    Lagging,
    Down,
}

impl ReplicaHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Up => "up",
            Self::Lagging => "lagging",
            Self::Down => "down",
        }
    }
}

/// The probe's last word: `Up` holds until `fresh_until` only.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    health: ReplicaHealth,
    fresh_until: Instant,
}

impl Verdict {
    fn not_up(health: ReplicaHealth) -> Self {
        Self {
            health,
            fresh_until: Instant::now(),
        }
    }
}

struct Replica {
    pool: DbPool,
    max_lag: Duration,
    verdict: Mutex<Verdict>,
}

impl Replica {
    /// `Up` only while the last verdict still holds: a verdict the probe has not renewed
    /// in time no longer bounds the replica's lag.
    fn health(&self) -> ReplicaHealth {
        let verdict = *self.verdict.lock().unwrap_or_else(PoisonError::into_inner);
        match verdict.health {
            ReplicaHealth::Up if Instant::now() >= verdict.fresh_until => ReplicaHealth::Lagging,
            health => health,
        }
    }

    fn set_verdict(&self, verdict: Verdict) {
        let previous = self.health();
        *self.verdict.lock().unwrap_or_else(PoisonError::into_inner) = verdict;
        let health = self.health();
        if previous != health {
            tracing::warn!(
                from = previous.as_str(),
                to = health.as_str(),
                "replica health changed"
            );
        }
    }
}

/// Where anonymous catalogue reads are served: the replica when healthy, else the
/// primary. Cheap to clone.
#[derive(Clone)]
pub struct CatalogueReads {
    primary: DbPool,
    replica: Option<Arc<Replica>>,
    metrics: Metrics,
}

impl CatalogueReads {
    /// Every read from the primary.
    pub fn primary_only(primary: DbPool, metrics: Metrics) -> Self {
        Self {
            primary,
            replica: None,
            metrics,
        }
    }

    /// Reads from `replica` while it is healthy; starts the probe that decides that. The
    /// replica counts as down until the first probe has measured it.
    pub fn with_replica(
        primary: DbPool,
        replica: DbPool,
        max_lag: Duration,
        metrics: Metrics,
    ) -> Self {
        let replica = Arc::new(Replica {
            pool: replica,
            max_lag,
            verdict: Mutex::new(Verdict::not_up(ReplicaHealth::Down)),
        });
        spawn_probe(primary.clone(), Arc::downgrade(&replica));
        Self {
            primary,
            replica: Some(replica),
            metrics,
        }
    }

    pub fn replica_health(&self) -> ReplicaHealth {
        self.replica
            .as_ref()
            .map_or(ReplicaHealth::None, |replica| replica.health())
    }

    /// The replica pool's state, for the pool gauges; `None` without a replica.
    pub fn replica_pool_state(&self) -> Option<PoolState> {
        self.replica
            .as_ref()
            .map(|replica| pool_state(&replica.pool))
    }

    /// Runs `work` on the blocking pool with a connection to the replica if it is
    /// healthy, else to the primary. A replica that cannot give a connection in time, or
    /// whose query fails in a way a retry may cure, is marked down and `work` runs again
    /// on the primary.
    pub async fn with_conn<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Fn(&mut PgConnection) -> QueryResult<T> + Send + 'static,
    {
        let reads = self.clone();
        run_blocking(move || {
            if let Some(replica) = reads.healthy_replica() {
                match replica.pool.get() {
                    Ok(mut conn) => match work(&mut conn).map_err(DbError::from) {
                        Err(DbError::Unavailable(cause)) => {
                            tracing::warn!(%cause, "replica read failed; reading from the primary");
                            replica.set_verdict(Verdict::not_up(ReplicaHealth::Down));
                        }
                        result => {
                            reads.metrics.observe_catalogue_read(REPLICA);
                            return result;
                        }
                    },
                    Err(err) => {
                        tracing::warn!(%err, "no replica connection in time; reading from the primary");
                        replica.set_verdict(Verdict::not_up(ReplicaHealth::Down));
                    }
                }
            }
            let mut conn = reads.primary.get()?;
            reads.metrics.observe_catalogue_read(PRIMARY);
            Ok(work(&mut conn)?)
        })
        .await?
    }

    fn healthy_replica(&self) -> Option<&Replica> {
        self.replica
            .as_deref()
            .filter(|replica| replica.health() == ReplicaHealth::Up)
    }
}

/// Measures the replica's health every `probe_interval(max_lag)` until the reads it
/// serves are dropped.
fn spawn_probe(primary: DbPool, replica: Weak<Replica>) {
    std::thread::spawn(move || {
        let Some(max_lag) = replica.upgrade().map(|replica| replica.max_lag) else {
            return;
        };
        let mut history = WalHistory::new(max_lag);
        while let Some(replica) = replica.upgrade() {
            let verdict = probe(&primary, &replica, &mut history);
            replica.set_verdict(verdict);
            drop(replica);
            std::thread::sleep(probe_interval(max_lag));
        }
    });
}

#[derive(QueryableByName)]
struct Replayed {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
    #[diesel(sql_type = Nullable<Text>)]
    lsn: Option<String>,
}

fn probe(primary: &DbPool, replica: &Replica, history: &mut WalHistory) -> Verdict {
    // Taken before asking: every commit visible by then is below the position the primary
    // answers. The insert position, not pg_current_wal_lsn(): an asynchronous commit is
    // visible before its WAL is written.
    let asked = Instant::now();
    let primary_lsn = primary.get().ok().and_then(|mut conn| {
        diesel::select(diesel::dsl::sql::<Text>(
            "pg_current_wal_insert_lsn()::text",
        ))
        .get_result::<String>(&mut conn)
        .ok()
    });
    // Unknown if the primary cannot be asked: then nothing new vouches for the replica,
    // and it goes unused once what was recorded has run out.
    if let Some(lsn) = primary_lsn.as_deref().and_then(parse_lsn) {
        history.record(asked, lsn);
    }
    let Ok(mut conn) = replica.pool.get() else {
        return Verdict::not_up(ReplicaHealth::Down);
    };
    let replayed = diesel::sql_query(
        "SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_replay_lsn()::text AS lsn",
    )
    .get_result::<Replayed>(&mut conn);
    let fresh_until = match replayed {
        Err(_) => return Verdict::not_up(ReplicaHealth::Down),
        // A server not in recovery is its own primary.
        Ok(Replayed {
            in_recovery: false, ..
        }) => Some(asked + replica.max_lag),
        Ok(Replayed { lsn, .. }) => lsn
            .as_deref()
            .and_then(parse_lsn)
            .and_then(|replayed| history.fresh_until(replayed)),
    };
    match fresh_until {
        Some(fresh_until) if fresh_until > Instant::now() => Verdict {
            health: ReplicaHealth::Up,
            fresh_until,
        },
        _ => Verdict::not_up(ReplicaHealth::Lagging),
    }
}
