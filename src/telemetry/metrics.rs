//! Prometheus metrics: request counts and latency per route pattern and status class,
//! the r2d2 pool's state, waits and timeouts, and build info. One registry per app, so
//! several servers in one process (tests) keep separate figures.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
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

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    pool: Arc<PoolEvents>,
}

/// Pool events r2d2 reports as they happen (its event handler).
#[derive(Debug)]
pub struct PoolEvents {
    checkout_wait: Histogram,
    timeouts: IntCounter,
}

impl r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        self.checkout_wait.observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, _event: r2d2::event::TimeoutEvent) {
        self.timeouts.inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
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
        let pool_size =
            IntGauge::new("db_pool_connections", "Open connections in the pool").expect("valid");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle connections in the pool")
            .expect("valid");
        let pool_max =
            IntGauge::new("db_pool_max_size", "Most connections the pool opens").expect("valid");
        let checkout_wait = Histogram::with_opts(
            HistogramOpts::new(
                "db_pool_checkout_wait_seconds",
                "Time requests waited for a connection",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric definition");
        let timeouts = IntCounter::new(
            "db_pool_timeouts_total",
            "Checkouts that gave up waiting (answered 503)",
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

        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(checkout_wait.clone()),
            Box::new(timeouts.clone()),
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
            pool: Arc::new(PoolEvents {
                checkout_wait,
                timeouts,
            }),
        }
    }

    /// The handler to give r2d2, feeding this registry.
    pub fn pool_events(&self) -> Box<dyn r2d2::HandleEvent> {
        Box::new(SharedPoolEvents(self.pool.clone()))
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

#[derive(Debug)]
struct SharedPoolEvents(Arc<PoolEvents>);

impl r2d2::HandleEvent for SharedPoolEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        self.0.handle_checkout(event);
    }

    fn handle_timeout(&self, event: r2d2::event::TimeoutEvent) {
        self.0.handle_timeout(event);
    }
}

/// The Prometheus text exposition of every metric, with the pool gauges set to `state`.
pub fn render(metrics: &Metrics, state: PoolState) -> String {
    metrics.pool_size.set(i64::from(state.connections));
    metrics.pool_idle.set(i64::from(state.idle_connections));
    metrics.pool_max.set(i64::from(state.max_size));
    let mut buffer = Vec::new();
    if let Err(err) = TextEncoder::new().encode(&metrics.registry.gather(), &mut buffer) {
        tracing::error!(%err, "could not encode metrics");
    }
    String::from_utf8(buffer).unwrap_or_default()
}
