//! The catalogue's JSON: the product as clients see it, a page of them, and the bodies
//! admins send to create and change products.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::domain::format_money;
use crate::http::extract::{optional_whole_number, present, present_whole_number, PriceInput};
use crate::http::schemas::{description_schema, price_schema, product_name_schema};
use crate::models::Product;
use crate::repository::products::ProductView;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductResponse {
    pub id: i32,
    pub name: String,
    /// Null when the product has none.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Decimal string, two places.
    #[schema(pattern = r"^[0-9]{1,10}\.[0-9]{2}$", example = "19.99")]
    pub price: String,
    /// The lowest price the product had at any moment in the last 30 days (the current
    /// price when it did not change): what a reduction is announced against (EU Omnibus
    /// rule). Decimal string, two places.
    #[schema(pattern = r"^[0-9]{1,10}\.[0-9]{2}$", example = "17.50")]
    pub lowest_price_30d: String,
    pub inventory_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductResponse {
    pub fn new(product: Product, lowest_price_30d: &BigDecimal) -> Self {
        Self {
            id: product.id,
            price: format_money(&product.price),
            lowest_price_30d: format_money(lowest_price_30d),
            name: product.name,
            description: product.description,
            inventory_count: product.inventory_count,
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }
}

impl From<ProductView> for ProductResponse {
    fn from(view: ProductView) -> Self {
        Self::new(view.product, &view.lowest_price_30d)
    }
}

/// A page of the catalogue; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<ProductResponse>,
    /// Pass back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    #[schema(schema_with = product_name_schema)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Option<String>,
    #[schema(schema_with = price_schema)]
    pub price: PriceInput,
    /// Units in stock; absent or null: 0.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub inventory_count: Option<i64>,
}

/// Absent fields stay as they are; `"description": null` clears the description. The
/// other fields cannot be cleared, so null for them is a 422, not a silent no-op.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = product_name_schema)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(schema_with = description_schema)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = price_schema)]
    pub price: Option<PriceInput>,
    #[serde(default, deserialize_with = "present_whole_number")]
    #[schema(value_type = i64, minimum = 0, maximum = 2147483647)]
    pub inventory_count: Option<i64>,
}

/// Tells `"field": null` (Some(None)) from an absent field (None).
fn present_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}
