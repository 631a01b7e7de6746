//! Observability: the per-request log line and request id, the client address it names,
//! Prometheus metrics, the slow-query log, and the level of clients' parse errors.

mod client_addr;
mod client_faults;
mod metrics;
mod request_log;
mod slow_query;

pub use client_addr::client_addr;
pub use client_faults::ClientFaultsBelowError;
pub use metrics::{render as render_metrics, Metrics, PoolEvents, PoolState, PRIMARY, REPLICA};
pub use request_log::{observe_request, REQUEST_ID_HEADER};
pub use slow_query::SlowQueryLog;
