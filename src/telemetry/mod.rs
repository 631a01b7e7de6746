//! Observability: the per-request log line and request id, Prometheus metrics, and the
//! slow-query log.

mod metrics;
mod request_log;
mod slow_query;

pub use metrics::{render as render_metrics, Metrics, PoolEvents, PoolState};
pub use request_log::{observe_request, REQUEST_ID_HEADER};
pub use slow_query::SlowQueryLog;
