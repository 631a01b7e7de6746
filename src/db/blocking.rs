//! The one way work leaves actix's async workers: onto the blocking thread pool. Request
//! handling reaches the database through `with_conn` here; password hashing (in `auth`)
//! sends its work through `run_blocking` too.

use diesel::pg::PgConnection;

use super::error::DbError;
use super::pool::DbPool;

/// Runs `work` on the blocking thread pool (the same pool `actix_web::web::block` uses),
/// so that a slow call never stalls the async workers. A panic in `work` is a
/// `DbError::TaskFailed`.
pub async fn run_blocking<R, F>(work: F) -> Result<R, DbError>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| DbError::TaskFailed(err.to_string()))
}

/// Runs `work` with a pooled connection on the blocking thread pool: the checkout (which
/// may wait for a free connection) and the query both stay off the async workers. A pool
/// timeout or a failed task reaches the caller as its own error `E`, from `DbError`.
pub async fn with_conn<T, E, F>(pool: &DbPool, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
{
    let pool = pool.clone();
    run_blocking(move || {
        let mut conn = pool.get().map_err(DbError::from)?;
        work(&mut conn)
    })
    .await?
}
