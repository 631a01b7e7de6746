//! The product as clients see it: the catalogue's body, also a variant group's
//! `variants` (shared by two resources, so it lives at the edge).

use std::collections::BTreeMap;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::timestamp;
use crate::domain::{format_money, ProductImage};
use crate::models::{Product, ProductStructure};
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
    /// The categories it is filed under (ascending ids); it is also listed under their
    /// ancestors.
    pub category_ids: Vec<i32>,
    /// Its pictures, in display order (ascending `position`).
    pub images: Vec<ImageResponse>,
    /// The variant group it belongs to; null when it is not a variant.
    #[schema(required = true)]
    pub group_id: Option<i32>,
    /// Its value on each option of its group (`{"size": "M"}`); null when it is not a
    /// variant.
    #[schema(required = true)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(serialize_with = "timestamp::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// A product image.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageResponse {
    #[schema(example = "https://cdn.example.com/teapot-front.jpg")]
    pub url: String,
    /// What the picture shows, for screen readers; may be empty.
    pub alt: String,
    pub position: i32,
}

impl From<ProductImage> for ImageResponse {
    fn from(image: ProductImage) -> Self {
        Self {
            url: image.url,
            alt: image.alt,
            position: image.position,
        }
    }
}

impl ProductResponse {
    pub fn new(
        product: Product,
        structure: ProductStructure,
        lowest_price_30d: &BigDecimal,
    ) -> Self {
        Self {
            id: product.id,
            price: format_money(&product.price),
            lowest_price_30d: format_money(lowest_price_30d),
            name: product.name,
            description: product.description,
            inventory_count: product.inventory_count,
            category_ids: structure.category_ids.into_iter().flatten().collect(),
            images: structure
                .images
                .0
                .into_iter()
                .map(ImageResponse::from)
                .collect(),
            group_id: structure.group_id,
            options: structure.options.map(|options| options.0),
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }
}

impl From<ProductView> for ProductResponse {
    fn from(view: ProductView) -> Self {
        Self::new(view.product, view.structure, &view.lowest_price_30d)
    }
}
