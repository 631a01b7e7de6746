//! A cart or an order as clients see it: the body the cart routes, the guest-cart route
//! and the order routes all answer with, priced the same way (an order's frozen prices,
//! an open cart's current ones).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::schemas::string_enum;
use super::timestamp;
use crate::domain::format_money;
use crate::models::{Cart, CartItem, Product};
use crate::repository::carts::CartWithLines;

/// A cart or an order as clients see it. Money is exact decimal strings.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartResponse {
    pub id: i32,
    /// `open` or `checked_out`.
    #[schema(schema_with = cart_status_schema)]
    pub status: &'static str,
    pub items: Vec<LineResponse>,
    /// Units across the lines that count (available ones).
    pub item_count: i64,
    /// Decimal string, two places: the sum of the available lines' totals.
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}$", example = "39.80")]
    pub total: String,
    #[serde(serialize_with = "timestamp::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Null while the cart is open.
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp::rfc3339_opt")]
    pub checked_out_at: Option<DateTime<Utc>>,
}

/// `open`, or `checked_out` for an order.
fn cart_status_schema() -> utoipa::openapi::Object {
    string_enum(["open", "checked_out"])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineResponse {
    pub id: i32,
    pub product_id: i32,
    pub name: String,
    /// Decimal string, two places: the product's current price, or an order's frozen one.
    #[schema(pattern = r"^[0-9]{1,10}\.[0-9]{2}$", example = "19.90")]
    pub unit_price: String,
    pub quantity: i32,
    /// Decimal string, two places: `unit_price` times `quantity`.
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}$", example = "39.80")]
    pub line_total: String,
    /// False for a product archived since it was added: shown, but not in the total and
    /// not orderable.
    pub available: bool,
    /// An order's line only: its tax, frozen at checkout (decimal string, two places).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}$", example = "6.36")]
    pub tax: Option<String>,
}

impl From<CartWithLines> for CartResponse {
    fn from((cart, lines): CartWithLines) -> Self {
        let mut total = BigDecimal::from(0);
        let mut item_count = 0i64;
        let items = lines
            .into_iter()
            .map(|(item, product)| {
                let line = Line::of(&cart, item, product);
                if line.available {
                    total += &line.line_total;
                    item_count += i64::from(line.item.quantity);
                }
                LineResponse {
                    id: line.item.id,
                    product_id: line.item.product_id,
                    name: line.name,
                    unit_price: format_money(&line.unit_price),
                    quantity: line.item.quantity,
                    line_total: format_money(&line.line_total),
                    available: line.available,
                    tax: line.tax.as_ref().map(format_money),
                }
            })
            .collect();
        Self {
            id: cart.id,
            status: cart.status.as_str(),
            items,
            item_count,
            total: format_money(&total),
            created_at: cart.created_at,
            updated_at: cart.updated_at,
            checked_out_at: cart.checked_out_at,
        }
    }
}

/// One line priced: an order's frozen price, or an open cart's current price.
struct Line {
    item: CartItem,
    name: String,
    unit_price: BigDecimal,
    line_total: BigDecimal,
    available: bool,
    tax: Option<BigDecimal>,
}

impl Line {
    fn of(cart: &Cart, item: CartItem, product: Product) -> Self {
        let (unit_price, available) = match (&item.unit_price, cart.checked_out_at) {
            (Some(frozen), Some(_)) => (frozen.clone(), true),
            _ => (product.price.clone(), product.archived_at.is_none()),
        };
        let line_total = &unit_price * BigDecimal::from(item.quantity);
        let tax = cart.checked_out_at.and(item.tax.clone());
        Self {
            tax,
            item,
            name: product.name,
            unit_price,
            line_total,
            available,
        }
    }
}
