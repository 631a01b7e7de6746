//! Failed-login throttle: after `max_failures` failures within `window`, further attempts
//! for that login name, that account (whichever of its username or email is typed), or
//! from that client address, get 429 until the window ends.
//!
//! Kept in process memory: it needs no table and no extra query per login, at the price
//! that each instance counts on its own (N instances allow N times the failures).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginThrottleConfig;
use crate::error::ApiError;

/// Entries kept before expired ones are swept, bounding memory under a spraying attack.
const SWEEP_THRESHOLD: usize = 10_000;

pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<Key, Window>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Login(String),
    /// The account behind a login, so its username and email share one allowance.
    Account(i32),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl LoginThrottle {
    pub fn new(config: &LoginThrottleConfig) -> Self {
        Self {
            max_failures: config.max_failures,
            window: config.window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(
        login: &str,
        address: Option<IpAddr>,
        account: Option<i32>,
    ) -> impl Iterator<Item = Key> {
        std::iter::once(Key::Login(login.trim().to_lowercase()))
            .chain(address.map(Key::Address))
            .chain(account.map(Key::Account))
    }

    /// 429 with the seconds left when this login or address has used up its failures.
    /// Called before the account is looked up.
    pub fn check(&self, login: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_keys(Self::keys(login, address, None))
    }

    /// 429 when the account a login resolved to has used up its failures.
    pub fn check_account(&self, account: i32) -> Result<(), ApiError> {
        self.check_keys(std::iter::once(Key::Account(account)))
    }

    fn check_keys(&self, keys: impl Iterator<Item = Key>) -> Result<(), ApiError> {
        let now = Instant::now();
        let failures = self.lock();
        let blocked_for = keys
            .filter_map(|key| failures.get(&key).copied())
            .filter(|window| window.failures >= self.max_failures)
            .filter_map(|window| (window.started + self.window).checked_duration_since(now))
            .max();
        match blocked_for {
            Some(left) => Err(ApiError::RateLimited {
                retry_after_secs: left.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failure against the login, the address and, when the login named one,
    /// the account.
    pub fn record_failure(&self, login: &str, address: Option<IpAddr>, account: Option<i32>) {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() >= SWEEP_THRESHOLD {
            failures.retain(|_, window| now.duration_since(window.started) < self.window);
        }
        for key in Self::keys(login, address, account) {
            let window = failures.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(window.started) >= self.window {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    /// A successful login clears its name's and its account's counts (the address keeps
    /// its own).
    pub fn record_success(&self, login: &str, account: i32) {
        let mut failures = self.lock();
        failures.remove(&Key::Login(login.trim().to_lowercase()));
        failures.remove(&Key::Account(account));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        // A panic while holding this lock leaves counts that are still valid numbers.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max_failures: u32, window: Duration) -> LoginThrottle {
        LoginThrottle::new(&LoginThrottleConfig {
            max_failures,
            window,
        })
    }

    #[test]
    fn blocks_a_login_after_its_failures_whatever_the_address() {
        let throttle = throttle(2, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        throttle.record_failure("Alice", Some(a), None);
        assert!(throttle.check("alice", Some(b)).is_ok());
        throttle.record_failure("alice", Some(a), None);
        match throttle.check("ALICE", Some(b)) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected 429, got {other:?}"),
        }
        // The address is blocked for other logins too.
        assert!(throttle.check("bob", Some(a)).is_err());
        assert!(throttle.check("bob", Some(b)).is_ok());
    }

    #[test]
    fn windows_expire_and_success_clears_the_login() {
        let throttle = throttle(1, Duration::from_millis(20));
        throttle.record_failure("carol", None, Some(7));
        assert!(throttle.check("carol", None).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(throttle.check("carol", None).is_ok());
        throttle.record_failure("carol", None, Some(7));
        throttle.record_success("carol", 7);
        assert!(throttle.check("carol", None).is_ok());
        assert!(throttle.check_account(7).is_ok());
    }

    #[test]
    fn an_accounts_username_and_email_share_one_allowance() {
        let throttle = throttle(2, Duration::from_secs(60));
        throttle.record_failure("dave", None, Some(9));
        throttle.record_failure("dave@example.com", None, Some(9));
        assert!(
            throttle.check("dave", None).is_ok(),
            "each name failed once"
        );
        assert!(
            throttle.check_account(9).is_err(),
            "the account failed twice"
        );
        assert!(throttle.check_account(10).is_ok());
    }
}
