//! Probes for orchestrators: liveness (the process answers) and readiness (it can reach
//! its database).

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::with_conn;
use crate::db::{pool_state, DbPool, PoolState};
use crate::error::{ApiError, Problem};
use crate::startup::SchemaState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").route(web::get().to(live)))
        .service(web::resource("/health/ready").route(web::get().to(ready)));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveResponse {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    #[schema(example = "ready")]
    status: &'static str,
    #[schema(example = "up")]
    database: &'static str,
    pool: PoolState,
}

/// 200 while the process can serve HTTP at all; touches nothing else.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process serves HTTP", body = LiveResponse)))]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(LiveResponse { status: "ok" })
}

/// 200 with the pool's state once a pooled connection answers `SELECT 1`; 503
/// problem+json when the database is unreachable or the pool has no connection to spare.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, description = "The database answers", body = ReadyResponse), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn ready(
    pool: web::Data<DbPool>,
    schema: web::Data<SchemaState>,
) -> Result<HttpResponse, ApiError> {
    if !schema.is_ready() {
        return Err(ApiError::ServiceUnavailable(
            "schema migrations not applied yet".into(),
        ));
    }
    with_conn(&pool, |conn| {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReadyResponse {
        status: "ready",
        database: "up",
        pool: pool_state(&pool),
    }))
}
