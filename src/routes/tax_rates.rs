//! Tax rates per country: `GET /tax-rates` and `GET /tax-rates/{country}` (anyone: a
//! front end shows "incl. 19 % VAT"), and for staff `POST`, `PATCH` and `DELETE`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AdminUser;
use crate::db::DbPool;
use crate::domain::{format_rate, Country, TaxRate};
use crate::http::extract::{ApiJson, PriceInput};
use crate::http::responses;
use crate::http::schemas::{country_schema, tax_rate_out_schema, tax_rate_schema};
use crate::http::validate::all_valid;
use crate::http::{with_conn, ApiError, FieldError, Problem};
use crate::models::TaxRateRow;
use crate::repository::tax_rates;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tax-rates")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/tax-rates/{country}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// A country's tax rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRateResponse {
    /// ISO 3166-1 alpha-2.
    #[schema(example = "DE")]
    pub country: String,
    #[schema(schema_with = tax_rate_out_schema)]
    pub rate: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TaxRateRow> for TaxRateResponse {
    fn from(row: TaxRateRow) -> Self {
        Self {
            rate: format_rate(&row.rate),
            country: row.country,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Every rate, by country.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRateList {
    items: Vec<TaxRateResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaxRateRequest {
    #[schema(schema_with = country_schema)]
    country: String,
    #[schema(schema_with = tax_rate_schema)]
    rate: PriceInput,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaxRateRequest {
    #[schema(schema_with = tax_rate_schema)]
    rate: PriceInput,
}

fn rate_of(raw: &PriceInput) -> Result<TaxRate, String> {
    TaxRate::parse(&raw.decimal_text("must be a percentage as a decimal string, such as \"19\"")?)
}

/// A country in the path; one that is not a code of the list names no rate.
fn country_in_path(raw: &str) -> Result<Country, ApiError> {
    Country::parse(raw).map_err(|_| ApiError::NotFound)
}

/// List tax rates.
///
/// Every country's rate, by country. A country without one is taxed at 0.
#[utoipa::path(get, path = "/api/v1/tax-rates", operation_id = "list_tax_rates", tag = "shipping",
    responses((status = 200, description = "The rates", body = TaxRateList), responses::Unavailable))]
async fn list(pool: web::Data<DbPool>) -> Result<HttpResponse, ApiError> {
    let rows = with_conn(&pool, |conn| Ok(tax_rates::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(TaxRateList {
        items: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Get a country's tax rate.
///
/// The rate for one country (public); a country without one (taxed at 0) is 404.
#[utoipa::path(get, path = "/api/v1/tax-rates/{country}", operation_id = "get_tax_rate", tag = "shipping",
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2 code, in capitals")),
    responses((status = 200, description = "The rate", body = TaxRateResponse), (status = 404, description = "No rate for that country", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn show(
    pool: web::Data<DbPool>,
    country: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let country = country_in_path(&country)?;
    let row = with_conn(&pool, move |conn| {
        Ok(tax_rates::find(conn, country.as_str())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TaxRateResponse::from(row)))
}

/// Set a country's tax rate.
///
/// Admins only. `rate` is a percentage from 0 to 100 (`"19"`). A country that has a rate
/// already is 409 `already_exists` (change it with PATCH). Answers 201 and its `Location`.
#[utoipa::path(post, path = "/api/v1/tax-rates", operation_id = "create_tax_rate", tag = "shipping", security(("bearer" = [])), request_body = CreateTaxRateRequest,
    responses((status = 201, description = "Created; Location: /api/v1/tax-rates/{country}", body = TaxRateResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 409, description = "The country has a rate already (already_exists)", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn create(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateTaxRateRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let (country, rate) = all_valid!(
        country: "country" => Country::parse(&body.country),
        rate: "rate" => rate_of(&body.rate),
    )?;
    let row = with_conn(&pool, move |conn| {
        Ok(tax_rates::create(
            conn,
            country.as_str(),
            rate.as_decimal(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/tax-rates/{}", row.country),
        ))
        .json(TaxRateResponse::from(row)))
}

/// Change a country's tax rate.
///
/// Admins only. Orders already placed keep the rate they were placed with.
#[utoipa::path(patch, path = "/api/v1/tax-rates/{country}", operation_id = "update_tax_rate", tag = "shipping", security(("bearer" = [])), request_body = UpdateTaxRateRequest,
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2 code, in capitals")),
    responses((status = 200, description = "Changed", body = TaxRateResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 404, description = "No rate for that country", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    country: web::Path<String>,
    body: Result<ApiJson<UpdateTaxRateRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let country = country_in_path(&country)?;
    let rate = rate_of(&body.rate)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("rate", message)]))?;
    let row = with_conn(&pool, move |conn| {
        Ok(tax_rates::update(
            conn,
            country.as_str(),
            rate.as_decimal(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TaxRateResponse::from(row)))
}

/// Remove a country's tax rate.
///
/// Admins only. The country is then taxed at 0; orders already placed keep their rate.
#[utoipa::path(delete, path = "/api/v1/tax-rates/{country}", operation_id = "delete_tax_rate", tag = "shipping", security(("bearer" = [])),
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2 code, in capitals")),
    responses((status = 204, description = "Removed"), responses::Unauthorized, responses::Forbidden, (status = 404, description = "No rate for that country", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn delete(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    country: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let country = country_in_path(&country)?;
    let deleted = with_conn(&pool, move |conn| {
        Ok(tax_rates::delete(conn, country.as_str())?)
    })
    .await?;
    if !deleted {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
