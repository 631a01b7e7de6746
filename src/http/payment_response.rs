//! Payments and refunds as clients see them, inside an order and on their own.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::schemas::{money_out_schema, word_enum};
use crate::domain::format_money;
use crate::models::{Payment, PaymentAttemptStatus, Refund, RefundStatus};

/// One attempt to pay an order, at a payment provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResponse {
    pub id: i32,
    /// Which provider (`test`: the test gateway).
    pub provider: String,
    /// `pending` until the shopper has paid and the service has captured it, then
    /// `succeeded`; `requires_action` while the shopper must confirm again; `failed` when
    /// declined; `cancelled`.
    #[schema(schema_with = attempt_status_schema)]
    pub status: &'static str,
    /// What it charges: the order's total when it was created.
    #[schema(schema_with = money_out_schema)]
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    /// What was captured (0.00 until it succeeded).
    #[schema(schema_with = money_out_schema)]
    pub captured_amount: String,
    /// Hand to the provider's confirm step (`next_action.url`) with the payment method.
    pub client_secret: String,
    /// The intent's id at the provider.
    pub provider_ref: String,
    /// While the shopper still has to act: where. Null once settled.
    #[schema(required = true)]
    pub next_action: Option<NextAction>,
    /// Captured, but not what the order charges: the order stays unpaid until staff look.
    pub requires_review: bool,
    /// Why the provider declined it, in its words.
    #[schema(required = true)]
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the shopper does next.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextAction {
    /// Always `confirm`: POST `{client_secret, payment_method}` to `url`.
    #[serde(rename = "type")]
    #[schema(schema_with = confirm_schema)]
    pub kind: &'static str,
    pub url: String,
}

/// Money given back on a payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundResponse {
    pub id: i32,
    pub payment_id: i32,
    #[schema(schema_with = money_out_schema)]
    pub amount: String,
    /// As staff gave it, or the cancel's reason; null when none was given.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// `pending` until the provider confirms it (the service retries until it does),
    /// `succeeded`, or `failed` (the provider refused it).
    #[schema(schema_with = refund_status_schema)]
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
}

fn attempt_status_schema() -> utoipa::openapi::Object {
    word_enum(PaymentAttemptStatus::ALL)
}

fn refund_status_schema() -> utoipa::openapi::Object {
    word_enum(RefundStatus::ALL)
}

fn confirm_schema() -> utoipa::openapi::Object {
    word_enum(&["confirm"])
}

impl From<Payment> for PaymentResponse {
    fn from(payment: Payment) -> Self {
        let open = matches!(
            payment.status,
            PaymentAttemptStatus::Pending | PaymentAttemptStatus::RequiresAction
        );
        Self {
            id: payment.id,
            provider: payment.provider,
            status: payment.status.as_str(),
            amount: format_money(&payment.amount),
            currency: payment.currency,
            captured_amount: format_money(&payment.captured_amount),
            client_secret: payment.client_secret,
            provider_ref: payment.provider_ref,
            next_action: open.then_some(NextAction {
                kind: "confirm",
                url: payment.confirm_url,
            }),
            requires_review: payment.requires_review,
            failure_reason: payment.failure_reason,
            created_at: payment.created_at,
            updated_at: payment.updated_at,
        }
    }
}

impl From<Refund> for RefundResponse {
    fn from(refund: Refund) -> Self {
        Self {
            id: refund.id,
            payment_id: refund.payment_id,
            amount: format_money(&refund.amount),
            reason: refund.reason,
            status: refund.status.as_str(),
            created_at: refund.created_at,
        }
    }
}
