//! Where an order goes and what it charges: the delivery a quote or a checkout asks for
//! (an address, typed in or saved, and a shipping method), checked against the shop's
//! shipping methods and tax rates, and the totals of a cart's lines for it. A quote and a
//! checkout share this, so what the quote says is what the checkout charges at the same
//! prices. Nothing here writes.

use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::carts::{existing_open_cart_with_lines, CartOwner};
pub use super::quote::{Destination, Quote};
use super::{addresses, shipping_methods, tax_rates, ShopError};
use crate::domain::{Address, Country, LineToTotal, TaxMode, TaxRate};
use crate::models::SavedAddress;

/// Which address: one typed in, or one of the customer's saved addresses (by id).
#[derive(Debug, Clone)]
pub enum AddressChoice {
    Given(Address),
    Saved(i32),
}

/// What a quote or a checkout asks for; both parts may be left out while the shop has no
/// shipping method.
#[derive(Debug, Clone, Default)]
pub struct DeliveryRequest {
    pub address: Option<AddressChoice>,
    pub shipping_method_id: Option<i32>,
}

/// Checks `request` for `user_id` (`None`: a guest, who has no saved addresses):
/// `Invalid` naming each field that is missing or wrong, `NotFound` for a saved address
/// that is not the user's.
pub fn resolve(
    conn: &mut PgConnection,
    user_id: Option<i32>,
    request: &DeliveryRequest,
) -> Result<Destination, ShopError> {
    let address = match &request.address {
        None => None,
        Some(AddressChoice::Given(address)) => Some(address.clone()),
        Some(AddressChoice::Saved(id)) => {
            let Some(user_id) = user_id else {
                return Err(invalid(
                    "address_id",
                    "a guest has no saved addresses: send shipping_address instead",
                ));
            };
            let saved = addresses::find(conn, user_id, *id).map_err(ShopError::from_not_found)?;
            Some(stored_address(saved)?)
        }
    };
    let no_such_method = || invalid("shipping_method_id", "names no shipping method");
    let (method, tax_rate) = match (request.shipping_method_id, &address) {
        // The common case, in one round trip: the method and the destination's rate.
        (Some(id), Some(address)) => {
            let (method, rate) =
                shipping_methods::find_with_rate(conn, id, address.country.as_str())?
                    .ok_or_else(no_such_method)?;
            (Some(method), rate)
        }
        (Some(id), None) => {
            shipping_methods::find(conn, id)
                .optional()?
                .ok_or_else(no_such_method)?;
            return Err(ShopError::Invalid(vec![address_required()]));
        }
        // A shop that ships goods needs to know how; one with no methods does not.
        (None, address) if shipping_methods::any_exist(conn)? => {
            let mut missing = vec![(
                "shipping_method_id",
                "is required: choose one of GET /api/v1/shipping-methods?country=XX".to_owned(),
            )];
            if address.is_none() {
                missing.insert(0, address_required());
            }
            return Err(ShopError::Invalid(missing));
        }
        (None, Some(address)) => (None, tax_rates::rate_for(conn, address.country.as_str())?),
        (None, None) => (None, None),
    };
    if let (Some(method), Some(address)) = (&method, &address) {
        let country = address.country.as_str();
        if !method.ships_to(country) {
            return Err(invalid(
                "shipping_method_id",
                format!("does not ship to {country}"),
            ));
        }
    }
    let tax_rate = tax_rate.map_or_else(TaxRate::zero, TaxRate::from_decimal);
    Ok(Destination {
        address,
        method,
        tax_rate,
    })
}

/// The totals of the owner's open cart for `request`, without placing an order or
/// writing anything (not even creating the cart). Lines whose product was archived are
/// left out, as the cart's own total leaves them out. `EmptyCart` when nothing is left.
pub fn quote(
    conn: &mut PgConnection,
    owner: CartOwner,
    request: &DeliveryRequest,
    mode: TaxMode,
) -> Result<Quote, ShopError> {
    let user_id = match owner {
        CartOwner::User(user_id) => Some(user_id),
        CartOwner::Guest(_) => None,
    };
    let destination = resolve(conn, user_id, request)?;
    let lines: Vec<LineToTotal> = existing_open_cart_with_lines(conn, owner)?
        .map(|(_, lines)| lines)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, product)| product.archived_at.is_none())
        .map(|(item, product)| LineToTotal {
            item_id: item.id,
            unit_price: product.price,
            quantity: item.quantity,
        })
        .collect();
    if lines.is_empty() {
        return Err(ShopError::EmptyCart);
    }
    Ok(Quote {
        totals: destination.totals(&lines, mode),
        destination,
        mode,
    })
}

fn address_required() -> (&'static str, String) {
    (
        "shipping_address",
        "is required (or address_id): this shop ships its goods".to_owned(),
    )
}

fn invalid(field: &'static str, message: impl Into<String>) -> ShopError {
    ShopError::Invalid(vec![(field, message.into())])
}

/// A saved address as the domain value it was saved from.
fn stored_address(saved: SavedAddress) -> Result<Address, ShopError> {
    let country =
        Country::parse(&saved.country).map_err(|message| invalid("address_id", message))?;
    Ok(Address {
        name: saved.name,
        line1: saved.line1,
        line2: saved.line2,
        city: saved.city,
        postal_code: saved.postal_code,
        region: saved.region,
        country,
        phone: saved.phone,
    })
}
