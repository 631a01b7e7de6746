//! Payment reconciliation: every instance, every few seconds, takes up payments nobody
//! settled (a timeout, an outage, a shopper who never came back) and refunds the
//! provider has not confirmed (`payments::reconcile_round`). Rows are claimed in the
//! database, so instances share the work; the provider's idempotency keys keep a payment
//! captured once even if two instances did reach it.
//!
//! Its own loop rather than a [`super::Job`]: a round waits on the provider over HTTP,
//! which a job's synchronous round on the blocking pool must not do.

use std::time::Duration;

use rand::Rng;

use crate::db::DbPool;
use crate::payments::{reconcile_round, Payments};
use crate::shutdown::Draining;
use crate::telemetry::Metrics;

/// How often each instance looks. A payment becomes due 30 s after it was created (the
/// shopper's return and the webhook usually settle it first), so a look every 5 s
/// settles one within about 35 s of the provider coming back.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);

/// Payments (and, separately, refunds) one round takes up at most.
const RECONCILE_BATCH: i64 = 20;

/// A failing round waits at most this many intervals.
const MAX_BACKOFF_FACTOR: u32 = 8;

/// Starts the loop on the current async runtime; it stops when the instance drains.
pub fn spawn(payments: Payments, pool: DbPool, draining: Draining, metrics: Metrics) {
    tokio::spawn(run(payments, pool, draining, metrics));
}

async fn run(payments: Payments, pool: DbPool, draining: Draining, metrics: Metrics) {
    let mut delay = jittered(RECONCILE_INTERVAL);
    loop {
        tokio::time::sleep(delay).await;
        if draining.is_draining() {
            return;
        }
        delay = match reconcile_round(&payments, &pool, RECONCILE_BATCH).await {
            Ok(handled) => {
                metrics.observe_job_round("reconcile_payments", true, handled);
                if handled as i64 >= RECONCILE_BATCH {
                    Duration::ZERO
                } else {
                    jittered(RECONCILE_INTERVAL)
                }
            }
            Err(err) => {
                metrics.observe_job_round("reconcile_payments", false, 0);
                tracing::warn!(%err, "payment reconciliation failed");
                (delay * 2).clamp(RECONCILE_INTERVAL, RECONCILE_INTERVAL * MAX_BACKOFF_FACTOR)
            }
        };
    }
}

/// The interval, give or take a tenth, so instances do not look in step.
fn jittered(every: Duration) -> Duration {
    every.mul_f64(rand::thread_rng().gen_range(0.9..=1.1))
}
