//! Queries, one module per table. Each is a plain function over `&mut PgConnection`
//! returning `QueryResult` (or `ShopError` where a query has outcomes other than rows),
//! so it runs the same inside a handler's blocking call, a CLI command or a test
//! transaction, and never knows about HTTP.

pub mod addresses;
pub mod carts;
pub mod catalogue;
pub mod categories;
pub mod checkout;
pub mod constraints;
pub mod events;
pub mod guest_carts;
pub mod ledger;
pub mod order_lifecycle;
pub mod orders;
pub mod payments;
pub mod pricing;
pub mod product_groups;
pub mod products;
pub mod quote;
pub mod refunds;
pub mod session_carts;
pub mod sessions;
pub mod shipping_methods;
mod statement;
pub mod tax_rates;
pub mod throttle;
pub mod users;
pub mod webhooks;

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};

pub use constraints::TakenField;

/// Outcomes of account, cart and checkout operations that are not plain query failures.
/// The HTTP edge (`http::error`) decides what each means to a client.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("not found")]
    NotFound,
    #[error("the cart is empty")]
    EmptyCart,
    #[error("insufficient stock")]
    InsufficientStock(Vec<Shortage>),
    /// A conditional change (`If-Match`) whose condition does not hold for the cart as
    /// it stands: nothing was changed.
    #[error("precondition failed")]
    PreconditionFailed,
    /// An Idempotency-Key already used for another cart's checkout.
    #[error("idempotency key reused for a different cart")]
    IdempotencyKeyReused,
    /// The order is not in a state that allows this (cancel a shipped order, ship an
    /// unpaid one); the text says why.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// Input the database shows to be wrong (a shipping method that does not ship to the
    /// address, a full address book): each field with what is wrong with it.
    #[error("invalid: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    /// The order would charge another total than the client expected (a price changed
    /// since its quote): nothing was placed; the totals as they are now.
    #[error("the total changed")]
    TotalChanged(Box<quote::Quote>),
    /// Unique fields another row already holds (every one of them, not only the first).
    #[error("already taken: {0:?}")]
    AlreadyTaken(Vec<TakenField>),
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

/// A cart line that cannot be filled: what was asked for and what is left (0 for a
/// product that has been archived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    pub product_id: i32,
    pub requested: i32,
    pub available: i32,
}

impl Shortage {
    /// The shortage when `requested` units exceed what is `available`.
    pub fn of(product_id: i32, requested: i32, available: i32) -> Option<Self> {
        (requested > available).then_some(Self {
            product_id,
            requested,
            available,
        })
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

/// One round trip that proves the connection (and the server behind it) answers.
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(drop)
}
