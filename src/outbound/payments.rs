//! What the service needs of a payment provider, whoever it is: create an intent for an
//! amount, read it, capture it, refund it, cancel it, and check that a webhook came from
//! it. Every call that changes something carries an idempotency key, so a retry after a
//! timeout can never charge twice: the provider answers a repeated key with its first
//! answer. A real provider (Stripe, Adyen, ...) is one more implementation of
//! [`PaymentProvider`] and one more `{provider}` in the webhook route.

use std::future::Future;

use bigdecimal::BigDecimal;

/// An intent to create: the order's total, in a currency, once per key.
#[derive(Debug, Clone, Copy)]
pub struct NewIntent<'a> {
    pub amount: &'a BigDecimal,
    pub currency: &'a str,
    pub idempotency_key: &'a str,
}

/// Where an intent is, in the service's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    /// Created; the shopper has not confirmed yet.
    AwaitingShopper,
    /// The shopper must act again (3-D Secure and the like), then confirm again.
    RequiresAction,
    /// Authorised by the shopper: the merchant may capture it.
    Authorized,
    /// Captured: the money is the merchant's.
    Captured,
    /// The shopper's payment method was declined.
    Declined,
    /// Cancelled before capture.
    Cancelled,
}

/// An intent as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentState {
    pub provider_ref: String,
    pub status: IntentStatus,
    pub amount: BigDecimal,
    pub captured_amount: BigDecimal,
    pub refunded_amount: BigDecimal,
    /// Why it was declined, in the provider's words.
    pub decline_reason: Option<String>,
}

/// A new intent: how the shopper completes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentCreated {
    pub state: IntentState,
    /// Shown to the shopper's browser only; it lets them confirm this intent.
    pub client_secret: String,
    /// Where the shopper's browser confirms it.
    pub confirm_url: String,
}

/// A refund the provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    pub refund_ref: String,
    pub amount: BigDecimal,
}

/// What the provider's webhooks report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookKind {
    PaymentSucceeded,
    PaymentFailed,
    RefundSucceeded,
    /// A type this service does not act on.
    Other(String),
}

/// A verified webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The provider's id of the event: a delivery seen before carries the same one.
    pub id: String,
    pub kind: WebhookKind,
    pub intent_ref: String,
    pub amount: BigDecimal,
    pub currency: String,
}

/// The Standard Webhooks headers of a delivery.
#[derive(Debug, Clone, Copy)]
pub struct WebhookHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time, no connection, or a 5xx: the call may or may not have taken
    /// effect. Retry with the same key, or read the intent.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the call (a 4xx): it took no effect.
    #[error("payment provider refused ({status} {code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer this client cannot read.
    #[error("unreadable answer from the payment provider: {0}")]
    Unreadable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the signature does not verify")]
    Signature,
    #[error("the timestamp is missing, malformed or more than 5 minutes away")]
    Timestamp,
    #[error("the body is not an event this provider sends")]
    Malformed,
}

/// A payment provider, as the service uses it.
pub trait PaymentProvider {
    /// The `{provider}` of `POST /payments/webhooks/{provider}`.
    fn name(&self) -> &'static str;

    fn create_intent(
        &self,
        intent: NewIntent<'_>,
    ) -> impl Future<Output = Result<IntentCreated, ProviderError>> + Send;

    fn retrieve(
        &self,
        provider_ref: &str,
    ) -> impl Future<Output = Result<IntentState, ProviderError>> + Send;

    /// Captures an authorised intent (at most once per key).
    fn capture(
        &self,
        provider_ref: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<IntentState, ProviderError>> + Send;

    fn refund(
        &self,
        provider_ref: &str,
        amount: &BigDecimal,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<Refunded, ProviderError>> + Send;

    fn cancel(
        &self,
        provider_ref: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<IntentState, ProviderError>> + Send;

    /// The event a delivery carries, if its signature and timestamp hold at `now`
    /// (Unix seconds).
    fn verify_webhook(
        &self,
        headers: WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, WebhookError>;
}
