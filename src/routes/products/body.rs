//! The catalogue's JSON: the product as clients see it, a page of them, and the bodies
//! admins send to create and change products.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::domain::{ProductImages, RawImage};
use crate::http::extract::{
    nullable, optional_whole_number, present, present_whole_number, JsonObject, PriceInput,
};
use crate::http::schemas::{
    description_schema, image_url_schema, nullable_variant_options_schema, price_schema,
    product_name_schema, variant_options_schema,
};
use crate::http::validate::Validator;
use crate::http::ProductResponse;
use crate::models::{StoredImages, StoredOptions};
use crate::repository::categories::normalise_ids;

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
    /// Categories to file it under (each must exist); absent: none.
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<i32>)]
    pub category_ids: Vec<i64>,
    /// Its pictures (at most 20, https URLs); absent: none.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<ImageInput>)]
    pub images: Vec<JsonObject<ImageInput>>,
    /// The variant group it joins (with `options`); absent or null: not a variant.
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 1)]
    pub group_id: Option<i64>,
    /// Its value on each option of the group (`{"size": "M"}`); required with
    /// `group_id`, and only with it.
    #[serde(default)]
    #[schema(schema_with = nullable_variant_options_schema)]
    pub options: Option<BTreeMap<String, String>>,
}

/// A product image as admins send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageInput {
    /// An absolute https URL, at most 2,000 characters.
    #[schema(schema_with = image_url_schema)]
    pub url: String,
    /// What the picture shows, at most 500 characters; absent: empty.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub alt: Option<String>,
    /// Display order (ascending, distinct, 0 to 1000); absent: its index in the list.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 0, maximum = 1000)]
    pub position: Option<i64>,
}

/// Parses images into their stored form, recording each invalid one in `validator`.
pub fn images_from(
    validator: &mut Validator,
    raw: Vec<JsonObject<ImageInput>>,
) -> Option<StoredImages> {
    let raw = raw
        .into_iter()
        .map(|JsonObject(image)| RawImage {
            url: image.url,
            alt: image.alt,
            position: image.position,
        })
        .collect();
    match ProductImages::parse(raw) {
        Ok(images) => Some(StoredImages(images.into_inner())),
        Err(errors) => {
            for error in errors {
                validator.reject(&error.field(), error.message);
            }
            None
        }
    }
}

/// Category ids: at most 50, each a positive 32-bit id; ascending and distinct after.
pub fn category_ids_from(validator: &mut Validator, raw: Vec<i64>) -> Option<Vec<i32>> {
    const MAX: usize = 50;
    if raw.len() > MAX {
        validator.reject(
            "category_ids",
            format!("must have at most {MAX} categories"),
        );
        return None;
    }
    let ids: Option<Vec<i32>> = raw
        .into_iter()
        .map(|id| i32::try_from(id).ok().filter(|id| *id > 0))
        .collect();
    match ids {
        Some(ids) => Some(normalise_ids(ids)),
        None => {
            validator.reject(
                "category_ids",
                "must be category ids (positive whole numbers)",
            );
            None
        }
    }
}

/// A group id: a positive 32-bit id.
pub fn group_id_from(validator: &mut Validator, raw: i64) -> Option<i32> {
    let id = i32::try_from(raw).ok().filter(|id| *id > 0);
    if id.is_none() {
        validator.reject(
            "group_id",
            "must be a product group id (a positive whole number)",
        );
    }
    id
}

/// Variant options, trimmed; whether they fit the group is checked against it.
pub fn options_from(
    validator: &mut Validator,
    raw: BTreeMap<String, String>,
) -> Option<StoredOptions> {
    validator
        .check("options", crate::domain::VariantOptions::parse(raw))
        .map(|options| StoredOptions(options.as_map().clone()))
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
    /// Replaces the categories it is filed under (`[]`: none).
    #[serde(default, deserialize_with = "present")]
    #[schema(max_items = 50, value_type = Vec<i32>)]
    pub category_ids: Option<Vec<i64>>,
    /// Replaces its pictures (`[]`: none).
    #[serde(default, deserialize_with = "present")]
    #[schema(max_items = 20, value_type = Vec<ImageInput>)]
    pub images: Option<Vec<JsonObject<ImageInput>>>,
    /// Moves it into a variant group (with `options` unless it keeps its values); null
    /// takes it out of its group.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 1)]
    pub group_id: Option<Option<i64>>,
    /// Its value on each option of its group.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = variant_options_schema)]
    pub options: Option<BTreeMap<String, String>>,
}

/// Tells `"field": null` (Some(None)) from an absent field (None).
fn present_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}
