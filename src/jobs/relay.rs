//! The webhook relay: every instance, every second, claims due deliveries (`FOR UPDATE
//! SKIP LOCKED`, then a lease), sends them concurrently (a batch at most, each with a
//! 10 s timeout) and records each outcome: delivered on a 2xx; on anything else retried
//! after the next wait of the schedule (±10 %), or failed after the last; a 410 disables
//! the endpoint. An instance that dies mid-send leaves its deliveries to be claimed again
//! once their lease runs out: sent again, with the same `webhook-id`.
//!
//! Not a [`super::Job`] (a round waits on other systems over HTTP), but in the runner's
//! loop all the same (`runner::repeat`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::{Connection, QueryResult};
use tokio::task::JoinSet;

use super::runner::{jittered, repeat};
use crate::db::{with_conn, DbError, DbPool};
use crate::domain::WebhookSecret;
use crate::outbound::webhooks::{Outgoing, Sent, WebhookSender, DELIVERY_TIMEOUT};
use crate::repository::webhooks::{self, ClaimedDelivery};
use crate::shutdown::Draining;
use crate::telemetry::Metrics;

/// How often each instance looks: a new event's first attempt starts within about a
/// second of its commit (DESIGN: within 2 s).
pub const RELAY_INTERVAL: Duration = Duration::from_secs(1);

/// Deliveries one round sends at most (concurrently): bounds the connections and memory
/// one instance spends on slow endpoints.
const RELAY_BATCH: i64 = 32;

/// How long a claimed delivery is out of other instances' reach: well over a send's
/// timeout, so no two instances send it at once.
const LEASE_SECS: i32 = 60;

/// What the relay needs.
#[derive(Debug, Clone)]
pub struct Relay {
    pub sender: WebhookSender,
    /// The waits after each failed attempt; after the last, a delivery has failed.
    pub schedule: Arc<Vec<Duration>>,
}

/// Starts the relay on the current async runtime; it stops when the instance drains.
pub fn spawn(relay: Relay, pool: DbPool, draining: Draining, metrics: Metrics) {
    debug_assert!(Duration::from_secs(LEASE_SECS as u64) > DELIVERY_TIMEOUT * 2);
    tokio::spawn(async move {
        let batch = usize::try_from(RELAY_BATCH).unwrap_or(usize::MAX);
        let round_metrics = metrics.clone();
        repeat(
            "webhook_relay",
            RELAY_INTERVAL,
            batch,
            draining,
            metrics,
            || round(&relay, &pool, &round_metrics),
        )
        .await;
    });
}

/// One round: claim, send, record. Returns how many it sent.
async fn round(relay: &Relay, pool: &DbPool, metrics: &Metrics) -> Result<usize, DbError> {
    let claimed = with_conn(pool, |conn| {
        webhooks::claim_due(conn, RELAY_BATCH, LEASE_SECS).map_err(DbError::from)
    })
    .await?;
    let count = claimed.len();
    let mut sending = JoinSet::new();
    for delivery in claimed {
        let sender = relay.sender.clone();
        sending.spawn(async move {
            let sent = send(&sender, &delivery).await;
            (delivery, sent)
        });
    }
    let mut outcomes = Vec::with_capacity(count);
    while let Some(done) = sending.join_next().await {
        let Ok((delivery, sent)) = done else { continue };
        outcomes.push(outcome(relay, &delivery, sent));
    }
    let labels: Vec<&'static str> = outcomes.iter().map(Outcome::label).collect();
    // One connection and one commit for the round's outcomes (until it commits, its
    // deliveries stay leased: none is sent again meanwhile).
    with_conn(pool, move |conn| {
        conn.transaction(|conn| outcomes.iter().try_for_each(|outcome| outcome.record(conn)))
            .map_err(DbError::from)
    })
    .await?;
    for label in labels {
        metrics.observe_webhook_delivery(label);
    }
    let oldest = with_conn(pool, |conn| {
        webhooks::oldest_undelivered(conn).map_err(DbError::from)
    })
    .await?;
    metrics.set_webhook_oldest_undelivered(
        oldest.map_or(0, |at| (Utc::now() - at).num_seconds().max(0)),
    );
    Ok(count)
}

async fn send(sender: &WebhookSender, delivery: &ClaimedDelivery) -> Sent {
    let secrets: Result<Vec<WebhookSecret>, String> = std::iter::once(&delivery.secret)
        .chain(delivery.previous_secret.as_ref())
        .map(|text| WebhookSecret::parse(text))
        .collect();
    let secrets = match secrets {
        Ok(secrets) => secrets,
        Err(err) => {
            return Sent::Failed {
                status: None,
                error: format!("the endpoint's secret is unusable: {err}"),
            }
        }
    };
    let body = event_body(delivery);
    sender
        .send(Outgoing {
            url: &delivery.url,
            event_id: &delivery.event_id,
            body: body.as_bytes(),
            secrets: &secrets,
            timestamp: Utc::now().timestamp(),
        })
        .await
}

/// `{id, type, created_at, data}`, the data as stored.
fn event_body(delivery: &ClaimedDelivery) -> String {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    format!(
        r#"{{"id":{},"type":{},"created_at":{},"data":{}}}"#,
        quoted(&delivery.event_id),
        quoted(&delivery.event_type),
        quoted(&delivery.event_created_at.to_rfc3339()),
        delivery.event_data
    )
}

/// What became of one attempt, to record.
enum Outcome {
    Delivered {
        id: i64,
        status: u16,
    },
    Gone {
        id: i64,
        endpoint_id: i32,
    },
    Failed {
        id: i64,
        status: Option<u16>,
        error: String,
        /// `None`: that was the last attempt.
        retry_at: Option<DateTime<Utc>>,
    },
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Gone { .. } => "gone",
            Self::Failed {
                retry_at: Some(_), ..
            } => "retry",
            Self::Failed { retry_at: None, .. } => "failed",
        }
    }

    fn record(&self, conn: &mut PgConnection) -> QueryResult<()> {
        match self {
            Self::Delivered { id, status } => webhooks::mark_delivered(conn, *id, *status),
            Self::Gone { id, endpoint_id } => webhooks::mark_gone(conn, *id, *endpoint_id),
            Self::Failed {
                id,
                status,
                error,
                retry_at,
            } => webhooks::mark_attempt_failed(conn, *id, *status, error, *retry_at),
        }
    }
}

fn outcome(relay: &Relay, delivery: &ClaimedDelivery, sent: Sent) -> Outcome {
    let id = delivery.id;
    match sent {
        Sent::Delivered(status) => Outcome::Delivered { id, status },
        Sent::Gone => Outcome::Gone {
            id,
            endpoint_id: delivery.endpoint_id,
        },
        Sent::Failed { status, error } => {
            // The wait after attempt n is the schedule's n-th; none after the last.
            let retry_at = usize::try_from(delivery.attempts - 1)
                .ok()
                .and_then(|index| relay.schedule.get(index))
                .and_then(|wait| chrono::Duration::from_std(jittered(*wait)).ok())
                .map(|wait| Utc::now() + wait);
            Outcome::Failed {
                id,
                status,
                error,
                retry_at,
            }
        }
    }
}
