//! A delivery checked against the shop and what an order for it charges: the values a
//! quote answers with and a checkout stores (and a refused checkout reports). No queries:
//! `pricing` finds these, `checkout` writes them.

use crate::domain::{totals, Address, LineToTotal, ShippingCharge, TaxMode, TaxRate, Totals};
use crate::models::ShippingMethod;

/// A delivery checked against the shop: the address as it will be stored, the method
/// and the destination's tax rate (0 without an address or a rate for its country).
#[derive(Debug, Clone)]
pub struct Destination {
    pub address: Option<Address>,
    pub method: Option<ShippingMethod>,
    pub tax_rate: TaxRate,
}

impl Destination {
    /// The totals of `lines` delivered here.
    pub fn totals(&self, lines: &[LineToTotal], mode: TaxMode) -> Totals {
        let charge = self.method.as_ref().map(|method| ShippingCharge {
            price: method.price.clone(),
            free_over: method.free_over.clone(),
        });
        totals(lines, &self.tax_rate, mode, charge.as_ref())
    }
}

/// A quote: the totals of the open cart's orderable lines for a delivery.
#[derive(Debug, Clone)]
pub struct Quote {
    pub totals: Totals,
    pub destination: Destination,
    pub mode: TaxMode,
}
