//! Housekeeping: rows whose time is over, deleted in bounded batches. They were swept by
//! the requests that create such rows; as jobs they cost those requests nothing.

use std::time::Duration;

use super::Job;
use crate::repository::{guest_carts, throttle};

/// Rows one sweep round deletes at most (a backlog drains round after round).
const SWEEP_BATCH: i64 = 500;

/// Expired guest carts (their lines go with them) and throttle counters whose window has
/// ended, every `every`.
pub fn jobs(every: Duration) -> [Job; 2] {
    [
        Job {
            name: "sweep_guest_carts",
            every,
            batch: SWEEP_BATCH,
            round: guest_carts::sweep_expired_guest_carts,
        },
        Job {
            name: "sweep_throttle_counters",
            every,
            batch: SWEEP_BATCH,
            round: throttle::sweep_expired,
        },
    ]
}
