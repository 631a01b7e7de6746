//! What can go wrong in the database layer: reaching the database, creating and migrating
//! it before serving, and, while serving, getting a pooled connection and running a query.
//! It names no HTTP status: the edge decides what each kind means to a client.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why the database could not be reached, brought up to date or queried. Messages name
/// the server and what to check, because they are what an operator reads when the start
/// fails.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL at {host} (database {database:?}): {reason}. Check that the server is running and that DATABASE_URL points at it.")]
    Unreachable {
        host: String,
        database: String,
        reason: String,
    },
    #[error("database {database:?} does not exist on the PostgreSQL server at {host}; `storefront migrate run` (or `storefront serve`) creates it")]
    MissingDatabase { host: String, database: String },
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("{0}. Restore the SQL that was applied (make changes in a new migration), or set MIGRATIONS_ALLOW_MODIFIED=true to start anyway.")]
    ModifiedMigrations(String),
    /// The pool handed out no connection in time (all busy, or none could be opened).
    #[error("no database connection: {0}")]
    PoolTimeout(#[from] diesel::r2d2::PoolError),
    /// A query failed in a way a retry may cure (see [`is_transient`]).
    #[error(transparent)]
    Unavailable(DieselError),
    /// A query failed for good: no such row, a constraint, a bug.
    #[error(transparent)]
    Query(DieselError),
    /// Work sent to the blocking thread pool panicked or was cancelled.
    #[error("blocking task failed: {0}")]
    TaskFailed(String),
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        if is_transient(&err) {
            Self::Unavailable(err)
        } else {
            Self::Query(err)
        }
    }
}

/// Failures a retry may cure: the connection is gone, the transaction lost a conflict
/// (serialization failure, deadlock), the statement was cancelled (statement_timeout) or
/// the server is starting up or shutting down.
pub fn is_transient(err: &DieselError) -> bool {
    let DieselError::DatabaseError(kind, info) = err else {
        return false;
    };
    match kind {
        DatabaseErrorKind::ClosedConnection
        | DatabaseErrorKind::UnableToSendCommand
        | DatabaseErrorKind::SerializationFailure => true,
        DatabaseErrorKind::Unknown => has_unclassified_transient_state(info.message()),
        _ => false,
    }
}

/// PostgreSQL's primary messages for the transient SQLSTATEs Diesel reports as
/// `Unknown`: it keeps the SQLSTATE to itself, so the message is the only witness left.
/// 57014 query_canceled (statement timeout), 57P01 admin_shutdown, 57P02 crash_shutdown,
/// 57P03 cannot_connect_now, 40P01 deadlock_detected. The server's `lc_messages` must stay
/// English (the default) for these to match.
const UNCLASSIFIED_TRANSIENT_MESSAGES: [&str; 4] = [
    "canceling statement due to statement timeout",
    "terminating connection",
    "the database system is",
    "deadlock detected",
];

fn has_unclassified_transient_state(message: &str) -> bool {
    UNCLASSIFIED_TRANSIENT_MESSAGES
        .iter()
        .any(|needle| message.contains(needle))
}
