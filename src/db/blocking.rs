//! The one way request handling reaches the database: a pooled connection on actix's
//! blocking thread pool.

use actix_web::web;
use diesel::pg::PgConnection;

use super::pool::DbPool;
use crate::http::ApiError;

/// Runs `work` with a pooled connection on the blocking thread pool: the checkout (which
/// may wait for a free connection) and the query both stay off the async workers. A pool
/// timeout becomes a 503; a panic in `work` a 500.
pub async fn with_conn<T, F>(pool: &DbPool, work: F) -> Result<T, ApiError>
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
