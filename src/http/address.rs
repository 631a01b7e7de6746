//! Addresses on the wire: the body a customer sends (to the address book, or inline with
//! a quote or a checkout) and the JSON of a saved address and of an order's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::FieldError;
use super::schemas::{
    city_schema, country_schema, line1_schema, line2_schema, phone_schema, postal_code_schema,
    recipient_name_schema, region_schema,
};
use crate::domain::{Address, RawAddress};
use crate::models::{OrderAddress, SavedAddress};

/// A postal address. `name`, `line1`, `city` and `country` are required; the others may be
/// left out, null or blank.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// Who receives the parcel.
    #[schema(schema_with = recipient_name_schema, required = true)]
    pub name: Option<String>,
    /// Street and number.
    #[schema(schema_with = line1_schema, required = true)]
    pub line1: Option<String>,
    /// Apartment, floor, c/o.
    #[schema(schema_with = line2_schema)]
    pub line2: Option<String>,
    #[schema(schema_with = city_schema, required = true)]
    pub city: Option<String>,
    #[schema(schema_with = postal_code_schema)]
    pub postal_code: Option<String>,
    /// State, province or county.
    #[schema(schema_with = region_schema)]
    pub region: Option<String>,
    #[schema(schema_with = country_schema, required = true)]
    pub country: Option<String>,
    /// For the carrier.
    #[schema(schema_with = phone_schema)]
    pub phone: Option<String>,
}

impl AddressInput {
    pub fn raw(&self) -> RawAddress<'_> {
        RawAddress {
            name: self.name.as_deref(),
            line1: self.line1.as_deref(),
            line2: self.line2.as_deref(),
            city: self.city.as_deref(),
            postal_code: self.postal_code.as_deref(),
            region: self.region.as_deref(),
            country: self.country.as_deref(),
            phone: self.phone.as_deref(),
        }
    }

    /// The whole address, or a 422 entry for each bad field, named `{prefix}{field}`
    /// (`shipping_address.city`).
    pub fn parse(&self, prefix: &str) -> Result<Address, Vec<FieldError>> {
        parse_address(self.raw(), prefix)
    }
}

/// An address as sent, parsed whole: each bad field named `{prefix}{field}`.
pub fn parse_address(raw: RawAddress<'_>, prefix: &str) -> Result<Address, Vec<FieldError>> {
    Address::parse(raw).map_err(|errors| {
        errors
            .into_iter()
            .map(|(field, message)| FieldError::new(format!("{prefix}{field}"), message))
            .collect()
    })
}

/// A saved address.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedAddressResponse {
    pub id: i32,
    pub name: String,
    pub line1: String,
    #[schema(required = true)]
    pub line2: Option<String>,
    pub city: String,
    #[schema(required = true)]
    pub postal_code: Option<String>,
    #[schema(required = true)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "DE")]
    pub country: String,
    #[schema(required = true)]
    pub phone: Option<String>,
    /// The address a front end preselects; at most one is.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SavedAddress> for SavedAddressResponse {
    fn from(address: SavedAddress) -> Self {
        Self {
            id: address.id,
            name: address.name,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            region: address.region,
            country: address.country,
            phone: address.phone,
            is_default: address.is_default,
            created_at: address.created_at,
            updated_at: address.updated_at,
        }
    }
}

/// Where an order ships: the address as given at checkout.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingAddressResponse {
    pub name: String,
    pub line1: String,
    #[schema(required = true)]
    pub line2: Option<String>,
    pub city: String,
    #[schema(required = true)]
    pub postal_code: Option<String>,
    #[schema(required = true)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "DE")]
    pub country: String,
    #[schema(required = true)]
    pub phone: Option<String>,
}

impl From<OrderAddress> for ShippingAddressResponse {
    fn from(address: OrderAddress) -> Self {
        Self {
            name: address.name,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            region: address.region,
            country: address.country,
            phone: address.phone,
        }
    }
}
