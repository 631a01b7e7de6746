//! Payment reconciliation: every instance, every few seconds, takes up payments nobody
//! settled (a timeout, an outage, a shopper who never came back) and refunds the
//! provider has not confirmed (`payments::reconcile_round`). Rows are claimed in the
//! database, so instances share the work; the provider's idempotency keys keep a payment
//! captured once even if two instances did reach it.
//!
//! Not a [`super::Job`], whose round is synchronous code on the blocking pool: a round
//! here waits on the provider over HTTP. It runs in the runner's loop all the same
//! (`runner::repeat`: interval, jitter, backoff, drain, metrics).

use std::time::Duration;

use super::runner::repeat;
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

/// Starts the loop on the current async runtime; it stops when the instance drains.
pub fn spawn(payments: Payments, pool: DbPool, draining: Draining, metrics: Metrics) {
    tokio::spawn(async move {
        let batch = usize::try_from(RECONCILE_BATCH).unwrap_or(usize::MAX);
        repeat(
            "reconcile_payments",
            RECONCILE_INTERVAL,
            batch,
            draining,
            metrics,
            || reconcile_round(&payments, &pool, RECONCILE_BATCH),
        )
        .await;
    });
}
