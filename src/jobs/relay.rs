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

use chrono::Utc;
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
    while let Some(done) = sending.join_next().await {
        let Ok((delivery, sent)) = done else { continue };
        record(relay, pool, metrics, delivery, sent).await?;
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

async fn record(
    relay: &Relay,
    pool: &DbPool,
    metrics: &Metrics,
    delivery: ClaimedDelivery,
    sent: Sent,
) -> Result<(), DbError> {
    let id = delivery.id;
    let outcome = match sent {
        Sent::Delivered(status) => {
            with_conn(pool, move |conn| {
                webhooks::mark_delivered(conn, id, status).map_err(DbError::from)
            })
            .await?;
            "delivered"
        }
        Sent::Gone => {
            let endpoint_id = delivery.endpoint_id;
            with_conn(pool, move |conn| {
                webhooks::mark_gone(conn, id, endpoint_id).map_err(DbError::from)
            })
            .await?;
            "gone"
        }
        Sent::Failed { status, error } => {
            // The wait after attempt n is the schedule's n-th; none after the last.
            let wait = usize::try_from(delivery.attempts - 1)
                .ok()
                .and_then(|index| relay.schedule.get(index))
                .map(|wait| jittered(*wait));
            let retry_at = wait
                .and_then(|wait| chrono::Duration::from_std(wait).ok())
                .map(|wait| Utc::now() + wait);
            let outcome = if retry_at.is_some() {
                "retry"
            } else {
                "failed"
            };
            with_conn(pool, move |conn| {
                webhooks::mark_attempt_failed(conn, id, status, &error, retry_at)
                    .map_err(DbError::from)
            })
            .await?;
            outcome
        }
    };
    metrics.observe_webhook_delivery(outcome);
    Ok(())
}
