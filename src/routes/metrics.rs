//! `GET /metrics`: Prometheus text exposition for the operator's scraper.

use actix_web::{web, HttpResponse};

use crate::db::{pool_state, CatalogueReads, DbPool};
use crate::telemetry::{render_metrics, Metrics, PRIMARY, REPLICA};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

/// Prometheus metrics.
///
/// Request counts and latency per route and status class, pool state per pool
/// (`pool="primary"|"replica"`), pool waits and timeouts, catalogue reads per pool.
/// Text exposition format.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
async fn metrics(
    metrics: web::Data<Metrics>,
    pool: web::Data<DbPool>,
    reads: web::Data<CatalogueReads>,
) -> HttpResponse {
    let mut pools = vec![(PRIMARY, pool_state(&pool))];
    pools.extend(reads.replica_pool_state().map(|state| (REPLICA, state)));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render_metrics(&metrics, &pools))
}
