//! The catalogue: list and search (anyone), read one (anyone), create / update / archive
//! (admins).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use super::cursor;
use super::extract::{optional_whole_number, present, present_whole_number, ApiJson};
use super::with_conn;
use crate::auth::AdminUser;
use crate::db::DbPool;
use crate::domain::{format_money, parse_decimal, parse_price, PriceInput, Validator};
use crate::error::{ApiError, Problem};
use crate::models::{NewProduct, Product, ProductChanges};
use crate::repository::catalogue::{self, ProductFilter, ProductListing, ProductSort};
use crate::repository::products;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/products")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/products/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(archive)),
    );
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductResponse {
    pub id: i32,
    pub name: String,
    pub description: Option<String>,
    /// Decimal string, two places.
    #[schema(example = "19.99")]
    pub price: String,
    pub inventory_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Product> for ProductResponse {
    fn from(product: Product) -> Self {
        Self {
            id: product.id,
            price: format_money(&product.price),
            name: product.name,
            description: product.description,
            inventory_count: product.inventory_count,
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }
}

/// A page of the catalogue; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    items: Vec<ProductResponse>,
    next_cursor: Option<String>,
}

// ------------------------------------------------------------------ reading

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalogue",
    params(("id" = i32, Path, description = "Product id")),
    responses((status = 200, description = "The product", body = ProductResponse), (status = 404, description = "Missing or archived", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn show(pool: web::Data<DbPool>, id: web::Path<i32>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let product = with_conn(&pool, move |conn| Ok(products::find_live(conn, id)?)).await?;
    Ok(HttpResponse::Ok().json(ProductResponse::from(product)))
}

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;
const MAX_SEARCH_LEN: usize = 200;

/// Query parameters as sent; unknown parameters are ignored (caches and analytics add
/// their own), and so are empty ones (`min_price=`, as an HTML form sends an empty field).
/// Values that do not parse as their type are a 400; values out of range a 422.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Full-text search, web-search syntax (`"a phrase"`, `-without`, `or`); up to 200
    /// characters.
    #[param(max_length = 200, pattern = r"^[^\u0000]*$")]
    q: Option<String>,
    /// Lowest price, inclusive: a plain decimal such as `10` or `9.99`.
    #[param(pattern = r"^([0-9]{1,20}(\.[0-9]{1,20})?)?$", example = "9.99")]
    min_price: Option<String>,
    /// Highest price, inclusive (below `min_price`: an empty page).
    #[param(pattern = r"^([0-9]{1,20}(\.[0-9]{1,20})?)?$", example = "50")]
    max_price: Option<String>,
    /// `true`: only products in stock.
    in_stock: Option<bool>,
    /// `relevance` (default with `q`; without `q` it means `newest`), `newest` (default
    /// otherwise), `price_asc`, `price_desc`.
    #[param(schema_with = sort_schema)]
    sort: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, as it came. It marks where that page ended in
    /// any order, so the other parameters should stay the same. A cursor this service did
    /// not issue, or one altered, is a 400.
    #[param(pattern = "^([A-Za-z0-9_-]{40})?$")]
    cursor: Option<String>,
}

fn sort_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(["relevance", "newest", "price_asc", "price_desc"]))
        .build()
}

#[utoipa::path(get, path = "/api/v1/products", tag = "catalogue", params(ListQuery),
    responses((status = 200, description = "A page of products", body = ProductPage), (status = 400, description = "Malformed JSON, query or body type", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn list(
    pool: web::Data<DbPool>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (listing, limit) = listing_from(query.into_inner())?;
    let rows = with_conn(&pool, move |conn| Ok(catalogue::list(conn, &listing)?)).await?;

    let has_more = rows.len() as i64 > limit;
    let mut rows = rows;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if has_more => Some(cursor::encode(last)),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(ProductPage {
        items: rows
            .into_iter()
            .map(|row| ProductResponse::from(row.product))
            .collect(),
        next_cursor,
    }))
}

fn listing_from(query: ListQuery) -> Result<(ProductListing, i64), ApiError> {
    let mut validator = Validator::default();
    if let Some(q) = &query.q {
        if q.contains('\0') {
            validator.check::<()>("q", Err("must not contain NUL characters".into()));
        } else if q.chars().count() > MAX_SEARCH_LEN {
            validator.check::<()>(
                "q",
                Err(format!("must be at most {MAX_SEARCH_LEN} characters")),
            );
        }
    }
    let text = query
        .q
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    // min_price above max_price is no error: the range is empty, and so is the page.
    let min_price = price_bound("min_price", query.min_price.as_deref(), &mut validator)?;
    let max_price = price_bound("max_price", query.max_price.as_deref(), &mut validator)?;
    let sort = match query.sort.as_deref() {
        None if text.is_some() => Some(ProductSort::Relevance),
        None => Some(ProductSort::Newest),
        Some(raw) => validator.check("sort", parse_sort(raw)),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        validator.check::<()>("limit", Err(format!("must be from 1 to {MAX_LIMIT}")));
    }
    validator.finish()?;
    // Relevance means nothing without a search text: newest first instead.
    let sort = match sort {
        Some(ProductSort::Relevance) if text.is_none() => ProductSort::Newest,
        Some(sort) => sort,
        None => ProductSort::Newest,
    };
    let after = match query.cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(cursor::decode(&raw, sort).ok_or_else(|| {
            ApiError::BadRequest(
                "the cursor is not one this service issued; start again without it".into(),
            )
        })?),
        None => None,
    };
    let listing = ProductListing {
        filter: ProductFilter {
            text,
            min_price,
            max_price,
            in_stock_only: query.in_stock.unwrap_or(false),
        },
        sort,
        after,
        limit: limit + 1,
    };
    Ok((listing, limit))
}

/// A price bound: empty is none; text that is not a plain decimal a 400 (like `limit=ten`,
/// it does not parse as its type); a negative one a 422 (it parses, but is out of range).
fn price_bound(
    field: &str,
    raw: Option<&str>,
    validator: &mut Validator,
) -> Result<Option<BigDecimal>, ApiError> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
        return Ok(None);
    };
    let price = parse_decimal(raw).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "malformed query string: {field} must be a decimal such as 10 or 9.99"
        ))
    })?;
    if raw.starts_with('-') {
        validator.check::<()>(field, Err("must not be negative".into()));
    }
    Ok(Some(price))
}

fn parse_sort(raw: &str) -> Result<ProductSort, String> {
    match raw {
        "relevance" => Ok(ProductSort::Relevance),
        "price_asc" => Ok(ProductSort::PriceAsc),
        "price_desc" => Ok(ProductSort::PriceDesc),
        "newest" => Ok(ProductSort::Newest),
        _ => Err("must be one of relevance, price_asc, price_desc, newest".into()),
    }
}

// ------------------------------------------------------------------ writing (admins)

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    #[schema(schema_with = name_schema)]
    name: String,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    description: Option<String>,
    #[schema(schema_with = crate::domain::price_schema)]
    price: PriceInput,
    /// Units in stock; absent or null: 0.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 0, maximum = 2147483647)]
    inventory_count: Option<i64>,
}

/// Absent fields stay as they are; `"description": null` clears the description. The
/// other fields cannot be cleared, so null for them is a 422, not a silent no-op.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = name_schema)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(schema_with = description_schema)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::domain::price_schema)]
    price: Option<PriceInput>,
    #[serde(default, deserialize_with = "present_whole_number")]
    #[schema(value_type = i64, minimum = 0, maximum = 2147483647)]
    inventory_count: Option<i64>,
}

/// Tells `"field": null` (Some(None)) from an absent field (None).
fn present_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

const MAX_NAME_LEN: usize = 255;
const MAX_DESCRIPTION_LEN: usize = 10_000;

/// Rust's `char::is_whitespace` (what `str::trim` removes) as a regex class body.
const WHITESPACE: &str =
    r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

// Lengths are counted before trimming, as the document's maxLength counts them.
fn parse_name(raw: &str) -> Result<String, String> {
    if raw.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    if raw.chars().count() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters long"));
    }
    match raw.trim() {
        // Not "must not be blank": fuzzers read that (Spring's wording) as "required",
        // which a partial update's `name` is not.
        "" => Err("must have a character other than whitespace".into()),
        name => Ok(name.to_owned()),
    }
}

fn parse_description(raw: Option<String>) -> Result<Option<String>, String> {
    match raw {
        Some(d) if d.contains('\0') => Err("must not contain NUL characters".into()),
        Some(d) if d.chars().count() > MAX_DESCRIPTION_LEN => Err(format!(
            "must be at most {MAX_DESCRIPTION_LEN} characters long"
        )),
        other => Ok(other.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty())),
    }
}

/// What `parse_name` accepts: 1 to 255 characters, not all whitespace, no NUL.
fn name_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .pattern(Some(format!(
            "^[^\\u0000]*[^\\u0000{WHITESPACE}][^\\u0000]*$"
        )))
        .description(Some(
            "1 to 255 characters, not all whitespace (leading and trailing whitespace is trimmed).",
        ))
        .examples(["Blue teapot"])
        .build()
}

/// What `parse_description` accepts; blank or null means no description.
fn description_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX_DESCRIPTION_LEN))
        .pattern(Some(r"^[^\u0000]*$"))
        .description(Some(
            "Up to 10,000 characters; null or blank: no description (on update: clears it).",
        ))
        .build()
}

fn parse_inventory(raw: i64) -> Result<i32, String> {
    i32::try_from(raw)
        .ok()
        .filter(|count| *count >= 0)
        .ok_or_else(|| format!("must be a whole number from 0 to {}", i32::MAX))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "catalogue", security(("bearer" = [])), request_body = CreateProductRequest,
    responses((status = 201, description = "Created; Location: /api/v1/products/{id}", body = ProductResponse),
        (status = 400, description = "Malformed JSON, query or body type", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, unknown, expired or revoked token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn create(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateProductRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let name = validator.check("name", parse_name(&body.name));
    let description = validator.check("description", parse_description(body.description));
    let price = validator.check("price", parse_price(&body.price));
    let inventory_count = validator.check(
        "inventory_count",
        parse_inventory(body.inventory_count.unwrap_or(0)),
    );
    validator.finish()?;
    let (Some(name), Some(description), Some(price), Some(inventory_count)) =
        (name, description, price, inventory_count)
    else {
        return Err(ApiError::Internal("validator passed without values".into()).into());
    };
    let product = with_conn(&pool, move |conn| {
        Ok(products::insert(
            conn,
            &NewProduct {
                name: &name,
                description: description.as_deref(),
                price: &price,
                inventory_count,
            },
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/products/{}", product.id)))
        .json(ProductResponse::from(product)))
}

#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalogue", security(("bearer" = [])), request_body = inline(UpdateProductRequest),
    params(("id" = i32, Path, description = "Product id")),
    responses((status = 200, description = "Updated", body = ProductResponse),
        (status = 400, description = "Malformed JSON, query or body type", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, unknown, expired or revoked token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Missing or archived", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn update(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<UpdateProductRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let changes = ProductChanges {
        name: body
            .name
            .and_then(|raw| validator.check("name", parse_name(&raw))),
        description: body
            .description
            .and_then(|raw| validator.check("description", parse_description(raw))),
        price: body
            .price
            .and_then(|raw| validator.check("price", parse_price(&raw))),
        inventory_count: body
            .inventory_count
            .and_then(|raw| validator.check("inventory_count", parse_inventory(raw))),
    };
    validator.finish()?;
    let id = id.into_inner();
    let product = with_conn(&pool, move |conn| Ok(products::update(conn, id, &changes)?)).await?;
    Ok(HttpResponse::Ok().json(ProductResponse::from(product)))
}

/// Archives: the row stays (orders refer to it) but the catalogue no longer shows it.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalogue", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product id")),
    responses((status = 204, description = "Archived"), (status = 401, description = "Missing, unknown, expired or revoked token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Missing or already archived", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn archive(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    with_conn(&pool, move |conn| Ok(products::archive(conn, id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
