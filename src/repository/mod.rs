//! Queries, one module per table. Each is a plain function over `&mut PgConnection`
//! returning `QueryResult`, so it runs the same inside a handler's `web::block`, a CLI
//! command or a test transaction, and never knows about HTTP.

pub mod carts;
pub mod catalogue;
pub mod orders;
pub mod products;
pub mod sessions;
pub mod users;

use diesel::pg::PgConnection;
use diesel::Connection;

use crate::domain::StockShortage;

/// Outcomes of cart and checkout operations that are not plain query failures.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("not found")]
    NotFound,
    #[error("the cart is empty")]
    EmptyCart,
    #[error("insufficient stock")]
    InsufficientStock(Vec<StockShortage>),
    /// An Idempotency-Key already used for another cart's checkout.
    #[error("idempotency key reused for a different cart")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl ShopError {
    /// `NotFound` for a missing row, anything else as a database error.
    pub fn from_not_found(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => Self::NotFound,
            other => Self::Database(other),
        }
    }
}

/// Runs `work` in one transaction: committed when it returns `Ok`, rolled back on `Err`
/// (or on panic). Nested calls become savepoints.
pub fn in_transaction<T, E, F>(conn: &mut PgConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(work)
}
