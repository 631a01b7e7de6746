//! The test gateway's webhooks: every event is delivered at least once, signed as
//! Standard Webhooks v1, retried with backoff until the receiver answers 2xx. Deliveries
//! are claimed in the database before they are sent, so a restart resends what was in
//! flight (the same `webhook-id`), as a real provider does.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::store::{self, DueDelivery};
use crate::db::{run_blocking, DbPool};
use crate::domain::{format_money, WebhookSecret};

/// Where and how to deliver.
#[derive(Clone)]
pub struct Deliverer {
    pub pool: DbPool,
    pub client: reqwest::Client,
    pub url: String,
    pub secret: WebhookSecret,
}

/// How long to wait after an empty round.
const IDLE: Duration = Duration::from_millis(100);
/// Deliveries sent per round.
const BATCH: i64 = 20;

impl Deliverer {
    /// Delivers for as long as the gateway runs.
    pub async fn run(self) {
        loop {
            let pool = self.pool.clone();
            let claimed = run_blocking(move || {
                let mut conn = pool.get().map_err(|err| err.to_string())?;
                store::claim_due(&mut conn, BATCH).map_err(|err| err.to_string())
            })
            .await
            .map_err(|err| err.to_string())
            .and_then(|claimed| claimed);
            match claimed {
                Ok(due) if !due.is_empty() => {
                    // One at a time, in the order claimed: "newest first" means it.
                    for delivery in due {
                        self.deliver(delivery).await;
                    }
                }
                Ok(_) => tokio::time::sleep(IDLE).await,
                Err(err) => {
                    tracing::warn!(%err, "payment gateway: cannot claim deliveries");
                    tokio::time::sleep(IDLE * 10).await;
                }
            }
        }
    }

    async fn deliver(&self, delivery: DueDelivery) {
        let body = json!({
            "id": delivery.event_id,
            "type": delivery.kind,
            "created_at": delivery.created_at,
            "data": {
                "intent_id": delivery.intent_id,
                "amount": format_money(&delivery.amount),
                "currency": delivery.currency,
            },
        })
        .to_string();
        let timestamp = Utc::now().timestamp();
        let signature = self
            .secret
            .sign(&delivery.event_id, timestamp, body.as_bytes());
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let status = sent
            .as_ref()
            .ok()
            .map(|response| response.status().as_u16());
        let delivered = status.is_some_and(|status| (200..300).contains(&status));
        if !delivered {
            tracing::info!(
                event = %delivery.event_id,
                ?status,
                error = sent.err().map(|err| err.to_string()),
                "payment gateway: webhook not delivered; will retry"
            );
        }
        // 1, 2, 4, ... seconds, at most 30.
        let retry_in = 1_i64 << delivery.attempts.clamp(0, 5);
        let pool = self.pool.clone();
        let recorded = run_blocking(move || {
            let mut conn = pool.get().map_err(|err| err.to_string())?;
            store::record_attempt(
                &mut conn,
                delivery.delivery_id,
                status,
                delivered,
                retry_in.min(30),
            )
            .map_err(|err| err.to_string())
        })
        .await;
        if let Ok(Err(err)) | Err(err) = recorded.map_err(|err| err.to_string()) {
            tracing::warn!(%err, "payment gateway: cannot record a delivery attempt");
        }
    }
}
