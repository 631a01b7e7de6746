//! Login and registration throttles, shared by every instance through PostgreSQL
//! (`repository::throttle`).
//!
//! A login attempt counts against its login name and the account it names (5 per window
//! by default: what an attacker aims at) and against the client address (50: offices
//! and mobile carriers put many customers behind one address). When any is used up the
//! attempt gets 429 before a password is checked. A successful login clears its name and
//! account and gives its address the attempt back, so only failures add up. Each
//! registration, and each guest cart created, counts against its client address.

use std::net::IpAddr;

use diesel::pg::PgConnection;
use diesel::QueryResult;

use crate::config::{LoginThrottleConfig, RateLimit};
use crate::http::ApiError;
use crate::repository::throttle::{self, Counter, TakeError};

pub struct Throttle {
    login: LoginThrottleConfig,
    registration: RateLimit,
    guest_carts: RateLimit,
}

impl Throttle {
    pub fn new(
        login: &LoginThrottleConfig,
        registration: RateLimit,
        guest_carts: RateLimit,
    ) -> Self {
        Self {
            login: login.clone(),
            registration,
            guest_carts,
        }
    }

    /// Counts a login attempt; 429 with the seconds left when its name, its account or
    /// its client address has no attempt left.
    pub fn take_login(
        &self,
        conn: &mut PgConnection,
        login: &str,
        address: Option<IpAddr>,
        account: Option<i32>,
    ) -> Result<(), ApiError> {
        let per_key = |key: String| Counter {
            key,
            max: self.login.max_failures,
            window: self.login.window,
        };
        let mut counters = vec![per_key(login_key(login))];
        counters.extend(account.map(|id| per_key(account_key(id))));
        counters.extend(address.map(|address| Counter {
            key: address_key(address),
            max: self.login.max_failures_per_address,
            window: self.login.window,
        }));
        self.take(conn, &counters)
    }

    /// After a successful login: its name and account start afresh, and its attempt no
    /// longer counts against the address.
    pub fn login_succeeded(
        &self,
        conn: &mut PgConnection,
        login: &str,
        address: Option<IpAddr>,
        account: i32,
    ) -> QueryResult<()> {
        let returned: Vec<String> = address.map(address_key).into_iter().collect();
        throttle::give_back(conn, &[login_key(login), account_key(account)], &returned)
    }

    /// Counts a registration; 429 when the client address has used up its allowance.
    pub fn take_registration(
        &self,
        conn: &mut PgConnection,
        address: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        self.take_per_address(conn, "registration", self.registration, address)
    }

    /// Counts a guest cart's creation; 429 when the client address has used up its
    /// allowance.
    pub fn take_guest_cart(
        &self,
        conn: &mut PgConnection,
        address: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        self.take_per_address(conn, "guest-cart", self.guest_carts, address)
    }

    /// One counter per client address (`<kind>:<address>`); nothing to count without one.
    fn take_per_address(
        &self,
        conn: &mut PgConnection,
        kind: &str,
        limit: RateLimit,
        address: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let Some(address) = address else {
            return Ok(());
        };
        let counter = Counter {
            key: format!("{kind}:{address}"),
            max: limit.max,
            window: limit.window,
        };
        self.take(conn, &[counter])
    }

    fn take(&self, conn: &mut PgConnection, counters: &[Counter]) -> Result<(), ApiError> {
        throttle::take(conn, counters).map_err(|err| match err {
            TakeError::Exhausted { retry_after } => ApiError::RateLimited {
                // Whole seconds, rounded up: a client that waits that long gets through.
                retry_after_secs: retry_after.as_secs_f64().ceil().max(1.0) as u64,
            },
            TakeError::Database(err) => err.into(),
        })
    }
}

/// Login names are counted as typed, ignoring case and surrounding space (the account
/// counter catches the same account under its other name). NUL, which PostgreSQL text
/// cannot hold, is replaced.
fn login_key(login: &str) -> String {
    format!(
        "login:{}",
        login.trim().to_lowercase().replace('\0', "\u{fffd}")
    )
}

fn account_key(account: i32) -> String {
    format!("account:{account}")
}

fn address_key(address: IpAddr) -> String {
    format!("address:{address}")
}
