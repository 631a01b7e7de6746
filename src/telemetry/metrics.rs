//! Prometheus metrics: request counts and latency per route pattern and status class,
//! each connection pool's state, waits and timeouts (labelled `pool="primary"` or
//! `pool="replica"`), catalogue reads per pool, and build info. One registry per app, so
//! several servers in one process (tests) keep separate figures.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// A snapshot of a connection pool, as the pool gauges (and readiness) report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub max_size: u32,
    pub connections: u32,
    pub idle_connections: u32,
}

/// Latency buckets in seconds: 1 ms to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The primary's label; the replica's is `"replica"`.
pub const PRIMARY: &str = "primary";
pub const REPLICA: &str = "replica";

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_size: IntGaugeVec,
    pool_idle: IntGaugeVec,
    pool_max: IntGaugeVec,
    checkout_wait: HistogramVec,
    timeouts: IntCounterVec,
    catalogue_reads: IntCounterVec,
    job_rounds: IntCounterVec,
    job_rows: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    webhook_oldest_undelivered: prometheus::IntGauge,
}

/// Pool events r2d2 reports as they happen (its event handler), for one pool.
#[derive(Debug)]
pub struct PoolEvents {
    pool: &'static str,
    checkout_wait: HistogramVec,
    timeouts: IntCounterVec,
}

impl r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        self.checkout_wait
            .with_label_values(&[self.pool])
            .observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, _event: r2d2::event::TimeoutEvent) {
        self.timeouts.with_label_values(&[self.pool]).inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn per_pool_gauge(name: &str, help: &str) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), &["pool"]).expect("valid metric definition")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern and status class",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer, by route pattern and status class",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("valid metric definition");
        let pool_size = per_pool_gauge("db_pool_connections", "Open connections in the pool");
        let pool_idle = per_pool_gauge("db_pool_idle_connections", "Idle connections in the pool");
        let pool_max = per_pool_gauge("db_pool_max_size", "Most connections the pool opens");
        let checkout_wait = HistogramVec::new(
            HistogramOpts::new(
                "db_pool_checkout_wait_seconds",
                "Time requests waited for a connection",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["pool"],
        )
        .expect("valid metric definition");
        let timeouts = IntCounterVec::new(
            Opts::new(
                "db_pool_timeouts_total",
                "Checkouts that gave up waiting (answered 503, or for the replica: read from the primary)",
            ),
            &["pool"],
        )
        .expect("valid metric definition");
        let catalogue_reads = IntCounterVec::new(
            Opts::new(
                "db_catalogue_reads_total",
                "Anonymous catalogue reads, by the pool that served them",
            ),
            &["pool"],
        )
        .expect("valid metric definition");
        let job_rounds = IntCounterVec::new(
            Opts::new(
                "background_job_rounds_total",
                "Rounds of each background job, by outcome (ok, error)",
            ),
            &["job", "outcome"],
        )
        .expect("valid metric definition");
        let job_rows = IntCounterVec::new(
            Opts::new(
                "background_job_rows_total",
                "Rows each background job handled (swept, expired, sent)",
            ),
            &["job"],
        )
        .expect("valid metric definition");
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts to other systems, by outcome (delivered, retry, failed, gone)",
            ),
            &["outcome"],
        )
        .expect("valid metric definition");
        let webhook_oldest_undelivered = prometheus::IntGauge::new(
            "webhook_oldest_undelivered_seconds",
            "Age of the oldest event not yet delivered to an endpoint that wants it (0: none)",
        )
        .expect("valid metric definition");
        let build_info = IntGaugeVec::new(
            Opts::new("storefront_build_info", "Build information"),
            &["version"],
        )
        .expect("valid metric definition");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        // Present from the start, so a scrape shows 0 rather than nothing.
        timeouts.with_label_values(&[PRIMARY]);
        checkout_wait.with_label_values(&[PRIMARY]);
        catalogue_reads.with_label_values(&[PRIMARY]);

        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(checkout_wait.clone()),
            Box::new(timeouts.clone()),
            Box::new(catalogue_reads.clone()),
            Box::new(job_rounds.clone()),
            Box::new(job_rows.clone()),
            Box::new(webhook_deliveries.clone()),
            Box::new(webhook_oldest_undelivered.clone()),
            Box::new(build_info),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            pool_size,
            pool_idle,
            pool_max,
            checkout_wait,
            timeouts,
            catalogue_reads,
            job_rounds,
            job_rows,
            webhook_deliveries,
            webhook_oldest_undelivered,
        }
    }

    /// Counts one webhook delivery attempt by its outcome.
    pub fn observe_webhook_delivery(&self, outcome: &str) {
        self.webhook_deliveries.with_label_values(&[outcome]).inc();
    }

    /// The age in seconds of the oldest undelivered event (0 when none waits).
    pub fn set_webhook_oldest_undelivered(&self, seconds: i64) {
        self.webhook_oldest_undelivered.set(seconds);
    }

    /// The handler to give the primary's r2d2 pool, feeding this registry.
    pub fn pool_events(&self) -> Box<dyn r2d2::HandleEvent> {
        self.pool_events_for(PRIMARY)
    }

    /// The handler for the pool labelled `pool`.
    pub fn pool_events_for(&self, pool: &'static str) -> Box<dyn r2d2::HandleEvent> {
        self.timeouts.with_label_values(&[pool]);
        self.checkout_wait.with_label_values(&[pool]);
        self.catalogue_reads.with_label_values(&[pool]);
        Box::new(PoolEvents {
            pool,
            checkout_wait: self.checkout_wait.clone(),
            timeouts: self.timeouts.clone(),
        })
    }

    /// Counts a catalogue read served by the pool labelled `pool`.
    pub fn observe_catalogue_read(&self, pool: &str) {
        self.catalogue_reads.with_label_values(&[pool]).inc();
    }

    /// Counts one round of the background job `job` and the rows it handled.
    pub fn observe_job_round(&self, job: &str, ok: bool, rows: usize) {
        let outcome = if ok { "ok" } else { "error" };
        self.job_rounds.with_label_values(&[job, outcome]).inc();
        self.job_rows.with_label_values(&[job]).inc_by(rows as u64);
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .with_label_values(&[method, route, class])
            .inc();
        self.latency
            .with_label_values(&[method, route, class])
            .observe(elapsed.as_secs_f64());
    }
}

/// The Prometheus text exposition of every metric, with the pool gauges set to the
/// states given (one per pool label).
pub fn render(metrics: &Metrics, pools: &[(&str, PoolState)]) -> String {
    for (pool, state) in pools {
        let labels = [*pool];
        metrics
            .pool_size
            .with_label_values(&labels)
            .set(i64::from(state.connections));
        metrics
            .pool_idle
            .with_label_values(&labels)
            .set(i64::from(state.idle_connections));
        metrics
            .pool_max
            .with_label_values(&labels)
            .set(i64::from(state.max_size));
    }
    let mut buffer = Vec::new();
    if let Err(err) = TextEncoder::new().encode(&metrics.registry.gather(), &mut buffer) {
        tracing::error!(%err, "could not encode metrics");
    }
    String::from_utf8(buffer).unwrap_or_default()
}
