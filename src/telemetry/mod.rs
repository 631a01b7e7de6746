//! Observability below the HTTP edge: Prometheus metrics and the slow-query log. (The
//! per-request log line, the client address and the level of clients' parse errors are
//! HTTP and live in `http`.)

mod metrics;
mod slow_query;

pub use metrics::{render as render_metrics, Metrics, PoolEvents, PoolState, PRIMARY, REPLICA};
pub use slow_query::SlowQueryLog;
