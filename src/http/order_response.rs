//! An order as clients see it: the checked-out cart's lines (prices frozen at checkout)
//! and totals, with its lifecycle: the order, payment and fulfilment states, the payment
//! deadline, the cancellation and the shipments.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::address::ShippingAddressResponse;
use super::cart_response::{CartResponse, LineResponse};
use super::payment_response::{PaymentResponse, RefundResponse};
use super::schemas::{money_out_schema, tax_rate_out_schema, word_enum};
use crate::domain::{format_money, format_rate};
use crate::models::{Fulfilment, FulfilmentStatus, Order, OrderStatus, PaymentStatus};
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
    /// The sum of the lines' totals at their frozen prices.
    #[schema(schema_with = money_out_schema)]
    pub subtotal: String,
    /// What shipping cost (0.00: free, or no shipping method).
    #[schema(schema_with = money_out_schema)]
    pub shipping: String,
    /// The order's tax: the sum of its lines' (each rounded half-up to the cent).
    #[schema(schema_with = money_out_schema)]
    pub tax: String,
    /// What the customer pays: subtotal + shipping, + tax when prices exclude it.
    #[schema(schema_with = money_out_schema)]
    pub total: String,
    /// The destination country's rate at checkout, a percentage.
    #[schema(schema_with = tax_rate_out_schema)]
    pub tax_rate: String,
    /// Whether the prices contained the tax (then `tax` is part of `subtotal`).
    pub prices_include_tax: bool,
    /// Where it ships, as given at checkout; null for an order placed without an address.
    #[schema(required = true)]
    pub shipping_address: Option<ShippingAddressResponse>,
    /// How it ships; null without a shipping method.
    #[schema(required = true)]
    pub shipping_method: Option<ShippingChoiceResponse>,
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
    /// The attempts to pay it, oldest first.
    pub payments: Vec<PaymentResponse>,
    /// Money given back, oldest first.
    pub refunds: Vec<RefundResponse>,
    /// Shipments recorded by staff.
    pub fulfilments: Vec<FulfilmentResponse>,
    #[schema(required = true)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `payment_expired` when the deadline passed, else the reason given with the cancel
    /// (null when none was).
    #[schema(required = true)]
    pub cancel_reason: Option<String>,
}

/// The shipping method an order was placed with, as it was then.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingChoiceResponse {
    /// Null once the method has been deleted.
    #[schema(required = true)]
    pub id: Option<i32>,
    pub name: String,
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
            address,
            payments,
            refunds,
        } = details;
        let user_id = cart.user_id;
        let priced = CartResponse::from((cart, lines));
        let shipping_method = shipping_choice(&order);
        Self {
            id: order.id,
            user_id,
            status: order.status.as_str(),
            payment_status: order.payment_status.as_str(),
            fulfilment_status: order.fulfilment_status.as_str(),
            items: priced.items,
            item_count: priced.item_count,
            subtotal: format_money(&order.subtotal),
            shipping: format_money(&order.shipping),
            tax: format_money(&order.tax),
            total: format_money(&order.total),
            tax_rate: format_rate(&order.tax_rate),
            prices_include_tax: order.prices_include_tax,
            shipping_address: address.map(Into::into),
            shipping_method,
            created_at: priced.created_at,
            updated_at: priced.updated_at.max(order.updated_at),
            checked_out_at: priced.checked_out_at,
            payment_due_at: order.payment_due_at,
            payments: payments.into_iter().map(Into::into).collect(),
            refunds: refunds.into_iter().map(Into::into).collect(),
            fulfilments: fulfilments.into_iter().map(Into::into).collect(),
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason,
        }
    }
}

fn shipping_choice(order: &Order) -> Option<ShippingChoiceResponse> {
    order
        .shipping_method_name
        .clone()
        .map(|name| ShippingChoiceResponse {
            id: order.shipping_method_id,
            name,
        })
}
