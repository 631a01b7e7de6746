//! The one runner: a task per job on the async runtime that sleeps between rounds and runs
//! each round on the blocking pool through `db::with_conn` (a job is synchronous Diesel
//! code, like a handler's work). A round that did a
//! whole batch runs again at once, so a backlog drains at full speed; a failing round
//! (database down) backs off, doubling up to [`MAX_BACKOFF_FACTOR`] times the interval.

use std::future::Future;
use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::QueryResult;
use rand::Rng;

use crate::db::{self, DbError, DbPool};
use crate::shutdown::Draining;
use crate::telemetry::Metrics;

/// A failing job waits at most this many intervals before it tries again.
const MAX_BACKOFF_FACTOR: u32 = 8;

/// One kind of background work.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// The `job` label of its metrics and log lines.
    pub name: &'static str,
    /// Time between rounds while there is nothing (more) to do.
    pub every: Duration,
    /// Rows one round handles at most; a round that handles this many runs again at once.
    pub batch: i64,
    /// One round: claims and handles up to `batch` rows; returns how many it handled.
    pub round: fn(&mut PgConnection, i64) -> QueryResult<usize>,
}

/// Starts every job on the current async runtime; they stop when `draining` is set (the
/// instance is leaving) or when the runtime ends. Must be called inside a runtime.
pub fn spawn(jobs: &[Job], pool: DbPool, draining: Draining, metrics: Metrics) {
    for &job in jobs {
        tokio::spawn(run(job, pool.clone(), draining.clone(), metrics.clone()));
    }
}

async fn run(job: Job, pool: DbPool, draining: Draining, metrics: Metrics) {
    let batch = usize::try_from(job.batch).unwrap_or(usize::MAX);
    repeat(job.name, job.every, batch, draining, metrics, || {
        db::with_conn(&pool, move |conn| {
            (job.round)(conn, job.batch).map_err(DbError::from)
        })
    })
    .await;
}

/// Runs `round` every `every` (±10 %) until the instance drains: again at once after a
/// round that handled a whole `batch`, backing off (doubling, up to
/// [`MAX_BACKOFF_FACTOR`] intervals) after one that failed; each round counted under
/// `name`. The loop of every background job, synchronous or not.
pub(super) async fn repeat<F, Fut, E>(
    name: &'static str,
    every: Duration,
    batch: usize,
    draining: Draining,
    metrics: Metrics,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    // Instances started together would otherwise run their rounds in step.
    let mut delay = jittered(every);
    loop {
        tokio::time::sleep(delay).await;
        if draining.is_draining() {
            return;
        }
        delay = match round().await {
            Ok(handled) => {
                metrics.observe_job_round(name, true, handled);
                if handled > 0 {
                    tracing::debug!(job = name, handled, "background job round");
                }
                if handled >= batch {
                    Duration::ZERO
                } else {
                    jittered(every)
                }
            }
            Err(err) => {
                metrics.observe_job_round(name, false, 0);
                let next = backoff(delay, every);
                tracing::warn!(job = name, %err, retry_in = ?next, "background job failed");
                next
            }
        };
    }
}

/// The wait after a failure: double the last one, between one and
/// [`MAX_BACKOFF_FACTOR`] intervals.
fn backoff(last: Duration, every: Duration) -> Duration {
    (last * 2).clamp(every, every * MAX_BACKOFF_FACTOR)
}

/// `every`, give or take a tenth.
pub(super) fn jittered(every: Duration) -> Duration {
    every.mul_f64(rand::thread_rng().gen_range(0.9..=1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_failing_job_backs_off_doubling_up_to_a_ceiling() {
        assert_eq!(backoff(Duration::ZERO, MINUTE), MINUTE);
        assert_eq!(backoff(MINUTE, MINUTE), 2 * MINUTE);
        assert_eq!(backoff(5 * MINUTE, MINUTE), 8 * MINUTE);
        assert_eq!(backoff(8 * MINUTE, MINUTE), 8 * MINUTE);
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        for _ in 0..1000 {
            let delay = jittered(MINUTE);
            assert!(delay >= MINUTE.mul_f64(0.9) && delay <= MINUTE.mul_f64(1.1));
        }
    }
}
