//! Order expiry: an order still awaiting payment at its deadline is cancelled
//! (`payment_expired`) and its stock released. Every instance looks every second, so an
//! order is cancelled within about a second of its deadline (DESIGN: within 5 s), and
//! `SKIP LOCKED` hands each order to exactly one of them.

use std::time::Duration;

use super::Job;
use crate::repository::order_lifecycle;

/// How often each instance looks for orders past their deadline. The query is an index
/// probe that finds nothing almost always, so looking often costs little.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);

/// Orders one round cancels at most, each in its own transaction.
const EXPIRY_BATCH: i64 = 100;

pub fn jobs() -> [Job; 1] {
    [Job {
        name: "expire_unpaid_orders",
        every: EXPIRY_INTERVAL,
        batch: EXPIRY_BATCH,
        round: order_lifecycle::expire_due_orders,
    }]
}
