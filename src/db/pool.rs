//! The r2d2 pool of Diesel connections, configured from `DatabaseConfig`.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::Connection;

use super::error::DbError;
use crate::config::{DatabaseConfig, DatabaseUrl};
use crate::telemetry::{PoolState, SlowQueryLog};

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConnection = PooledConnection<ConnectionManager<PgConnection>>;

/// The database URL with the libpq settings that keep a dead network from hanging a
/// thread: a connect timeout, and TCP keepalives plus a user timeout so a half-open
/// connection is noticed in seconds rather than the kernel's two hours.
pub fn connection_url(config: &DatabaseConfig) -> DatabaseUrl {
    let connect_timeout = config.connect_timeout.as_secs().max(1).to_string();
    config
        .url
        .with_default_param("connect_timeout", &connect_timeout)
        .with_default_param("application_name", "storefront")
        .with_default_param("keepalives", "1")
        .with_default_param("keepalives_idle", "30")
        .with_default_param("keepalives_interval", "10")
        .with_default_param("keepalives_count", "3")
        .with_default_param("tcp_user_timeout", "30000")
}

/// Opens one connection outside the pool (migrations, CLI commands).
pub fn establish(url: &DatabaseUrl) -> Result<PgConnection, DbError> {
    PgConnection::establish(url.expose()).map_err(|err| {
        let reason = err.to_string().trim().to_owned();
        let host = url.host_description();
        let database = url.database_name().to_owned();
        // The server's FATAL for a missing database (SQLSTATE 3D000, which libpq reports
        // only as text): the server is fine, and the fix is different.
        if reason.contains(&format!("database \"{database}\" does not exist")) {
            DbError::MissingDatabase { host, database }
        } else {
            DbError::Unreachable {
                host,
                database,
                reason,
            }
        }
    })
}

/// Builds the pool and checks out one connection, so an unreachable server is reported
/// now, with its address, instead of as 503s later.
pub fn build_pool(
    config: &DatabaseConfig,
    events: Box<dyn r2d2::HandleEvent>,
) -> Result<DbPool, DbError> {
    let url = connection_url(config);
    let pool = build_pool_lazily(config, events);
    let started = Instant::now();
    pool.get().map_err(|err| DbError::Unreachable {
        host: url.host_description(),
        database: url.database_name().to_owned(),
        reason: format!(
            "no connection within {:?} ({err})",
            started.elapsed().max(config.pool_connection_timeout)
        ),
    })?;
    Ok(pool)
}

/// Builds the pool without connecting: connections are opened in the background and on
/// demand, so a service can start while its database is down and recover when it returns.
pub fn build_pool_lazily(config: &DatabaseConfig, events: Box<dyn r2d2::HandleEvent>) -> DbPool {
    let url = connection_url(config);
    Pool::builder()
        .max_size(config.pool_max_size)
        .min_idle(Some(config.pool_min_idle))
        .connection_timeout(config.pool_connection_timeout)
        .idle_timeout(config.pool_idle_timeout)
        .max_lifetime(config.pool_max_lifetime)
        .test_on_check_out(config.pool_test_on_checkout)
        .event_handler(events)
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout: config.statement_timeout,
            slow_query_threshold: config.slow_query_threshold,
        }))
        .build_unchecked(ConnectionManager::new(url.expose()))
}

/// Session settings applied once to each new pooled connection.
#[derive(Debug)]
struct SessionSettings {
    statement_timeout: Duration,
    slow_query_threshold: Duration,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        // Sent in one round trip; the value is a number we formatted, so no injection.
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET timezone = 'UTC'",
            self.statement_timeout.as_millis()
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        conn.set_instrumentation(SlowQueryLog::new(self.slow_query_threshold));
        Ok(())
    }
}

/// A snapshot of the pool for readiness and metrics.
pub fn pool_state(pool: &DbPool) -> PoolState {
    let state = pool.state();
    PoolState {
        max_size: pool.max_size(),
        connections: state.connections,
        idle_connections: state.idle_connections,
    }
}
