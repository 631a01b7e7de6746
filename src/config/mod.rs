//! Typed configuration, read once at start from the environment (and `.env`, via dotenvy).
//!
//! Every setting is validated here, so a typo stops the start with one message naming the
//! variable and the form it expects, instead of surfacing later as a confusing runtime error.

use std::net::SocketAddr;
use std::time::Duration;

mod database_url;
pub mod defaults;
mod trusted_proxies;
mod vars;

pub use database_url::DatabaseUrl;
pub use trusted_proxies::TrustedProxies;
pub use vars::ConfigError;

use self::defaults as setting;
use self::vars::Vars;
use crate::domain::WebhookSecret;

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    /// `DATABASE_MIGRATION_URL`: the owner role for migrations (startup and `migrate`);
    /// `None`: `DATABASE_URL` does both.
    pub migration_url: Option<DatabaseUrl>,
    /// Start even when an applied migration's `up.sql` changed since (a WARN each).
    pub migrations_allow_modified: bool,
    /// A streaming replica for anonymous catalogue reads; `None`: the primary serves all.
    pub replica: Option<ReplicaConfig>,
    pub http: HttpConfig,
    /// How long a login session (bearer token) stays valid.
    pub session_lifetime: Duration,
    pub login_throttle: LoginThrottleConfig,
    /// Registrations allowed per client address.
    pub registration_limit: RateLimit,
    /// How long a guest cart's token works (and the cart is kept) after its creation.
    pub guest_cart_lifetime: Duration,
    /// Guest carts created per client address.
    pub guest_cart_limit: RateLimit,
    /// Time between rounds of the background sweeps (expired guest carts, throttle
    /// counters).
    pub sweep_interval: Duration,
    /// How long a new order awaits payment before the service cancels it and releases its
    /// stock; `None`: it waits for ever.
    pub order_payment_window: Option<Duration>,
    /// Catalogue prices contain the tax (it is the part of each line's price the rate
    /// makes up); otherwise it is added on top at checkout.
    pub prices_include_tax: bool,
    /// A product whose stock falls below this gets a `stock.low` event.
    pub low_stock_threshold: i32,
    /// Where webhooks may go and how often they are tried.
    pub webhooks: WebhooksConfig,
    /// The payment gateway: where the test gateway listens and keeps its state, how long
    /// the service waits for it, where it sends its webhooks and how it signs them.
    pub payments: PaymentsConfig,
    /// Longest wait for a password-hashing permit before a 503.
    pub password_queue_timeout: Duration,
    /// Searches that must visit every match (see `SearchConcurrency`).
    pub search_concurrency: SearchConcurrency,
    /// `max-age` of anonymous catalogue responses in shared caches; zero: `no-cache`
    /// (stored, but revalidated with the ETag on every use).
    pub catalogue_cache_max_age: Duration,
    /// `RUST_LOG`: a tracing `EnvFilter` directive string, checked to parse.
    pub log_filter: String,
}

/// Searches that cannot be served from the one-word index (several words, phrases,
/// exclusions, or ordered by price or age) find and order every match: their cost grows
/// with the matches, so at most `max_concurrent` run at once and a search that would
/// wait longer than `queue_timeout` for its turn gets a 503 with Retry-After.
#[derive(Debug, Clone, Copy)]
pub struct SearchConcurrency {
    pub max_concurrent: u32,
    pub queue_timeout: Duration,
}

/// Connection and pool settings; their defaults are in `defaults.rs`.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub pool_max_size: u32,
    pub pool_min_idle: u32,
    /// How long a request waits for a pooled connection before it gets a 503.
    pub pool_connection_timeout: Duration,
    /// Idle connections above `pool_min_idle` are closed after this long; `None`: never.
    pub pool_idle_timeout: Option<Duration>,
    /// Connections are replaced after this long; `None`: never.
    pub pool_max_lifetime: Option<Duration>,
    /// r2d2's `test_on_check_out`: a `SELECT 1` round trip on every checkout. Off by default:
    /// broken connections are detected on return anyway, and the ping halves throughput.
    pub pool_test_on_checkout: bool,
    /// libpq `connect_timeout`: bounds a connection attempt to an unreachable host.
    pub connect_timeout: Duration,
    /// PostgreSQL `statement_timeout`, so a runaway query cannot hold a connection for ever.
    pub statement_timeout: Duration,
    /// Queries slower than this are logged (SQL text only, never bind values).
    pub slow_query_threshold: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind_addr: SocketAddr,
    /// actix-web worker threads; defaults to the number of cores.
    pub workers: usize,
    /// Idle keep-alive connections are closed after this long.
    pub keep_alive: Duration,
    /// A client must send its request head within this long.
    pub client_request_timeout: Duration,
    /// Threads per worker for blocking work (queries, password hashing). Few suffice:
    /// more threads than pooled connections only queue on the pool.
    pub blocking_threads_per_worker: usize,
    /// Browser origins (`https://shop.example.com`) allowed to call the API across
    /// origins, or `*` for any; empty: no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client; empty: the peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// After SIGTERM / Ctrl-C: unready but still serving for this long, so load balancers
    /// take the instance out of rotation before it stops accepting; zero: stop at once.
    pub shutdown_drain: Duration,
}

/// Webhook deliveries to other systems.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Loopback, private and link-local targets allowed (tests, local development).
    pub allow_private_targets: bool,
    /// The waits after each failed attempt; after the last, a delivery has failed.
    pub retry_schedule: Vec<Duration>,
}

/// The payment gateway's settings.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// Where the service reaches the gateway; `None`: `storefront serve` starts one in
    /// its own process (other users of the configuration: where `gateway_bind` is).
    pub gateway_url: Option<String>,
    /// Where `storefront payment-gateway` listens.
    pub gateway_bind: SocketAddr,
    /// The test gateway's own database (created if missing).
    pub gateway_database: DatabaseUrl,
    /// How long the service waits for the gateway.
    pub gateway_timeout: Duration,
    /// Where the gateway sends its webhooks.
    pub webhook_url: String,
    /// What signs them; `None`: a random secret made at start (one process only).
    pub webhook_secret: Option<WebhookSecret>,
}

impl PaymentsConfig {
    /// Where the service reaches the gateway: `PAYMENT_GATEWAY_URL`, else where
    /// `storefront payment-gateway` listens by this configuration.
    pub fn gateway_url(&self) -> String {
        self.gateway_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.gateway_bind))
    }
}

/// The replica: where it is, how long a read waits for one of its connections before
/// going to the primary, and how far behind the primary it may be and still serve.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    pub url: DatabaseUrl,
    pub connection_timeout: Duration,
    pub max_lag: Duration,
}

/// Failed logins allowed within `window`: `max_failures` per login name and per account,
/// `max_failures_per_address` per client address (many customers may share one).
#[derive(Debug, Clone)]
pub struct LoginThrottleConfig {
    pub max_failures: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
}

/// At most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl Config {
    /// Connection settings for migrating: the migration URL when set, else the
    /// serving one.
    pub fn migration_database(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: self
                .migration_url
                .clone()
                .unwrap_or_else(|| self.database.url.clone()),
            ..self.database.clone()
        }
    }

    /// Reads `.env` (if present; real environment variables win) and then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal (production sets real variables); a broken one is not.
        if let Err(err) = dotenvy::dotenv() {
            if !err.not_found() {
                return Err(ConfigError {
                    variable: ".env",
                    problem: err.to_string(),
                });
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(&lookup, cores());
        // Read in this order, so that of several bad settings the first named here is
        // the one reported.
        let database = database(&vars)?;
        let http = http(&vars)?;
        let replica = replica(&vars)?;
        let session_lifetime = vars.secs(&setting::SESSION_LIFETIME_SECS)?;
        let login_throttle = login_throttle(&vars)?;
        let registration_limit = RateLimit {
            max: vars.number(&setting::REGISTRATION_MAX_PER_ADDRESS)?,
            window: vars.secs(&setting::REGISTRATION_WINDOW_SECS)?,
        };
        // Generous on purpose: a carrier NAT puts many shoppers behind one address, and
        // each new visitor creates one cart (docs/api.md, "Guest carts").
        let guest_cart_lifetime = vars.secs(&setting::GUEST_CART_LIFETIME_SECS)?;
        let guest_cart_limit = RateLimit {
            max: vars.number(&setting::GUEST_CART_MAX_PER_ADDRESS)?,
            window: vars.secs(&setting::GUEST_CART_WINDOW_SECS)?,
        };
        let sweep_interval = vars.secs(&setting::SWEEP_INTERVAL_SECS)?;
        let order_payment_window = vars.optional_secs(&setting::ORDER_PAYMENT_WINDOW_SECS)?;
        let prices_include_tax = vars.boolean(&setting::PRICES_INCLUDE_TAX)?;
        // At most 1,000,000 (the setting's range): an i32, as inventory counts are.
        let low_stock_threshold =
            i32::try_from(vars.number(&setting::LOW_STOCK_THRESHOLD)?).unwrap_or(i32::MAX);
        let payments = payments(&vars, &database.url, http.bind_addr)?;
        let password_queue_timeout = vars.millis(&setting::PASSWORD_QUEUE_TIMEOUT_MS)?;
        let search_concurrency = SearchConcurrency {
            max_concurrent: vars.number(&setting::SEARCH_MAX_CONCURRENT)?,
            queue_timeout: vars.millis(&setting::SEARCH_QUEUE_TIMEOUT_MS)?,
        };
        let catalogue_cache_max_age = vars.secs(&setting::CATALOGUE_CACHE_MAX_AGE_SECS)?;
        let log_filter = vars.log_filter(&setting::RUST_LOG)?;
        let migration_url = vars.optional(&setting::DATABASE_MIGRATION_URL, DatabaseUrl::parse)?;
        let migrations_allow_modified = vars.boolean(&setting::MIGRATIONS_ALLOW_MODIFIED)?;
        Ok(Self {
            database,
            migration_url,
            migrations_allow_modified,
            replica,
            http,
            session_lifetime,
            login_throttle,
            registration_limit,
            guest_cart_lifetime,
            guest_cart_limit,
            sweep_interval,
            order_payment_window,
            prices_include_tax,
            low_stock_threshold,
            webhooks: WebhooksConfig {
                allow_private_targets: vars.boolean(&setting::WEBHOOK_ALLOW_PRIVATE_TARGETS)?,
                retry_schedule: vars.seconds_list(&setting::WEBHOOK_RETRY_SCHEDULE_SECS)?,
            },
            payments,
            password_queue_timeout,
            search_concurrency,
            catalogue_cache_max_age,
            log_filter,
        })
    }

    /// The replica's pool settings: the primary's, with the replica's URL and its own
    /// (short) wait for a connection.
    pub fn replica_database(&self) -> Option<DatabaseConfig> {
        self.replica.as_ref().map(|replica| DatabaseConfig {
            url: replica.url.clone(),
            pool_connection_timeout: replica.connection_timeout,
            ..self.database.clone()
        })
    }
}

fn payments<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    database: &DatabaseUrl,
    bind_addr: SocketAddr,
) -> Result<PaymentsConfig, ConfigError> {
    let gateway_database = vars
        .optional(&setting::PAYMENT_GATEWAY_DATABASE_URL, DatabaseUrl::parse)?
        .unwrap_or_else(|| {
            database.with_database(&format!("{}_payment_gateway", database.database_name()))
        });
    let webhook_url = vars
        .optional(&setting::PAYMENT_WEBHOOK_URL, |raw| {
            url::Url::parse(raw)
                .map(|url| url.to_string())
                .map_err(|err| format!("is not a URL: {err}"))
        })?
        .unwrap_or_else(|| format!("http://{bind_addr}/api/v1/payments/webhooks/test"));
    let gateway_url = vars.optional(&setting::PAYMENT_GATEWAY_URL, |raw| {
        url::Url::parse(raw)
            .map(|url| url.as_str().trim_end_matches('/').to_owned())
            .map_err(|err| format!("is not a URL: {err}"))
    })?;
    Ok(PaymentsConfig {
        gateway_url,
        gateway_bind: vars.socket_addr(&setting::PAYMENT_GATEWAY_BIND)?,
        gateway_database,
        gateway_timeout: vars.millis(&setting::PAYMENT_GATEWAY_TIMEOUT_MS)?,
        webhook_url,
        webhook_secret: vars.optional(&setting::PAYMENT_WEBHOOK_SECRET, WebhookSecret::parse)?,
    })
}

/// The primary's connection and pool settings; a pool may not keep more idle connections
/// than it may hold.
fn database<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<DatabaseConfig, ConfigError> {
    let database = DatabaseConfig {
        url: vars.required(&setting::DATABASE_URL, DatabaseUrl::parse)?,
        pool_max_size: vars.number(&setting::DB_POOL_MAX_SIZE)?,
        pool_min_idle: vars.number(&setting::DB_POOL_MIN_IDLE)?,
        pool_connection_timeout: vars.millis(&setting::DB_POOL_TIMEOUT_MS)?,
        pool_idle_timeout: vars.optional_secs(&setting::DB_POOL_IDLE_TIMEOUT_SECS)?,
        pool_max_lifetime: vars.optional_secs(&setting::DB_POOL_MAX_LIFETIME_SECS)?,
        pool_test_on_checkout: vars.boolean(&setting::DB_POOL_TEST_ON_CHECKOUT)?,
        connect_timeout: vars.secs(&setting::DB_CONNECT_TIMEOUT_SECS)?,
        statement_timeout: vars.millis(&setting::DB_STATEMENT_TIMEOUT_MS)?,
        slow_query_threshold: vars.millis(&setting::SLOW_QUERY_MS)?,
    };
    if database.pool_min_idle > database.pool_max_size {
        return Err(ConfigError {
            variable: setting::DB_POOL_MIN_IDLE.name,
            problem: format!(
                "must not exceed {} ({})",
                setting::DB_POOL_MAX_SIZE.name,
                database.pool_max_size
            ),
        });
    }
    Ok(database)
}

fn http<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<HttpConfig, ConfigError> {
    Ok(HttpConfig {
        bind_addr: vars.socket_addr(&setting::BIND_ADDR)?,
        workers: vars.number(&setting::WORKERS)? as usize,
        keep_alive: vars.secs(&setting::HTTP_KEEP_ALIVE_SECS)?,
        client_request_timeout: vars.millis(&setting::HTTP_CLIENT_REQUEST_TIMEOUT_MS)?,
        blocking_threads_per_worker: vars.number(&setting::BLOCKING_THREADS_PER_WORKER)? as usize,
        cors_allowed_origins: vars.origins(&setting::CORS_ALLOWED_ORIGINS)?,
        trusted_proxies: vars
            .optional(&setting::TRUSTED_PROXIES, TrustedProxies::parse)?
            .unwrap_or_default(),
        shutdown_drain: vars.secs(&setting::SHUTDOWN_DRAIN_SECS)?,
    })
}

/// The replica when `DATABASE_REPLICA_URL` names one; its other settings are read only then.
fn replica<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<ReplicaConfig>, ConfigError> {
    let Some(url) = vars.optional(&setting::DATABASE_REPLICA_URL, DatabaseUrl::parse)? else {
        return Ok(None);
    };
    Ok(Some(ReplicaConfig {
        url,
        connection_timeout: vars.millis(&setting::DB_REPLICA_TIMEOUT_MS)?,
        max_lag: vars.millis(&setting::DB_REPLICA_MAX_LAG_MS)?,
    }))
}

fn login_throttle<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<LoginThrottleConfig, ConfigError> {
    Ok(LoginThrottleConfig {
        max_failures: vars.number(&setting::LOGIN_THROTTLE_MAX_FAILURES)?,
        max_failures_per_address: vars.number(&setting::LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS)?,
        window: vars.secs(&setting::LOGIN_THROTTLE_WINDOW_SECS)?,
    })
}

/// The machine's cores, which the defaults of WORKERS and the settings that scale with it
/// follow.
fn cores() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const URL: (&str, &str) = (
        "DATABASE_URL",
        "postgres://shop:s3cret@db.internal:6543/shop",
    );

    #[test]
    fn defaults_apply_when_only_the_database_is_set() {
        let config = config_from(&[URL]).unwrap();
        assert_eq!(config.http.bind_addr, "127.0.0.1:8080".parse().unwrap());
        // docs/configuration.md: WORKERS defaults to the cores, DB_POOL_MAX_SIZE to twice that.
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(config.http.workers, cores);
        assert_eq!(config.database.pool_max_size as usize, 2 * cores);
        assert_eq!(
            config.database.pool_connection_timeout,
            Duration::from_secs(3)
        );
        assert!(!config.database.pool_test_on_checkout);
        assert_eq!(config.catalogue_cache_max_age, Duration::ZERO);
        assert_eq!(config.http.shutdown_drain, Duration::from_secs(5));
        assert_eq!(config.database.url.database_name(), "shop");
        assert_eq!(config.database.url.host_description(), "db.internal:6543");
    }

    #[test]
    fn the_code_reads_exactly_the_listed_settings() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let lookup = |name: &str| {
            asked.borrow_mut().insert(name.to_owned());
            // With a replica, so that its settings are read too.
            matches!(name, "DATABASE_URL" | "DATABASE_REPLICA_URL").then(|| URL.1.to_owned())
        };
        Config::from_lookup(lookup).unwrap();
        let listed = defaults::ALL
            .iter()
            .map(|setting| setting.name().to_owned())
            .collect();
        assert_eq!(asked.into_inner(), listed);
    }

    #[test]
    fn missing_database_url_names_the_variable() {
        let err = config_from(&[]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://x/y"),
            ("DATABASE_URL", "postgres://localhost"),
            ("BIND_ADDR", "localhost"),
            ("BIND_ADDR", "no-such-host.invalid:8080"),
            ("RUST_LOG", "warn,foo=[["),
            ("DB_POOL_MAX_SIZE", "0"),
            ("DB_POOL_MAX_SIZE", "lots"),
            ("DB_POOL_TIMEOUT_MS", "-5"),
            ("DB_POOL_TEST_ON_CHECKOUT", "maybe"),
            ("WORKERS", "0"),
            ("CATALOGUE_CACHE_MAX_AGE_SECS", "-1"),
            ("CATALOGUE_CACHE_MAX_AGE_SECS", "1h"),
            ("CATALOGUE_CACHE_MAX_AGE_SECS", "31536001"),
            ("CORS_ALLOWED_ORIGINS", "shop.example.com"),
            ("CORS_ALLOWED_ORIGINS", "https://shop.example.com/"),
            ("CORS_ALLOWED_ORIGINS", "https://shop.example.com:443"),
            ("CORS_ALLOWED_ORIGINS", "ftp://shop.example.com"),
            ("CORS_ALLOWED_ORIGINS", "https://a.example,*"),
            ("GUEST_CART_LIFETIME_SECS", "59"),
            ("GUEST_CART_LIFETIME_SECS", "30d"),
            ("GUEST_CART_MAX_PER_ADDRESS", "0"),
            ("GUEST_CART_WINDOW_SECS", "86401"),
            ("SHUTDOWN_DRAIN_SECS", "-1"),
            ("SHUTDOWN_DRAIN_SECS", "5s"),
            ("SHUTDOWN_DRAIN_SECS", "301"),
        ] {
            let err = config_from(&[URL, (name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{name}={value} gave {err}");
        }
    }

    #[test]
    fn guest_carts_last_30_days_and_are_limited_per_address() {
        let config = config_from(&[URL]).unwrap();
        assert_eq!(config.guest_cart_lifetime, Duration::from_secs(2_592_000));
        assert_eq!(
            config.guest_cart_limit,
            RateLimit {
                max: 300,
                window: Duration::from_secs(3_600)
            }
        );
        let config = config_from(&[
            URL,
            ("GUEST_CART_LIFETIME_SECS", "3600"),
            ("GUEST_CART_MAX_PER_ADDRESS", "7"),
            ("GUEST_CART_WINDOW_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(config.guest_cart_lifetime, Duration::from_secs(3_600));
        assert_eq!(config.guest_cart_limit.max, 7);
        assert_eq!(config.guest_cart_limit.window, Duration::from_secs(60));
    }

    #[test]
    fn shutdown_drain_is_read_in_seconds_and_may_be_zero() {
        let config = config_from(&[URL, ("SHUTDOWN_DRAIN_SECS", "0")]).unwrap();
        assert_eq!(config.http.shutdown_drain, Duration::ZERO);
        let config = config_from(&[URL, ("SHUTDOWN_DRAIN_SECS", "20")]).unwrap();
        assert_eq!(config.http.shutdown_drain, Duration::from_secs(20));
    }

    #[test]
    fn catalogue_max_age_is_read_in_seconds() {
        let config = config_from(&[URL, ("CATALOGUE_CACHE_MAX_AGE_SECS", "300")]).unwrap();
        assert_eq!(config.catalogue_cache_max_age, Duration::from_secs(300));
    }

    #[test]
    fn bind_addr_accepts_a_host_name() {
        let config = config_from(&[URL, ("BIND_ADDR", "localhost:9090")]).unwrap();
        assert!(config.http.bind_addr.ip().is_loopback());
        assert_eq!(config.http.bind_addr.port(), 9090);
    }

    #[test]
    fn cors_origins_are_a_list_or_a_wildcard_and_none_by_default() {
        assert!(config_from(&[URL])
            .unwrap()
            .http
            .cors_allowed_origins
            .is_empty());
        let config = config_from(&[
            URL,
            (
                "CORS_ALLOWED_ORIGINS",
                " https://shop.example.com, http://localhost:3000 ",
            ),
        ])
        .unwrap();
        assert_eq!(
            config.http.cors_allowed_origins,
            ["https://shop.example.com", "http://localhost:3000"]
        );
        let config = config_from(&[URL, ("CORS_ALLOWED_ORIGINS", "*")]).unwrap();
        assert_eq!(config.http.cors_allowed_origins, ["*"]);
    }

    #[test]
    fn min_idle_cannot_exceed_max_size() {
        let err =
            config_from(&[URL, ("DB_POOL_MAX_SIZE", "2"), ("DB_POOL_MIN_IDLE", "3")]).unwrap_err();
        assert_eq!(err.variable, "DB_POOL_MIN_IDLE");
    }

    #[test]
    fn zero_disables_idle_timeout_and_max_lifetime() {
        let config = config_from(&[
            URL,
            ("DB_POOL_IDLE_TIMEOUT_SECS", "0"),
            ("DB_POOL_MAX_LIFETIME_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(config.database.pool_idle_timeout, None);
        assert_eq!(config.database.pool_max_lifetime, None);
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let config = config_from(&[URL]).unwrap();
        let printed = format!("{config:?} {}", config.database.url);
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(config.database.url.expose().contains("s3cret"));
    }

    #[test]
    fn operator_params_win_over_defaults() {
        let url = DatabaseUrl::parse("postgres://h/db?connect_timeout=9").unwrap();
        let url = url
            .with_default_param("connect_timeout", "3")
            .with_default_param("keepalives", "1");
        assert_eq!(
            url.expose(),
            "postgres://h/db?connect_timeout=9&keepalives=1"
        );
    }
}
