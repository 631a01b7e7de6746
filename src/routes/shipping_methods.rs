//! Shipping methods: `GET /shipping-methods` (anyone; `?country=XX` for those that ship
//! there), `GET /shipping-methods/{id}`, and for staff `POST`, `PATCH` and `DELETE`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminUser;
use crate::db::DbPool;
use crate::domain::{format_money, Country, Price, ProductName};
use crate::http::extract::{nullable, present, ApiJson, ApiQuery, PriceInput};
use crate::http::responses;
use crate::http::schemas::{
    country_schema, money_out_schema, nullable_price_schema, price_schema, product_name_schema,
};
use crate::http::validate::Validator;
use crate::http::{with_conn, ApiError, FieldError, Problem};
use crate::models::{NewShippingMethod, ShippingMethod, ShippingMethodChanges};
use crate::repository::shipping_methods;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/shipping-methods")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/shipping-methods/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// Most countries one method may list (there are 249 codes).
const MAX_COUNTRIES: usize = 249;

/// A way to ship orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingMethodResponse {
    pub id: i32,
    #[schema(example = "DHL Paket")]
    pub name: String,
    /// What shipping costs.
    #[schema(schema_with = money_out_schema)]
    pub price: String,
    /// ISO 3166-1 alpha-2 codes it ships to.
    #[schema(example = json!(["DE", "AT"]))]
    pub countries: Vec<String>,
    /// A subtotal from which shipping is free; null: never free.
    #[schema(required = true, pattern = r"^[0-9]+\.[0-9]{2}$", example = "50.00")]
    pub free_over: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ShippingMethod> for ShippingMethodResponse {
    fn from(method: ShippingMethod) -> Self {
        Self {
            id: method.id,
            name: method.name,
            price: format_money(&method.price),
            countries: method.countries.into_iter().flatten().collect(),
            free_over: method.free_over.as_ref().map(format_money),
            created_at: method.created_at,
            updated_at: method.updated_at,
        }
    }
}

/// Every method (or those for one country), by id: a short list, not paged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingMethodList {
    items: Vec<ShippingMethodResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only methods that ship to this country (ISO 3166-1 alpha-2, capitals).
    #[param(schema_with = country_schema)]
    country: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShippingMethodRequest {
    /// What the customer sees, 1 to 100 characters.
    #[schema(schema_with = method_name_schema)]
    name: String,
    #[schema(schema_with = price_schema)]
    price: PriceInput,
    /// Where it ships: at least one ISO 3166-1 alpha-2 code (repeats count once).
    #[schema(schema_with = countries_schema)]
    countries: Vec<String>,
    /// A subtotal from which shipping is free; null or left out: never free.
    #[serde(default)]
    #[schema(schema_with = nullable_price_schema)]
    free_over: Option<PriceInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateShippingMethodRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = method_name_schema)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = price_schema)]
    price: Option<PriceInput>,
    /// Replaces the list.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = countries_schema)]
    countries: Option<Vec<String>>,
    /// null: never free.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = nullable_price_schema)]
    free_over: Option<Option<PriceInput>>,
}

/// At least one country code (repeats count once).
fn countries_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(country_schema())
        .min_items(Some(1))
        .description(Some(
            "ISO 3166-1 alpha-2 codes it ships to: at least one (repeats count once).",
        ))
        .build()
}

/// The same rule as a product name, at most 100 characters.
fn method_name_schema() -> utoipa::openapi::Object {
    let mut schema = product_name_schema();
    schema.max_length = Some(METHOD_NAME_MAX);
    schema.examples = vec!["DHL Paket".into()];
    schema
}

const METHOD_NAME_MAX: usize = 100;

fn parse_name(raw: &str) -> Result<String, String> {
    if raw.chars().count() > METHOD_NAME_MAX {
        return Err(format!("must be at most {METHOD_NAME_MAX} characters long"));
    }
    ProductName::parse(raw).map(ProductName::into_inner)
}

/// The codes, each checked, repeats dropped, in the order given.
fn parse_countries(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.is_empty() {
        return Err("must name at least one country".into());
    }
    if raw.len() > MAX_COUNTRIES {
        return Err(format!("must name at most {MAX_COUNTRIES} countries"));
    }
    let mut codes: Vec<String> = Vec::with_capacity(raw.len());
    for (index, code) in raw.iter().enumerate() {
        let country = Country::parse(code).map_err(|message| format!("[{index}] {message}"))?;
        if !codes.iter().any(|seen| seen == country.as_str()) {
            codes.push(country.as_str().to_owned());
        }
    }
    Ok(codes)
}

fn price_of(raw: &PriceInput) -> Result<BigDecimal, String> {
    raw.parse().map(Price::into_decimal)
}

/// List shipping methods.
///
/// Every method, or with `country` those that ship there, by id. Public: a front end
/// offers them at checkout.
#[utoipa::path(get, path = "/api/v1/shipping-methods", operation_id = "list_shipping_methods", tag = "shipping", params(ListQuery),
    responses((status = 200, description = "The methods", body = ShippingMethodList), responses::BadRequest, responses::Unavailable))]
async fn list(
    pool: web::Data<DbPool>,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let country = match query.into_inner().country {
        Some(raw) => Some(
            Country::parse(&raw)
                .map_err(|message| ApiError::BadQuery(vec![FieldError::new("country", message)]))?,
        ),
        None => None,
    };
    let rows = with_conn(&pool, move |conn| {
        Ok(shipping_methods::list(
            conn,
            country.as_ref().map(Country::as_str),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ShippingMethodList {
        items: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Get a shipping method.
///
/// One method, by id (public). A deleted or unknown one is 404.
#[utoipa::path(get, path = "/api/v1/shipping-methods/{id}", operation_id = "get_shipping_method", tag = "shipping",
    params(("id" = i32, Path, description = "Shipping method id")),
    responses((status = 200, description = "The method", body = ShippingMethodResponse), (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn show(pool: web::Data<DbPool>, id: web::Path<i32>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let method = with_conn(&pool, move |conn| Ok(shipping_methods::find(conn, id)?)).await?;
    Ok(HttpResponse::Ok().json(ShippingMethodResponse::from(method)))
}

/// Create a shipping method.
///
/// Admins only. Once the shop has a shipping method, checkout needs an address and a
/// method. Answers 201 with the method and its `Location`.
#[utoipa::path(post, path = "/api/v1/shipping-methods", operation_id = "create_shipping_method", tag = "shipping", security(("bearer" = [])), request_body = CreateShippingMethodRequest,
    responses((status = 201, description = "Created; Location: /api/v1/shipping-methods/{id}", body = ShippingMethodResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn create(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateShippingMethodRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let name = validator.check("name", parse_name(&body.name));
    let price = validator.check("price", price_of(&body.price));
    let countries = validator.check("countries", parse_countries(&body.countries));
    let free_over = validator.check(
        "free_over",
        body.free_over.as_ref().map(price_of).transpose(),
    );
    let (Some(name), Some(price), Some(countries), Some(free_over)) =
        (name, price, countries, free_over)
    else {
        return Err(validator.into_error());
    };
    let method = with_conn(&pool, move |conn| {
        Ok(shipping_methods::create(
            conn,
            &NewShippingMethod {
                name: &name,
                price: &price,
                countries: countries.iter().map(String::as_str).collect(),
                free_over: free_over.as_ref(),
            },
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/shipping-methods/{}", method.id),
        ))
        .json(ShippingMethodResponse::from(method)))
}

/// Change a shipping method.
///
/// Admins only. Changes the fields sent (`countries` replaces the list; `free_over: null`
/// makes it never free). Orders placed with it keep the name and price they were placed
/// with.
#[utoipa::path(patch, path = "/api/v1/shipping-methods/{id}", operation_id = "update_shipping_method", tag = "shipping", security(("bearer" = [])), request_body = UpdateShippingMethodRequest,
    params(("id" = i32, Path, description = "Shipping method id")),
    responses((status = 200, description = "Changed", body = ShippingMethodResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    body: Result<ApiJson<UpdateShippingMethodRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let changes = ShippingMethodChanges {
        name: body
            .name
            .and_then(|raw| validator.check("name", parse_name(&raw))),
        price: body
            .price
            .and_then(|raw| validator.check("price", price_of(&raw))),
        countries: body
            .countries
            .and_then(|raw| validator.check("countries", parse_countries(&raw))),
        free_over: match body.free_over {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => validator.check("free_over", price_of(&raw)).map(Some),
        },
    };
    validator.finish()?;
    let id = id.into_inner();
    let method = with_conn(&pool, move |conn| {
        Ok(shipping_methods::update(conn, id, &changes)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ShippingMethodResponse::from(method)))
}

/// Delete a shipping method.
///
/// Admins only. Orders placed with it keep its name and the price they paid (their
/// `shipping_method.id` becomes null). Deleting the last one lets checkout go without a
/// method again.
#[utoipa::path(delete, path = "/api/v1/shipping-methods/{id}", operation_id = "delete_shipping_method", tag = "shipping", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Shipping method id")),
    responses((status = 204, description = "Deleted"), responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn delete(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deleted = with_conn(&pool, move |conn| Ok(shipping_methods::delete(conn, id)?)).await?;
    if !deleted {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
