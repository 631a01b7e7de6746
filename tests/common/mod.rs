//! Test harness: a real PostgreSQL, a database per test, the real server on port 0.
//!
//! Once per test process a template database is created and migrated; each test then
//! gets its own database cloned from it (`CREATE DATABASE .. TEMPLATE ..`, a file copy, far
//! cheaper than migrating), dropped when the test's `TestDb` goes out of scope, even when
//! the test panics. The template is dropped when the process exits; databases left by a
//! killed run are swept at the next start. Names are `<prefix>_<pid>_<n>`, the prefix
//! being the database named in `.env.test`'s DATABASE_URL.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod proxy;
pub mod streaming;

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use storefront::config::{
    Config, DatabaseConfig, DatabaseUrl, HttpConfig, LoginThrottleConfig, RateLimit,
    SearchConcurrency, TrustedProxies,
};
use storefront::db::{self, DbPool};
use storefront::startup::Services;
use storefront::telemetry::Metrics;

/// Where the test databases live, from `.env.test` (an exported DATABASE_URL wins).
pub fn server_url() -> &'static DatabaseUrl {
    static URL: OnceLock<DatabaseUrl> = OnceLock::new();
    URL.get_or_init(|| {
        let _ = dotenvy::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.test"));
        let raw = std::env::var("DATABASE_URL").expect("DATABASE_URL (see .env.test)");
        DatabaseUrl::parse(&raw).expect("DATABASE_URL in .env.test is a postgres URL")
    })
}

fn prefix() -> String {
    server_url().database_name().to_owned()
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(server_url().with_database("postgres").expose())
        .expect("test PostgreSQL server reachable (is it running? see README)")
}

fn drop_database(conn: &mut PgConnection, name: &str) {
    // FORCE (PostgreSQL 13+) ends the connections a test's server still holds.
    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .unwrap_or_else(|err| eprintln!("could not drop test database {name}: {err}"));
}

fn template_name() -> String {
    format!("{}_{}_template", prefix(), std::process::id())
}

/// Creates and migrates this process's template once; registers its removal at exit.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut admin = admin_connection();
        sweep_stale_databases(&mut admin);
        let name = template_name();
        drop_database(&mut admin, &name);
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create template database");
        let mut conn = PgConnection::establish(server_url().with_database(&name).expose())
            .expect("connect to template database");
        db::run_pending_migrations(&mut conn).expect("migrate template database");
        drop(conn); // a template with open connections cannot be cloned
                    // SAFETY: registering a plain `extern "C" fn` with no captured state.
        unsafe { libc::atexit(drop_process_databases) };
        name
    })
}

extern "C" fn drop_process_databases() {
    let result = std::panic::catch_unwind(|| {
        let mut admin = admin_connection();
        drop_database(&mut admin, &template_name());
        drop_database(&mut admin, &shared_database_name());
    });
    if result.is_err() {
        eprintln!("could not drop this test process's template databases");
    }
}

/// Drops databases of test processes that no longer run (a run killed before its exit
/// hooks). The pid in the name tells whose a database is.
fn sweep_stale_databases(admin: &mut PgConnection) {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        datname: String,
    }
    let pattern = format!("{}\\_%", prefix());
    let names: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind::<Text, _>(&pattern)
            .load(admin)
            .unwrap_or_default();
    for Name { datname } in names {
        let pid = datname[prefix().len() + 1..]
            .split('_')
            .next()
            .unwrap_or("");
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            drop_database(admin, &datname);
        }
    }
}

fn unique_name(kind: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}_{}_{kind}{n}", prefix(), std::process::id())
}

/// A database of one test's own, dropped when this value is.
pub struct TestDb {
    name: String,
    url: DatabaseUrl,
}

impl TestDb {
    /// A migrated database, cloned from the template.
    pub fn new() -> Self {
        let template = template();
        let name = unique_name("db");
        admin_connection()
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .expect("clone template database");
        Self::named(name)
    }

    /// A database with no schema at all, for migration tests.
    pub fn empty() -> Self {
        let name = unique_name("empty");
        admin_connection()
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create empty database");
        Self::named(name)
    }

    /// A name for a database that does not exist yet; dropped (if created) at the end.
    pub fn not_yet_created() -> Self {
        Self::named(unique_name("new"))
    }

    fn named(name: String) -> Self {
        let url = server_url().with_database(&name);
        Self { name, url }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(self.url.expose()).expect("connect to test database")
    }

    pub fn database_config(&self) -> DatabaseConfig {
        database_config(self.url.clone())
    }

    pub fn pool(&self) -> DbPool {
        db::build_pool(&self.database_config(), Metrics::new().pool_events())
            .expect("build pool for test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut conn = admin_connection();
        drop_database(&mut conn, &self.name);
        // A test payment gateway started for this database keeps its state beside it.
        drop_database(&mut conn, &format!("{}_payment_gateway", self.name));
    }
}

/// Pool settings for tests: small, and quick to give up so failure tests stay fast.
pub fn database_config(url: DatabaseUrl) -> DatabaseConfig {
    DatabaseConfig {
        url,
        pool_max_size: 4,
        pool_min_idle: 0,
        pool_connection_timeout: Duration::from_millis(1_500),
        pool_idle_timeout: None,
        pool_max_lifetime: None,
        pool_test_on_checkout: false,
        connect_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(10),
        slow_query_threshold: Duration::from_secs(1),
    }
}

fn shared_database_name() -> String {
    format!("{}_{}_shared", prefix(), std::process::id())
}

/// Runs `test` inside a transaction that is always rolled back, on a database this
/// process shares between such tests (cloned once). For pure query tests, where a
/// database per test would be waste. `now()` is frozen within a transaction, so tests of
/// timestamps use `TestDb` instead.
pub fn in_rolled_back_transaction<T>(test: impl FnOnce(&mut PgConnection) -> T) -> T {
    static SHARED: OnceLock<String> = OnceLock::new();
    let name = SHARED.get_or_init(|| {
        let template = template();
        let name = shared_database_name();
        admin_connection()
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .expect("clone shared database");
        name
    });
    let mut conn = PgConnection::establish(server_url().with_database(name).expose())
        .expect("connect to shared test database");
    conn.begin_test_transaction()
        .expect("begin test transaction");
    test(&mut conn)
}

/// The migrations in `migrations/`, oldest first, as (directory name, version): the
/// version is the name's date part less its dashes, as Diesel records it.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn migrations() -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .expect("read migrations/")
            .map(|entry| {
                let name = entry.expect("a migration").file_name().into_string();
                let name = name.expect("a UTF-8 migration name");
                let version = name.split('_').next().unwrap_or_default().replace('-', "");
                (name, version)
            })
            .collect();
    found.sort();
    found
}

/// The service's configuration for a test: small pool, one worker, generous throttle.
pub fn test_config(db: &TestDb, bind_addr: std::net::SocketAddr) -> Config {
    Config {
        database: db.database_config(),
        http: HttpConfig {
            bind_addr,
            workers: 1,
            keep_alive: Duration::from_secs(75),
            client_request_timeout: Duration::from_secs(5),
            blocking_threads_per_worker: 16,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            // In-process servers handle no signals (only `serve` does).
            shutdown_drain: Duration::ZERO,
        },
        replica: None,
        migration_url: None,
        migrations_allow_modified: false,
        session_lifetime: Duration::from_secs(3600),
        login_throttle: LoginThrottleConfig {
            max_failures: 3,
            max_failures_per_address: 20,
            window: Duration::from_secs(60),
        },
        // Tests register many users from one address; the limit's own test lowers it.
        registration_limit: RateLimit {
            max: 10_000,
            window: Duration::from_secs(3600),
        },
        guest_cart_lifetime: Duration::from_secs(86_400),
        // Tests create many guest carts from one address; the limit's own test lowers it.
        guest_cart_limit: RateLimit {
            max: 10_000,
            window: Duration::from_secs(3600),
        },
        // As in production; the sweeps' own tests shorten it.
        sweep_interval: Duration::from_secs(60),
        order_payment_window: None,
        prices_include_tax: true,
        low_stock_threshold: 5,
        // Tests' receivers listen on 127.0.0.1; the guard's own test turns this off.
        webhooks: storefront::config::WebhooksConfig {
            allow_private_targets: true,
            retry_schedule: vec![Duration::from_secs(1), Duration::from_secs(1)],
        },
        payments: storefront::config::PaymentsConfig {
            // Nothing listens there: payment tests start a gateway and point at it.
            gateway_url: Some("http://127.0.0.1:1".into()),
            gateway_bind: "127.0.0.1:0".parse().expect("an address"),
            gateway_database: db
                .url()
                .with_database(&format!("{}_payment_gateway", db.name())),
            gateway_timeout: Duration::from_secs(5),
            webhook_url: "http://127.0.0.1:1/api/v1/payments/webhooks/test".into(),
            webhook_secret: None,
        },
        password_queue_timeout: Duration::from_secs(10),
        // As in production; the lane's own test narrows it.
        search_concurrency: SearchConcurrency {
            max_concurrent: 2,
            queue_timeout: Duration::from_secs(5),
        },
        catalogue_cache_max_age: Duration::ZERO,
        // The harness installs no subscriber; nothing reads this.
        log_filter: "warn".into(),
    }
}

/// The real server, on a free port, over a database of its own.
pub struct TestApp {
    pub address: String,
    pub pool: DbPool,
    pub client: reqwest::Client,
    // Shared by every instance started on it; dropped with the last one, taking the
    // servers' connections with it.
    pub db: Arc<TestDb>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_configured(Arc::new(TestDb::new()), |_| {})
    }

    /// Another instance of the service on this one's database.
    pub fn another_instance(&self) -> Self {
        Self::spawn_configured(self.db.clone(), |_| {})
    }

    /// Spawns with `adjust` applied to the test configuration (pool included) first.
    pub fn spawn_configured(db: Arc<TestDb>, adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let local = listener.local_addr().expect("local addr");
        let address = format!("http://{local}");
        let mut config = test_config(&db, local);
        adjust(&mut config);
        let services = Services::connect(&config).expect("connect to test database");
        let pool = services.pool.clone();
        let server =
            storefront::startup::build_server(listener, services, &config).expect("build server");
        tokio::spawn(server);
        Self {
            address,
            pool,
            client: reqwest::Client::new(),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the server")
    }
}
