//! HTTP routes: the route table, and the one helper through which handlers reach the
//! database.

pub mod cart;
mod cursor;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod orders;
pub mod products;
pub mod sessions;
pub mod users;

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::pg::PgConnection;

use crate::db::DbPool;
use crate::error::ApiError;

/// Every route of the service. Resource routes live under `/api/v1`; probes at the root.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(metrics::configure)
        .configure(crate::openapi::configure)
        .service(
            web::scope("/api/v1")
                .configure(users::configure)
                .configure(sessions::configure)
                .configure(products::configure)
                .configure(cart::configure)
                .configure(orders::configure),
        );
}

/// Runs `work` with a pooled connection on actix's blocking thread pool: the checkout
/// (which may wait for a free connection) and the query both stay off the async workers.
/// A pool timeout becomes a 503; a panic in `work` a 500.
pub async fn with_conn<T, F>(pool: &web::Data<DbPool>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// The answer for paths no route matches.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
