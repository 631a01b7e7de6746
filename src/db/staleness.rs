//! How stale a streaming replica can be, told from WAL positions (LSNs), not timestamps.
//!
//! Each probe records where the primary's WAL was inserting at a moment: every commit
//! visible on the primary by then lies below that position. A replica that has replayed
//! up to it shows everything committed before that moment, so its reads are no older than
//! that moment, whatever its replay timestamps say (an idle primary has none to give, and
//! an asynchronous commit is visible before its WAL is written, let alone sent).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A WAL position, as PostgreSQL prints it (`16/B374D848`): two hex halves of a u64.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let high = u32::from_str_radix(high, 16).ok()?;
    let low = u32::from_str_radix(low, 16).ok()?;
    Some(u64::from(high) << 32 | u64::from(low))
}

/// How far the primary's insert position may be ahead of a replica that has everything:
/// an idle primary's can sit just past the header of a WAL page no record has reached
/// yet (24 bytes), and no commit record is that small (a commit needs at least 34).
const PAGE_HEADER: u64 = 24;

/// How often to probe a replica allowed `max_lag`: a quarter of it (at most twice a
/// second), so a replica that keeps up is vouched for again well before the last
/// verdict runs out.
pub fn probe_interval(max_lag: Duration) -> Duration {
    (max_lag / 4).clamp(Duration::from_millis(10), Duration::from_millis(500))
}

/// The primary's insert positions of the last `max_lag`, oldest first.
pub struct WalHistory {
    max_lag: Duration,
    seen: VecDeque<(Instant, u64)>,
}

impl WalHistory {
    pub fn new(max_lag: Duration) -> Self {
        Self {
            max_lag,
            seen: VecDeque::new(),
        }
    }

    /// Records that at `at` every commit visible on the primary lay below `lsn`;
    /// forgets positions too old to vouch for anything any more.
    pub fn record(&mut self, at: Instant, lsn: u64) {
        self.seen.push_back((at, lsn));
        while self
            .seen
            .front()
            .is_some_and(|&(seen_at, _)| seen_at + self.max_lag <= at)
        {
            self.seen.pop_front();
        }
    }

    /// Until when a replica that has replayed up to `replayed` may serve reads: `max_lag`
    /// after the latest recorded moment whose position it has reached. `None` if it has
    /// reached none of them: it is further behind than `max_lag`, or nothing is known.
    pub fn fresh_until(&self, replayed: u64) -> Option<Instant> {
        self.seen
            .iter()
            .rev()
            .find(|&&(_, lsn)| replayed.saturating_add(PAGE_HEADER) >= lsn)
            .map(|&(at, _)| at + self.max_lag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_parse_as_postgresql_prints_them() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
        for bad in ["", "16", "16/", "/1", "x/1", "1/2/3", "100000000/0"] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_replica_is_fresh_until_max_lag_after_the_latest_position_it_has_reached() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut history = WalHistory::new(ms(1000));
        history.record(start, 1000);
        history.record(start + ms(250), 2000);
        history.record(start + ms(500), 3000);

        assert_eq!(history.fresh_until(3000), Some(start + ms(1500)));
        assert_eq!(history.fresh_until(2900), Some(start + ms(1250)));
        assert_eq!(history.fresh_until(1000), Some(start + ms(1000)));
        assert_eq!(history.fresh_until(900), None);
        // A page header's worth short of the primary's position counts as there.
        assert_eq!(
            history.fresh_until(3000 - PAGE_HEADER),
            Some(start + ms(1500))
        );
        assert_eq!(
            history.fresh_until(3000 - PAGE_HEADER - 1),
            Some(start + ms(1250))
        );
    }

    #[test]
    fn positions_older_than_max_lag_are_forgotten() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut history = WalHistory::new(ms(1000));
        history.record(start, 1000);
        history.record(start + ms(600), 2000);
        history.record(start + ms(1000), 3000);
        assert_eq!(history.seen.len(), 2);
        // Only a position recorded within the last max_lag can vouch for a replica.
        assert_eq!(history.fresh_until(1500), None);
        assert_eq!(history.fresh_until(2000), Some(start + ms(1600)));
    }

    #[test]
    fn the_probe_runs_four_times_per_allowed_lag_and_at_least_twice_a_second() {
        let ms = Duration::from_millis;
        assert_eq!(probe_interval(ms(1000)), ms(250));
        assert_eq!(probe_interval(ms(200)), ms(50));
        assert_eq!(probe_interval(ms(10_000)), ms(500));
        assert_eq!(probe_interval(ms(0)), ms(10));
    }
}
