//! The test gateway (`storefront payment-gateway`) as a [`PaymentProvider`]: its HTTP API
//! called with a timeout, every change with an `Idempotency-Key`, its webhooks checked
//! as Standard Webhooks v1.

use std::str::FromStr;
use std::time::Duration;

use bigdecimal::BigDecimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::payments::{
    IntentCreated, IntentState, IntentStatus, NewIntent, PaymentProvider, ProviderError, Refunded,
    WebhookError, WebhookEvent, WebhookHeaders, WebhookKind,
};
use crate::domain::{format_money, WebhookSecret};

/// The client: where the gateway is, how long to wait for it, the secret its webhooks are
/// signed with.
#[derive(Debug, Clone)]
pub struct TestGateway {
    client: reqwest::Client,
    base_url: String,
    timeout: Duration,
    secret: WebhookSecret,
}

impl TestGateway {
    pub fn new(base_url: &str, timeout: Duration, secret: WebhookSecret) -> Self {
        Self {
            client: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
            secret,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|err| ProviderError::Unavailable(err.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|err| ProviderError::Unavailable(err.to_string()))?;
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!("{status}: {text}")));
        }
        if !status.is_success() {
            let refusal: Refusal = serde_json::from_str(&text).unwrap_or_default();
            return Err(ProviderError::Rejected {
                status: status.as_u16(),
                code: refusal.error,
                message: refusal.message,
            });
        }
        serde_json::from_str(&text).map_err(|err| ProviderError::Unreadable(err.to_string()))
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        body: serde_json::Value,
    ) -> Result<T, ProviderError> {
        self.send(
            self.client
                .post(self.url(path))
                .header("idempotency-key", key)
                .json(&body),
        )
        .await
    }
}

#[derive(Debug, Default, Deserialize)]
struct Refusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

/// An intent as the gateway writes it.
#[derive(Debug, Deserialize)]
struct Intent {
    id: String,
    status: String,
    amount: String,
    captured_amount: String,
    refunded_amount: String,
    decline_reason: Option<String>,
    client_secret: Option<String>,
    next_action: Option<NextAction>,
}

#[derive(Debug, Deserialize)]
struct NextAction {
    url: String,
}

fn money(text: &str) -> Result<BigDecimal, ProviderError> {
    BigDecimal::from_str(text).map_err(|_| ProviderError::Unreadable(format!("amount {text:?}")))
}

impl TryFrom<&Intent> for IntentState {
    type Error = ProviderError;

    fn try_from(intent: &Intent) -> Result<Self, ProviderError> {
        let status = match intent.status.as_str() {
            "requires_confirmation" => IntentStatus::AwaitingShopper,
            "requires_action" => IntentStatus::RequiresAction,
            "requires_capture" => IntentStatus::Authorized,
            "succeeded" => IntentStatus::Captured,
            "declined" => IntentStatus::Declined,
            "cancelled" => IntentStatus::Cancelled,
            other => return Err(ProviderError::Unreadable(format!("status {other:?}"))),
        };
        Ok(Self {
            provider_ref: intent.id.clone(),
            status,
            amount: money(&intent.amount)?,
            captured_amount: money(&intent.captured_amount)?,
            refunded_amount: money(&intent.refunded_amount)?,
            decline_reason: intent.decline_reason.clone(),
        })
    }
}

#[derive(Debug, Deserialize)]
struct Refund {
    id: String,
    amount: String,
}

/// A webhook's body as the gateway sends it.
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    intent_id: String,
    amount: String,
    currency: String,
}

impl PaymentProvider for TestGateway {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn create_intent(&self, intent: NewIntent<'_>) -> Result<IntentCreated, ProviderError> {
        let created: Intent = self
            .post(
                "/v1/intents",
                intent.idempotency_key,
                json!({"amount": format_money(intent.amount), "currency": intent.currency}),
            )
            .await?;
        let state = IntentState::try_from(&created)?;
        let missing = || ProviderError::Unreadable("a new intent without its confirm step".into());
        Ok(IntentCreated {
            state,
            client_secret: created.client_secret.ok_or_else(missing)?,
            confirm_url: created.next_action.ok_or_else(missing)?.url,
        })
    }

    async fn retrieve(&self, provider_ref: &str) -> Result<IntentState, ProviderError> {
        let intent: Intent = self
            .send(
                self.client
                    .get(self.url(&format!("/v1/intents/{provider_ref}"))),
            )
            .await?;
        IntentState::try_from(&intent)
    }

    async fn capture(
        &self,
        provider_ref: &str,
        idempotency_key: &str,
    ) -> Result<IntentState, ProviderError> {
        let intent: Intent = self
            .post(
                &format!("/v1/intents/{provider_ref}/capture"),
                idempotency_key,
                json!({}),
            )
            .await?;
        IntentState::try_from(&intent)
    }

    async fn refund(
        &self,
        provider_ref: &str,
        amount: &BigDecimal,
        idempotency_key: &str,
    ) -> Result<Refunded, ProviderError> {
        let refund: Refund = self
            .post(
                &format!("/v1/intents/{provider_ref}/refunds"),
                idempotency_key,
                json!({"amount": format_money(amount)}),
            )
            .await?;
        Ok(Refunded {
            refund_ref: refund.id,
            amount: money(&refund.amount)?,
        })
    }

    async fn cancel(
        &self,
        provider_ref: &str,
        idempotency_key: &str,
    ) -> Result<IntentState, ProviderError> {
        let intent: Intent = self
            .post(
                &format!("/v1/intents/{provider_ref}/cancel"),
                idempotency_key,
                json!({}),
            )
            .await?;
        IntentState::try_from(&intent)
    }

    fn verify_webhook(
        &self,
        headers: WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        self.secret
            .verify(headers.id, headers.timestamp, headers.signature, body, now)
            .map_err(|err| match err {
                crate::domain::webhook_signature::VerifyError::Signature => WebhookError::Signature,
                crate::domain::webhook_signature::VerifyError::Timestamp => WebhookError::Timestamp,
            })?;
        let event: Event = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
        // The id signed is the event's own: a body replayed under another id is refused.
        if event.id != headers.id {
            return Err(WebhookError::Malformed);
        }
        let kind = match event.kind.as_str() {
            "payment.succeeded" => WebhookKind::PaymentSucceeded,
            "payment.failed" => WebhookKind::PaymentFailed,
            "refund.succeeded" => WebhookKind::RefundSucceeded,
            other => WebhookKind::Other(other.to_owned()),
        };
        Ok(WebhookEvent {
            id: event.id,
            kind,
            intent_ref: event.data.intent_id,
            amount: BigDecimal::from_str(&event.data.amount)
                .map_err(|_| WebhookError::Malformed)?,
            currency: event.data.currency,
        })
    }
}
