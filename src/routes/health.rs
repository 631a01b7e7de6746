//! Probes for orchestrators: liveness (the process answers) and readiness (it can reach
//! its database).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, CatalogueReads, DbPool, SchemaState};
use crate::http::schemas::string_enum;
use crate::http::with_conn;
use crate::http::{ApiError, Problem};
use crate::repository;
use crate::shutdown::Draining;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").route(web::get().to(live)))
        .service(web::resource("/health/ready").route(web::get().to(ready)));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveResponse {
    #[schema(schema_with = ok_schema)]
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    #[schema(schema_with = ready_schema)]
    status: &'static str,
    #[schema(schema_with = up_schema)]
    database: &'static str,
    /// `none` without a replica; `up`, `lagging` (further behind than allowed: reads go
    /// to the primary) or `down`. Readiness does not depend on it.
    #[schema(schema_with = replica_schema)]
    replica: &'static str,
    pool: PoolState,
}

// The closed sets of values the probes answer with.
fn ok_schema() -> utoipa::openapi::Object {
    string_enum(["ok"])
}

fn ready_schema() -> utoipa::openapi::Object {
    string_enum(["ready"])
}

fn up_schema() -> utoipa::openapi::Object {
    string_enum(["up"])
}

fn replica_schema() -> utoipa::openapi::Object {
    string_enum(["none", "up", "lagging", "down"])
}

/// A snapshot of the pool for readiness and metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolState {
    max_size: u32,
    connections: u32,
    idle_connections: u32,
}

impl From<crate::telemetry::PoolState> for PoolState {
    fn from(state: crate::telemetry::PoolState) -> Self {
        Self {
            max_size: state.max_size,
            connections: state.connections,
            idle_connections: state.idle_connections,
        }
    }
}

/// Liveness probe.
///
/// 200 while the process can serve HTTP at all; touches nothing else.
#[utoipa::path(get, path = "/health/live", operation_id = "get_liveness", tag = "operations",
    responses((status = 200, description = "The process serves HTTP", body = LiveResponse)))]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(LiveResponse { status: "ok" })
}

/// Readiness probe.
///
/// 200 with the pool's state (and the replica's, if any) once a pooled connection
/// answers `SELECT 1`; 503 problem+json when the database is unreachable or the pool
/// has no connection to spare, and from SIGTERM on (the instance is draining; it still
/// serves other routes until it stops). The replica's health does not decide readiness.
#[utoipa::path(get, path = "/health/ready", operation_id = "get_readiness", tag = "operations",
    responses((status = 200, description = "The database answers", body = ReadyResponse),
        (status = 503, description = "Database unavailable or pool exhausted (Retry-After), or the instance is draining before it stops (SIGTERM; no Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn ready(
    pool: web::Data<DbPool>,
    reads: web::Data<CatalogueReads>,
    schema: web::Data<SchemaState>,
    draining: web::Data<Draining>,
) -> Result<HttpResponse, ApiError> {
    if draining.is_draining() {
        return Err(ApiError::Draining);
    }
    if !schema.is_ready() {
        return Err(ApiError::ServiceUnavailable(
            "schema migrations not applied yet".into(),
        ));
    }
    with_conn(&pool, |conn| Ok(repository::ping(conn)?)).await?;
    Ok(HttpResponse::Ok().json(ReadyResponse {
        status: "ready",
        database: "up",
        replica: reads.replica_health().as_str(),
        pool: db::pool_state(&pool).into(),
    }))
}
