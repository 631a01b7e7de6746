//! `GET /products` query parameters, parsed into the repository's listing.

use bigdecimal::BigDecimal;
use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::IntoParams;

use crate::domain::{parse_decimal, CategorySlug, PageSize};
use crate::http::cursor;
use crate::http::validate::Validator;
use crate::http::{ApiError, FieldError};
use crate::repository::catalogue::{ProductFilter, ProductListing, ProductSort};

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
    /// A category's slug: only products listed under it (filed in it or in a category
    /// below it). A slug no category has is a 404.
    #[param(
        max_length = 100,
        pattern = "^([a-z0-9]+(-[a-z0-9]+)*)?$",
        example = "shirts"
    )]
    category: Option<String>,
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

/// The listing the query asks for (fetching one row more than the page shows) and the
/// page size.
pub fn listing_from(query: ListQuery) -> Result<(ProductListing, PageSize), ApiError> {
    let mut validator = Validator::default();
    if let Some(q) = &query.q {
        if q.contains('\0') {
            validator.reject("q", "must not contain NUL characters");
        } else if q.chars().count() > MAX_SEARCH_LEN {
            validator.reject("q", format!("must be at most {MAX_SEARCH_LEN} characters"));
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
    let size = validator.check("limit", PageSize::parse(query.limit));
    let category = match query.category.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(
            CategorySlug::parse(&raw)
                .map_err(|message| ApiError::BadQuery(vec![FieldError::new("category", message)]))?
                .into_inner(),
        ),
        None => None,
    };
    validator.finish()?;
    // Relevance means nothing without a search text: newest first instead.
    let sort = match sort {
        Some(ProductSort::Relevance) if text.is_none() => ProductSort::Newest,
        Some(sort) => sort,
        None => ProductSort::Newest,
    };
    let after = match query.cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(cursor::decode(&raw, sort).ok_or_else(cursor::rejected)?),
        None => None,
    };
    let size = size.unwrap_or_default();
    let listing = ProductListing {
        filter: ProductFilter {
            text,
            min_price,
            max_price,
            in_stock_only: query.in_stock.unwrap_or(false),
            category,
        },
        sort,
        after,
        limit: size.with_lookahead(),
    };
    Ok((listing, size))
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
        ApiError::BadQuery(vec![FieldError::new(
            field,
            "must be a decimal such as 10 or 9.99",
        )])
    })?;
    if raw.starts_with('-') {
        validator.reject(field, "must not be negative");
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
