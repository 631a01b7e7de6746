//! Every environment variable the configuration reads, with its default and the values it
//! accepts: the one place they are written. `Config::from_lookup` reads each setting
//! through its constant here, and a test holds the configuration guide's table and
//! `.env.example` to [`ALL`], so neither can drift from what the code does.

use std::ops::RangeInclusive;

/// A whole-number setting (a count, or a duration in the unit its name ends with).
#[derive(Debug)]
pub struct Number {
    pub name: &'static str,
    pub default: Count,
    pub range: RangeInclusive<u32>,
}

/// The default of a [`Number`].
#[derive(Debug)]
pub enum Count {
    Fixed(u32),
    /// The machine's cores × `times` / `per`, rounded up, as `described`.
    Cores {
        times: u32,
        per: u32,
        described: &'static str,
    },
}

impl Count {
    /// The value, for a machine with `cores` cores.
    pub fn for_cores(&self, cores: u32) -> u32 {
        match *self {
            Self::Fixed(value) => value,
            Self::Cores { times, per, .. } => (cores * times).div_ceil(per),
        }
    }
}

/// A true/false setting.
#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub default: bool,
}

/// A setting read as text (an address, a log filter) with a default.
#[derive(Debug)]
pub struct Text {
    pub name: &'static str,
    pub default: &'static str,
}

/// A setting without a default value.
#[derive(Debug)]
pub struct Unset {
    pub name: &'static str,
    pub when_unset: WhenUnset,
}

/// What an [`Unset`] setting means when it is not given.
#[derive(Debug)]
pub enum WhenUnset {
    /// The start stops: the service cannot run without it.
    Required,
    /// The feature it configures is off (or empty).
    Nothing,
    /// The named setting serves instead.
    Use(&'static str),
    /// A value made from other settings, as described.
    Derived(&'static str),
}

/// Any setting, to list them all.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Number(&'static Number),
    Flag(&'static Flag),
    Text(&'static Text),
    Unset(&'static Unset),
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Self::Number(setting) => setting.name,
            Self::Flag(setting) => setting.name,
            Self::Text(setting) => setting.name,
            Self::Unset(setting) => setting.name,
        }
    }

    /// The default as the configuration guide's table writes it: a value in backticks,
    /// a description for a default that depends on the machine, or what being unset means
    /// in parentheses.
    pub fn documented_default(self) -> String {
        match self {
            Self::Number(Number {
                default: Count::Fixed(value),
                ..
            }) => format!("`{value}`"),
            Self::Number(Number {
                default: Count::Cores { described, .. },
                ..
            }) => (*described).to_owned(),
            Self::Flag(flag) => format!("`{}`", flag.default),
            Self::Text(text) => format!("`{}`", text.default),
            Self::Unset(Unset { when_unset, .. }) => match when_unset {
                WhenUnset::Required => "(required)".to_owned(),
                WhenUnset::Nothing => "(none)".to_owned(),
                WhenUnset::Use(other) => format!("(`{other}`)"),
                WhenUnset::Derived(described) => format!("({described})"),
            },
        }
    }

    /// The value `NAME=value` in `.env.example` must show, when it shows one: the default.
    /// `None` where there is no one value to show (the default depends on the machine,
    /// or the setting has none).
    pub fn example_value(self) -> Option<String> {
        match self {
            Self::Number(Number {
                default: Count::Fixed(value),
                ..
            }) => Some(value.to_string()),
            Self::Number(_) | Self::Unset(_) => None,
            Self::Flag(flag) => Some(flag.default.to_string()),
            Self::Text(text) => Some(text.default.to_owned()),
        }
    }
}

const fn fixed(name: &'static str, default: u32, range: RangeInclusive<u32>) -> Number {
    Number {
        name,
        default: Count::Fixed(default),
        range,
    }
}

const fn per_cores(
    name: &'static str,
    (times, per): (u32, u32),
    described: &'static str,
    range: RangeInclusive<u32>,
) -> Number {
    Number {
        name,
        default: Count::Cores {
            times,
            per,
            described,
        },
        range,
    }
}

/// The longest duration any setting in seconds accepts: a year.
const YEAR_SECS: u32 = 31_536_000;

pub const DATABASE_URL: Unset = Unset {
    name: "DATABASE_URL",
    when_unset: WhenUnset::Required,
};
pub const DATABASE_MIGRATION_URL: Unset = Unset {
    name: "DATABASE_MIGRATION_URL",
    when_unset: WhenUnset::Use("DATABASE_URL"),
};
pub const MIGRATIONS_ALLOW_MODIFIED: Flag = Flag {
    name: "MIGRATIONS_ALLOW_MODIFIED",
    default: false,
};
pub const BIND_ADDR: Text = Text {
    name: "BIND_ADDR",
    default: "127.0.0.1:8080",
};
pub const WORKERS: Number = per_cores("WORKERS", (1, 1), "number of cores", 1..=1024);
pub const DB_POOL_MAX_SIZE: Number = per_cores("DB_POOL_MAX_SIZE", (2, 1), "2 × cores", 1..=1000);
pub const DB_POOL_MIN_IDLE: Number = fixed("DB_POOL_MIN_IDLE", 1, 0..=1000);
pub const DB_POOL_TIMEOUT_MS: Number = fixed("DB_POOL_TIMEOUT_MS", 3_000, 1..=600_000);
/// 0: never.
pub const DB_POOL_IDLE_TIMEOUT_SECS: Number =
    fixed("DB_POOL_IDLE_TIMEOUT_SECS", 600, 0..=YEAR_SECS);
/// 0: never.
pub const DB_POOL_MAX_LIFETIME_SECS: Number =
    fixed("DB_POOL_MAX_LIFETIME_SECS", 1_800, 0..=YEAR_SECS);
pub const DB_POOL_TEST_ON_CHECKOUT: Flag = Flag {
    name: "DB_POOL_TEST_ON_CHECKOUT",
    default: false,
};
pub const DB_CONNECT_TIMEOUT_SECS: Number = fixed("DB_CONNECT_TIMEOUT_SECS", 3, 1..=600);
pub const DB_STATEMENT_TIMEOUT_MS: Number = fixed("DB_STATEMENT_TIMEOUT_MS", 5_000, 1..=3_600_000);
pub const SLOW_QUERY_MS: Number = fixed("SLOW_QUERY_MS", 200, 1..=3_600_000);
pub const HTTP_KEEP_ALIVE_SECS: Number = fixed("HTTP_KEEP_ALIVE_SECS", 75, 1..=3_600);
pub const HTTP_CLIENT_REQUEST_TIMEOUT_MS: Number =
    fixed("HTTP_CLIENT_REQUEST_TIMEOUT_MS", 5_000, 1..=600_000);
pub const BLOCKING_THREADS_PER_WORKER: Number = fixed("BLOCKING_THREADS_PER_WORKER", 4, 1..=512);
pub const CORS_ALLOWED_ORIGINS: Unset = Unset {
    name: "CORS_ALLOWED_ORIGINS",
    when_unset: WhenUnset::Nothing,
};
pub const TRUSTED_PROXIES: Unset = Unset {
    name: "TRUSTED_PROXIES",
    when_unset: WhenUnset::Nothing,
};
/// 0: stop at once.
pub const SHUTDOWN_DRAIN_SECS: Number = fixed("SHUTDOWN_DRAIN_SECS", 5, 0..=300);
pub const DATABASE_REPLICA_URL: Unset = Unset {
    name: "DATABASE_REPLICA_URL",
    when_unset: WhenUnset::Nothing,
};
pub const DB_REPLICA_TIMEOUT_MS: Number = fixed("DB_REPLICA_TIMEOUT_MS", 250, 1..=60_000);
pub const DB_REPLICA_MAX_LAG_MS: Number = fixed("DB_REPLICA_MAX_LAG_MS", 1_000, 1..=3_600_000);
pub const SESSION_LIFETIME_SECS: Number = fixed("SESSION_LIFETIME_SECS", 86_400, 60..=YEAR_SECS);
pub const LOGIN_THROTTLE_MAX_FAILURES: Number = fixed("LOGIN_THROTTLE_MAX_FAILURES", 5, 1..=1_000);
pub const LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS: Number =
    fixed("LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS", 50, 1..=1_000_000);
pub const LOGIN_THROTTLE_WINDOW_SECS: Number = fixed("LOGIN_THROTTLE_WINDOW_SECS", 300, 1..=86_400);
pub const REGISTRATION_MAX_PER_ADDRESS: Number =
    fixed("REGISTRATION_MAX_PER_ADDRESS", 20, 1..=1_000_000);
pub const REGISTRATION_WINDOW_SECS: Number = fixed("REGISTRATION_WINDOW_SECS", 3_600, 1..=86_400);
/// 30 days.
pub const GUEST_CART_LIFETIME_SECS: Number =
    fixed("GUEST_CART_LIFETIME_SECS", 2_592_000, 60..=YEAR_SECS);
/// Generous on purpose: a carrier NAT puts many shoppers behind one address, and each new
/// visitor creates one cart.
pub const GUEST_CART_MAX_PER_ADDRESS: Number =
    fixed("GUEST_CART_MAX_PER_ADDRESS", 300, 1..=1_000_000);
pub const GUEST_CART_WINDOW_SECS: Number = fixed("GUEST_CART_WINDOW_SECS", 3_600, 1..=86_400);
/// How often each instance sweeps expired guest carts and throttle counters.
pub const SWEEP_INTERVAL_SECS: Number = fixed("SWEEP_INTERVAL_SECS", 60, 1..=86_400);
/// How long an order awaits payment before the service cancels it; 0 = never.
pub const ORDER_PAYMENT_WINDOW_SECS: Number =
    fixed("ORDER_PAYMENT_WINDOW_SECS", 1_800, 0..=2_592_000);
/// Webhook endpoints may be loopback, private or link-local addresses (tests, local
/// development); off, such targets are refused at creation and at connect time.
pub const WEBHOOK_ALLOW_PRIVATE_TARGETS: Flag = Flag {
    name: "WEBHOOK_ALLOW_PRIVATE_TARGETS",
    default: false,
};
/// The waits between a webhook delivery's attempts; after the last, it has failed.
pub const WEBHOOK_RETRY_SCHEDULE_SECS: Text = Text {
    name: "WEBHOOK_RETRY_SCHEDULE_SECS",
    default: "5,300,1800,7200,18000,36000,50400,72000,86400",
};
/// A product whose stock falls below this gets a `stock.low` event.
pub const LOW_STOCK_THRESHOLD: Number = fixed("LOW_STOCK_THRESHOLD", 5, 0..=1_000_000);
/// Whether catalogue prices contain tax (EU shops) or have it added at checkout (US).
pub const PRICES_INCLUDE_TAX: Flag = Flag {
    name: "PRICES_INCLUDE_TAX",
    default: true,
};
/// The test payment gateway (`storefront payment-gateway`) listens here.
pub const PAYMENT_GATEWAY_BIND: Text = Text {
    name: "PAYMENT_GATEWAY_BIND",
    default: "127.0.0.1:8090",
};
/// Where the service reaches its payment gateway.
pub const PAYMENT_GATEWAY_URL: Unset = Unset {
    name: "PAYMENT_GATEWAY_URL",
    when_unset: WhenUnset::Derived(
        "`storefront serve` starts a test gateway inside its own process, on a free local port",
    ),
};
pub const PAYMENT_GATEWAY_DATABASE_URL: Unset = Unset {
    name: "PAYMENT_GATEWAY_DATABASE_URL",
    when_unset: WhenUnset::Derived(
        "`DATABASE_URL`'s server, database `<its name>_payment_gateway`",
    ),
};
/// How long the service waits for the payment gateway; the test gateway answers a
/// `pm_ok_slow` capture a second after it.
pub const PAYMENT_GATEWAY_TIMEOUT_MS: Number =
    fixed("PAYMENT_GATEWAY_TIMEOUT_MS", 5_000, 100..=120_000);
pub const PAYMENT_WEBHOOK_URL: Unset = Unset {
    name: "PAYMENT_WEBHOOK_URL",
    when_unset: WhenUnset::Derived("`http://<BIND_ADDR>/api/v1/payments/webhooks/test`"),
};
pub const PAYMENT_WEBHOOK_SECRET: Unset = Unset {
    name: "PAYMENT_WEBHOOK_SECRET",
    when_unset: WhenUnset::Derived("a random secret made at start"),
};
pub const PASSWORD_QUEUE_TIMEOUT_MS: Number =
    fixed("PASSWORD_QUEUE_TIMEOUT_MS", 2_000, 1..=600_000);
pub const SEARCH_MAX_CONCURRENT: Number = per_cores(
    "SEARCH_MAX_CONCURRENT",
    (1, 2),
    "half the cores, at least 1",
    1..=1_024,
);
pub const SEARCH_QUEUE_TIMEOUT_MS: Number = fixed("SEARCH_QUEUE_TIMEOUT_MS", 1_000, 1..=600_000);
/// 0: `no-cache`.
pub const CATALOGUE_CACHE_MAX_AGE_SECS: Number =
    fixed("CATALOGUE_CACHE_MAX_AGE_SECS", 0, 0..=YEAR_SECS);
pub const RUST_LOG: Text = Text {
    name: "RUST_LOG",
    default: "info",
};

/// Every setting, in the order the configuration guide lists them.
pub const ALL: &[Setting] = &[
    Setting::Unset(&DATABASE_URL),
    Setting::Unset(&DATABASE_MIGRATION_URL),
    Setting::Flag(&MIGRATIONS_ALLOW_MODIFIED),
    Setting::Text(&BIND_ADDR),
    Setting::Number(&WORKERS),
    Setting::Number(&DB_POOL_MAX_SIZE),
    Setting::Number(&DB_POOL_MIN_IDLE),
    Setting::Number(&DB_POOL_TIMEOUT_MS),
    Setting::Number(&DB_POOL_IDLE_TIMEOUT_SECS),
    Setting::Number(&DB_POOL_MAX_LIFETIME_SECS),
    Setting::Flag(&DB_POOL_TEST_ON_CHECKOUT),
    Setting::Number(&DB_CONNECT_TIMEOUT_SECS),
    Setting::Number(&DB_STATEMENT_TIMEOUT_MS),
    Setting::Number(&SESSION_LIFETIME_SECS),
    Setting::Number(&LOGIN_THROTTLE_MAX_FAILURES),
    Setting::Number(&LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS),
    Setting::Number(&LOGIN_THROTTLE_WINDOW_SECS),
    Setting::Number(&REGISTRATION_MAX_PER_ADDRESS),
    Setting::Number(&REGISTRATION_WINDOW_SECS),
    Setting::Number(&GUEST_CART_LIFETIME_SECS),
    Setting::Number(&GUEST_CART_MAX_PER_ADDRESS),
    Setting::Number(&GUEST_CART_WINDOW_SECS),
    Setting::Number(&ORDER_PAYMENT_WINDOW_SECS),
    Setting::Flag(&PRICES_INCLUDE_TAX),
    Setting::Number(&LOW_STOCK_THRESHOLD),
    Setting::Flag(&WEBHOOK_ALLOW_PRIVATE_TARGETS),
    Setting::Text(&WEBHOOK_RETRY_SCHEDULE_SECS),
    Setting::Unset(&PAYMENT_GATEWAY_URL),
    Setting::Text(&PAYMENT_GATEWAY_BIND),
    Setting::Unset(&PAYMENT_GATEWAY_DATABASE_URL),
    Setting::Number(&PAYMENT_GATEWAY_TIMEOUT_MS),
    Setting::Unset(&PAYMENT_WEBHOOK_URL),
    Setting::Unset(&PAYMENT_WEBHOOK_SECRET),
    Setting::Number(&SWEEP_INTERVAL_SECS),
    Setting::Number(&PASSWORD_QUEUE_TIMEOUT_MS),
    Setting::Number(&SEARCH_MAX_CONCURRENT),
    Setting::Number(&SEARCH_QUEUE_TIMEOUT_MS),
    Setting::Unset(&TRUSTED_PROXIES),
    Setting::Unset(&DATABASE_REPLICA_URL),
    Setting::Number(&DB_REPLICA_TIMEOUT_MS),
    Setting::Number(&DB_REPLICA_MAX_LAG_MS),
    Setting::Number(&SLOW_QUERY_MS),
    Setting::Number(&HTTP_KEEP_ALIVE_SECS),
    Setting::Number(&SHUTDOWN_DRAIN_SECS),
    Setting::Number(&HTTP_CLIENT_REQUEST_TIMEOUT_MS),
    Setting::Number(&BLOCKING_THREADS_PER_WORKER),
    Setting::Number(&CATALOGUE_CACHE_MAX_AGE_SECS),
    Setting::Unset(&CORS_ALLOWED_ORIGINS),
    Setting::Text(&RUST_LOG),
];
