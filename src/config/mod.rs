//! Typed configuration, read once at start from the environment (and `.env`, via dotenvy).
//!
//! Every setting is validated here, so a typo stops the start with one message naming the
//! variable and the form it expects, instead of surfacing later as a confusing runtime error.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use url::Url;

mod trusted_proxies;

pub use trusted_proxies::TrustedProxies;

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

/// Connection and pool settings; docs/configuration.md lists the defaults.
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

/// A PostgreSQL connection URL. Its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Url);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|err| format!("not a URL ({err})"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err("expected a postgres:// or postgresql:// URL".into());
        }
        let url = Self(url);
        if url.database_name().is_empty() {
            return Err("the URL names no database (postgres://user@host:5432/dbname)".into());
        }
        Ok(url)
    }

    /// The full URL, password included: only for handing to libpq.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn database_name(&self) -> &str {
        self.0.path().trim_start_matches('/')
    }

    /// `host:port` as libpq will dial it, for error messages.
    pub fn host_description(&self) -> String {
        let socket_dir = self
            .0
            .query_pairs()
            .find(|(key, _)| key == "host")
            .map(|(_, value)| value.into_owned());
        let host = self
            .0
            .host_str()
            .filter(|host| !host.is_empty())
            .map(str::to_owned)
            .or(socket_dir)
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}:{}", self.0.port().unwrap_or(5432))
    }

    /// The same server, another database (used to create ours, and by the test harness).
    pub fn with_database(&self, name: &str) -> Self {
        let mut url = self.0.clone();
        url.set_path(&format!("/{name}"));
        Self(url)
    }

    /// Adds a libpq parameter unless the URL already sets it, so the operator's choice wins.
    pub fn with_default_param(&self, key: &str, value: &str) -> Self {
        if self.0.query_pairs().any(|(k, _)| k == key) {
            return self.clone();
        }
        let mut url = self.0.clone();
        url.query_pairs_mut().append_pair(key, value);
        Self(url)
    }

    fn redacted(&self) -> String {
        let mut url = self.0.clone();
        if url.password().is_some() {
            // Cannot fail: the URL has a host, or it would have no password.
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A setting that is missing or malformed. Displays as one line naming the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
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
        let vars = Vars(&lookup);
        let database = DatabaseConfig {
            url: vars.required("DATABASE_URL", DatabaseUrl::parse)?,
            pool_max_size: vars.number("DB_POOL_MAX_SIZE", 2 * default_workers(), 1..=1000)?,
            pool_min_idle: vars.number("DB_POOL_MIN_IDLE", 1, 0..=1000)?,
            pool_connection_timeout: vars.millis("DB_POOL_TIMEOUT_MS", 3_000, 1..=600_000)?,
            pool_idle_timeout: vars.optional_secs("DB_POOL_IDLE_TIMEOUT_SECS", 600)?,
            pool_max_lifetime: vars.optional_secs("DB_POOL_MAX_LIFETIME_SECS", 1_800)?,
            pool_test_on_checkout: vars.boolean("DB_POOL_TEST_ON_CHECKOUT", false)?,
            connect_timeout: Duration::from_secs(
                vars.number("DB_CONNECT_TIMEOUT_SECS", 3, 1..=600)?.into(),
            ),
            statement_timeout: vars.millis("DB_STATEMENT_TIMEOUT_MS", 5_000, 1..=3_600_000)?,
            slow_query_threshold: vars.millis("SLOW_QUERY_MS", 200, 1..=3_600_000)?,
        };
        if database.pool_min_idle > database.pool_max_size {
            return Err(ConfigError {
                variable: "DB_POOL_MIN_IDLE",
                problem: format!(
                    "must not exceed DB_POOL_MAX_SIZE ({})",
                    database.pool_max_size
                ),
            });
        }
        let http = HttpConfig {
            bind_addr: vars.socket_addr("BIND_ADDR", "127.0.0.1:8080")?,
            workers: vars.number("WORKERS", default_workers(), 1..=1024)? as usize,
            keep_alive: Duration::from_secs(
                vars.number("HTTP_KEEP_ALIVE_SECS", 75, 1..=3_600)?.into(),
            ),
            client_request_timeout: vars.millis(
                "HTTP_CLIENT_REQUEST_TIMEOUT_MS",
                5_000,
                1..=600_000,
            )?,
            blocking_threads_per_worker: vars.number("BLOCKING_THREADS_PER_WORKER", 4, 1..=512)?
                as usize,
            cors_allowed_origins: vars.origins("CORS_ALLOWED_ORIGINS")?,
            trusted_proxies: vars
                .optional("TRUSTED_PROXIES", TrustedProxies::parse)?
                .unwrap_or_default(),
            shutdown_drain: vars.secs("SHUTDOWN_DRAIN_SECS", 5, 0..=300)?,
        };
        let replica = vars
            .optional("DATABASE_REPLICA_URL", DatabaseUrl::parse)?
            .map(|url| -> Result<ReplicaConfig, ConfigError> {
                Ok(ReplicaConfig {
                    url,
                    connection_timeout: vars.millis("DB_REPLICA_TIMEOUT_MS", 250, 1..=60_000)?,
                    max_lag: vars.millis("DB_REPLICA_MAX_LAG_MS", 1_000, 1..=3_600_000)?,
                })
            })
            .transpose()?;
        let session_lifetime = Duration::from_secs(
            vars.number("SESSION_LIFETIME_SECS", 86_400, 60..=31_536_000)?
                .into(),
        );
        let login_throttle = LoginThrottleConfig {
            max_failures: vars.number("LOGIN_THROTTLE_MAX_FAILURES", 5, 1..=1_000)?,
            max_failures_per_address: vars.number(
                "LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS",
                50,
                1..=1_000_000,
            )?,
            window: vars.secs("LOGIN_THROTTLE_WINDOW_SECS", 300, 1..=86_400)?,
        };
        let registration_limit = RateLimit {
            max: vars.number("REGISTRATION_MAX_PER_ADDRESS", 20, 1..=1_000_000)?,
            window: vars.secs("REGISTRATION_WINDOW_SECS", 3_600, 1..=86_400)?,
        };
        let guest_cart_lifetime =
            vars.secs("GUEST_CART_LIFETIME_SECS", 2_592_000, 60..=31_536_000)?;
        // Generous on purpose: a carrier NAT puts many shoppers behind one address, and
        // each new visitor creates one cart (docs/api.md, "Guest carts").
        let guest_cart_limit = RateLimit {
            max: vars.number("GUEST_CART_MAX_PER_ADDRESS", 300, 1..=1_000_000)?,
            window: vars.secs("GUEST_CART_WINDOW_SECS", 3_600, 1..=86_400)?,
        };
        let password_queue_timeout =
            vars.millis("PASSWORD_QUEUE_TIMEOUT_MS", 2_000, 1..=600_000)?;
        let search_concurrency = SearchConcurrency {
            max_concurrent: vars.number(
                "SEARCH_MAX_CONCURRENT",
                default_workers().div_ceil(2),
                1..=1_024,
            )?,
            queue_timeout: vars.millis("SEARCH_QUEUE_TIMEOUT_MS", 1_000, 1..=600_000)?,
        };
        let catalogue_cache_max_age =
            vars.secs("CATALOGUE_CACHE_MAX_AGE_SECS", 0, 0..=31_536_000)?;
        let log_filter = vars.log_filter("RUST_LOG", "info")?;
        let migration_url = vars.optional("DATABASE_MIGRATION_URL", DatabaseUrl::parse)?;
        let migrations_allow_modified = vars.boolean("MIGRATIONS_ALLOW_MODIFIED", false)?;
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
            password_queue_timeout,
            search_concurrency,
            catalogue_cache_max_age,
            log_filter,
        })
    }
}

impl Config {
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

fn default_workers() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
}

/// Typed accessors over a variable source; each error names its variable.
struct Vars<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn required<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        self.optional(name, parse)?.ok_or_else(|| ConfigError {
            variable: name,
            problem: "is not set (see .env.example)".into(),
        })
    }

    /// `host:port`; a host name is resolved now, so a typo fails the start, not the bind.
    fn socket_addr(&self, name: &'static str, default: &str) -> Result<SocketAddr, ConfigError> {
        let raw = self.get(name).unwrap_or_else(|| default.to_owned());
        let error = || ConfigError {
            variable: name,
            problem: format!("expected host:port such as 127.0.0.1:8080, got {raw:?}"),
        };
        if let Ok(addr) = raw.trim().parse() {
            return Ok(addr);
        }
        raw.trim()
            .to_socket_addrs()
            .map_err(|_| error())?
            .next()
            .ok_or_else(error)
    }

    /// A comma-separated list of origins exactly as browsers send them (scheme, host and
    /// port if not the default; no path, no trailing slash), or `*`.
    fn origins(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(Vec::new());
        };
        let origins: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect();
        if origins == ["*"] {
            return Ok(origins);
        }
        for origin in &origins {
            let canonical = Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .map(|url| url.origin().ascii_serialization());
            if canonical.as_deref() != Some(origin.as_str()) {
                return Err(ConfigError {
                    variable: name,
                    problem: format!(
                        "expected * or origins such as https://shop.example.com,http://localhost:3000 \
                         (scheme://host[:port], no path), got {origin:?}"
                    ),
                });
            }
        }
        Ok(origins)
    }

    fn log_filter(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let raw = self.get(name).unwrap_or_else(|| default.to_owned());
        tracing_subscriber::EnvFilter::try_new(raw.trim()).map_err(|err| ConfigError {
            variable: name,
            problem: format!(
                "expected a log filter such as info or storefront=debug ({err}), got {raw:?}"
            ),
        })?;
        Ok(raw.trim().to_owned())
    }

    fn number(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<u32>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(ConfigError {
                variable: name,
                problem: format!(
                    "expected a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            }),
        }
    }

    fn millis(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Duration, ConfigError> {
        let millis = self.number(name, default, range)?;
        Ok(Duration::from_millis(millis.into()))
    }

    fn secs(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(
            self.number(name, default, range)?.into(),
        ))
    }

    /// A setting without a default: `None` when unset or empty.
    fn optional<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|raw| {
                parse(raw.trim()).map_err(|problem| ConfigError {
                    variable: name,
                    problem,
                })
            })
            .transpose()
    }

    /// Seconds, where 0 means "never".
    fn optional_secs(
        &self,
        name: &'static str,
        default: u32,
    ) -> Result<Option<Duration>, ConfigError> {
        let secs = self.number(name, default, 0..=31_536_000)?;
        Ok((secs > 0).then(|| Duration::from_secs(secs.into())))
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError {
                variable: name,
                problem: format!("expected true or false, got {raw:?}"),
            }),
        }
    }
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
