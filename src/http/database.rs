//! Database work for handlers: `db::with_conn` with `ApiError` as the error, so a
//! handler's closure and its `?` need no type annotations.

use diesel::pg::PgConnection;

use super::error::ApiError;
use crate::db::{self, DbPool};

/// Runs `work` with a pooled connection off the async workers; a pool timeout is a 503,
/// a panic in `work` a 500.
pub async fn with_conn<T, F>(pool: &DbPool, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
{
    db::with_conn(pool, work).await
}
