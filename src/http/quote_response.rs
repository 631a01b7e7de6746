//! What an order would charge: the body of `POST /cart/quote`, and of the 409
//! `total_changed` a checkout answers when the total is not the one the client expected.

use serde::Serialize;
use utoipa::ToSchema;

use super::schemas::{money_out_schema, tax_rate_out_schema};
use crate::domain::{format_money, format_rate, TaxMode};
use crate::repository::pricing::Quote;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuoteResponse {
    /// The lines at their current prices.
    #[schema(schema_with = money_out_schema)]
    pub subtotal: String,
    /// 0.00 when free (from the method's `free_over`) or without a shipping method.
    #[schema(schema_with = money_out_schema)]
    pub shipping: String,
    /// The sum of the lines' tax, each rounded half-up to the cent.
    #[schema(schema_with = money_out_schema)]
    pub tax: String,
    /// What the order would charge: subtotal + shipping, + tax when prices exclude it.
    #[schema(schema_with = money_out_schema)]
    pub total: String,
    /// The destination country's rate, a percentage ("0.00" without an address or a rate).
    #[schema(schema_with = tax_rate_out_schema)]
    pub tax_rate: String,
    /// Whether the prices contain the tax (then it is part of `subtotal`, not added).
    pub prices_include_tax: bool,
    /// The chosen method; null without one.
    #[schema(required = true)]
    pub shipping_method_id: Option<i32>,
    /// Each orderable line (archived products are left out, as from the cart's total).
    pub lines: Vec<QuoteLineResponse>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuoteLineResponse {
    /// The cart line (`items[].id` of the cart).
    pub item_id: i32,
    /// Unit price × quantity.
    #[schema(schema_with = money_out_schema)]
    pub line_total: String,
    /// The line's tax, rounded half-up to the cent.
    #[schema(schema_with = money_out_schema)]
    pub tax: String,
}

impl From<&Quote> for QuoteResponse {
    fn from(quote: &Quote) -> Self {
        let Quote {
            totals,
            destination,
            mode,
        } = quote;
        Self {
            subtotal: format_money(&totals.subtotal),
            shipping: format_money(&totals.shipping),
            tax: format_money(&totals.tax),
            total: format_money(&totals.total),
            tax_rate: format_rate(destination.tax_rate.as_decimal()),
            prices_include_tax: *mode == TaxMode::Included,
            shipping_method_id: destination.method.as_ref().map(|method| method.id),
            lines: totals
                .lines
                .iter()
                .map(|line| QuoteLineResponse {
                    item_id: line.item_id,
                    line_total: format_money(&line.line_total),
                    tax: format_money(&line.tax),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
impl QuoteResponse {
    /// A quote of nothing, for tests of the error table.
    pub fn empty() -> Self {
        Self {
            subtotal: "0.00".into(),
            shipping: "0.00".into(),
            tax: "0.00".into(),
            total: "0.00".into(),
            tax_rate: "0.00".into(),
            prices_include_tax: true,
            shipping_method_id: None,
            lines: Vec::new(),
        }
    }
}
