//! Catalogue reads from a streaming replica, with the primary as the fallback.
//!
//! Anonymous catalogue reads may be a moment stale, so they go to the replica while it is
//! healthy: reachable, quick to hand out a connection (`DB_REPLICA_TIMEOUT_MS`) and no
//! more than `DB_REPLICA_MAX_LAG_MS` behind the primary. A background probe measures
//! that twice a second; a read that fails on the replica marks it down and is served by
//! the primary instead, so a client sees no error, only the primary's answer.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::web;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Double, Nullable, Text};

use super::pool::{pool_state, DbPool};
use crate::error::ApiError;
use crate::telemetry::{Metrics, PoolState, PRIMARY, REPLICA};

/// How often the replica's lag is measured.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// What `/health/ready` says of the replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaHealth {
    /// No replica is configured.
    None,
    Up,
    /// Reachable, but further behind the primary than allowed.
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

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Up,
            2 => Self::Lagging,
            _ => Self::Down,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Up => 1,
            Self::Lagging => 2,
            Self::None | Self::Down => 0,
        }
    }
}

struct Replica {
    pool: DbPool,
    max_lag: Duration,
    health: AtomicU8,
}

impl Replica {
    fn health(&self) -> ReplicaHealth {
        ReplicaHealth::from_u8(self.health.load(Ordering::Acquire))
    }

    fn set_health(&self, health: ReplicaHealth) {
        let previous = ReplicaHealth::from_u8(self.health.swap(health.to_u8(), Ordering::AcqRel));
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
            health: AtomicU8::new(ReplicaHealth::Down.to_u8()),
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
    /// whose connection fails, is marked down and `work` runs again on the primary.
    pub async fn with_conn<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let reads = self.clone();
        web::block(move || {
            if let Some(replica) = reads.healthy_replica() {
                match replica.pool.get() {
                    Ok(mut conn) => match work(&mut conn) {
                        Err(ApiError::ServiceUnavailable(cause)) => {
                            tracing::warn!(%cause, "replica read failed; reading from the primary");
                            replica.set_health(ReplicaHealth::Down);
                        }
                        result => {
                            reads.metrics.observe_catalogue_read(REPLICA);
                            return result;
                        }
                    },
                    Err(err) => {
                        tracing::warn!(%err, "no replica connection in time; reading from the primary");
                        replica.set_health(ReplicaHealth::Down);
                    }
                }
            }
            let mut conn = reads.primary.get()?;
            reads.metrics.observe_catalogue_read(PRIMARY);
            work(&mut conn)
        })
        .await?
    }

    fn healthy_replica(&self) -> Option<&Replica> {
        self.replica
            .as_deref()
            .filter(|replica| replica.health() == ReplicaHealth::Up)
    }
}

/// Measures the replica's health every `PROBE_INTERVAL` until the reads it serves are
/// dropped.
fn spawn_probe(primary: DbPool, replica: Weak<Replica>) {
    std::thread::spawn(move || {
        while let Some(replica) = replica.upgrade() {
            let health = probe(&primary, &replica);
            replica.set_health(health);
            drop(replica);
            std::thread::sleep(PROBE_INTERVAL);
        }
    });
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Nullable<Double>)]
    lag_ms: Option<f64>,
}

fn probe(primary: &DbPool, replica: &Replica) -> ReplicaHealth {
    // Where the primary's WAL is now; unknown if the primary is down (then the replica
    // is judged by its own answer alone).
    let primary_lsn: Option<String> = primary.get().ok().and_then(|mut conn| {
        diesel::select(diesel::dsl::sql::<Text>("pg_current_wal_lsn()::text"))
            .get_result(&mut conn)
            .ok()
    });
    let Ok(mut conn) = replica.pool.get() else {
        return ReplicaHealth::Down;
    };
    // Caught up when it has replayed what the primary has written; otherwise as far
    // behind as its last replayed commit. A server not in recovery is its own primary.
    let lag = diesel::sql_query(
        "SELECT CASE
             WHEN NOT pg_is_in_recovery() THEN 0
             WHEN $1::text IS NULL OR pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 0
             ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000
         END::float8 AS lag_ms",
    )
    .bind::<Nullable<Text>, _>(primary_lsn)
    .get_result::<Lag>(&mut conn);
    match lag {
        Ok(Lag {
            lag_ms: Some(lag_ms),
        }) if lag_ms <= replica.max_lag.as_secs_f64() * 1000.0 => ReplicaHealth::Up,
        Ok(_) => ReplicaHealth::Lagging,
        Err(_) => ReplicaHealth::Down,
    }
}
