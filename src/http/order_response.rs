//! An order as clients see it: the checked-out cart's lines (prices frozen at checkout)
//! and totals, with its lifecycle: the order, payment and fulfilment states, the payment
//! deadline, the cancellation and the shipments.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::cart_response::{CartResponse, LineResponse};
use super::schemas::word_enum;
use crate::models::{Fulfilment, FulfilmentStatus, OrderStatus, PaymentStatus};
use crate::repository::orders::OrderDetails;

/// An order. Money is exact decimal strings.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    pub id: i32,
    /// The customer who placed it.
    pub user_id: Option<i32>,
    /// `checked_out` once placed, `completed` once shipped, or `cancelled`.
    #[schema(schema_with = order_status_schema)]
    pub status: &'static str,
    #[schema(schema_with = payment_status_schema)]
    pub payment_status: &'static str,
    #[schema(schema_with = fulfilment_status_schema)]
    pub fulfilment_status: &'static str,
    pub items: Vec<LineResponse>,
    /// Units across the lines.
    pub item_count: i64,
    /// Decimal string, two places: the sum of the lines' totals.
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}$", example = "39.80")]
    pub total: String,
    pub created_at: DateTime<Utc>,
    /// The last change to the cart or the order.
    pub updated_at: DateTime<Utc>,
    /// When it was placed.
    #[schema(required = true)]
    pub checked_out_at: Option<DateTime<Utc>>,
    /// While awaiting payment: when the service cancels the order (`payment_expired`)
    /// and releases its stock. Null without a deadline, once paid, or once cancelled.
    #[schema(required = true)]
    pub payment_due_at: Option<DateTime<Utc>>,
    /// The payment attempts; empty until the service takes payments.
    #[schema(value_type = Vec<Object>)]
    pub payments: Vec<serde_json::Value>,
    /// Money given back; empty until the service takes payments.
    #[schema(value_type = Vec<Object>)]
    pub refunds: Vec<serde_json::Value>,
    /// Shipments recorded by staff.
    pub fulfilments: Vec<FulfilmentResponse>,
    #[schema(required = true)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `payment_expired` when the deadline passed, else the reason given with the cancel
    /// (null when none was).
    #[schema(required = true)]
    pub cancel_reason: Option<String>,
}

/// A shipment.
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfilmentResponse {
    pub id: i32,
    pub carrier: String,
    pub tracking_number: String,
    pub created_at: DateTime<Utc>,
}

/// The states as OpenAPI enums: the order JSON and the admin listing's filters share them.
pub fn order_status_schema() -> utoipa::openapi::Object {
    word_enum(OrderStatus::ALL)
}

pub fn payment_status_schema() -> utoipa::openapi::Object {
    word_enum(PaymentStatus::ALL)
}

pub fn fulfilment_status_schema() -> utoipa::openapi::Object {
    word_enum(FulfilmentStatus::ALL)
}

impl From<Fulfilment> for FulfilmentResponse {
    fn from(fulfilment: Fulfilment) -> Self {
        Self {
            id: fulfilment.id,
            carrier: fulfilment.carrier,
            tracking_number: fulfilment.tracking_number,
            created_at: fulfilment.created_at,
        }
    }
}

impl From<OrderDetails> for OrderResponse {
    fn from(details: OrderDetails) -> Self {
        let OrderDetails {
            cart,
            lines,
            order,
            fulfilments,
        } = details;
        let user_id = cart.user_id;
        let priced = CartResponse::from((cart, lines));
        Self {
            id: order.id,
            user_id,
            status: order.status.as_str(),
            payment_status: order.payment_status.as_str(),
            fulfilment_status: order.fulfilment_status.as_str(),
            items: priced.items,
            item_count: priced.item_count,
            total: priced.total,
            created_at: priced.created_at,
            updated_at: priced.updated_at.max(order.updated_at),
            checked_out_at: priced.checked_out_at,
            payment_due_at: order.payment_due_at,
            payments: Vec::new(),
            refunds: Vec::new(),
            fulfilments: fulfilments.into_iter().map(Into::into).collect(),
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason,
        }
    }
}
