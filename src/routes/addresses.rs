//! A customer's address book: `GET|POST /users/me/addresses` and
//! `PATCH|DELETE /users/me/addresses/{id}`. Another user's address is 404.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{BearerToken, Credential};
use crate::db::DbPool;
use crate::domain::address::{
    parse_city, parse_line, parse_line2, parse_name, parse_phone, parse_postal_code, parse_region,
};
use crate::domain::{Country, RawAddress};
use crate::http::address::{parse_address, SavedAddressResponse};
use crate::http::extract::{nullable, present, ApiJson};
use crate::http::responses;
use crate::http::schemas::{
    city_schema, country_schema, line1_schema, line2_schema, phone_schema, postal_code_schema,
    recipient_name_schema, region_schema,
};
use crate::http::validate::Validator;
use crate::http::{ApiError, Problem};
use crate::models::AddressChanges;
use crate::repository::addresses;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/me/addresses")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/users/me/addresses/{id}")
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// The address book, oldest first (at most 50, so not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressList {
    items: Vec<SavedAddressResponse>,
}

/// A new address. `name`, `line1`, `city` and `country` are required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAddressRequest {
    #[schema(schema_with = recipient_name_schema, required = true)]
    name: Option<String>,
    #[schema(schema_with = line1_schema, required = true)]
    line1: Option<String>,
    #[schema(schema_with = line2_schema)]
    line2: Option<String>,
    #[schema(schema_with = city_schema, required = true)]
    city: Option<String>,
    #[schema(schema_with = postal_code_schema)]
    postal_code: Option<String>,
    #[schema(schema_with = region_schema)]
    region: Option<String>,
    #[schema(schema_with = country_schema, required = true)]
    country: Option<String>,
    #[schema(schema_with = phone_schema)]
    phone: Option<String>,
    /// Make it the default (the first address saved is the default anyway).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    is_default: Option<bool>,
}

/// A partial update: fields left out are unchanged; `line2`, `postal_code`, `region` and
/// `phone` may be null to clear them. `is_default: true` makes it the default (another
/// default stops being one); `false` changes nothing: make another address the default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAddressRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = recipient_name_schema)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = line1_schema)]
    line1: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = line2_schema)]
    line2: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = city_schema)]
    city: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = postal_code_schema)]
    postal_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = region_schema)]
    region: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = country_schema)]
    country: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = phone_schema)]
    phone: Option<Option<String>>,
    /// `true`: make it the default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    is_default: Option<bool>,
}

/// List your addresses.
///
/// Your saved addresses, oldest first; at most one is `is_default`.
#[utoipa::path(get, path = "/api/v1/users/me/addresses", operation_id = "list_addresses", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The address book", body = AddressList), responses::Unauthorized, responses::Unavailable))]
async fn list(pool: web::Data<DbPool>, token: BearerToken) -> Result<HttpResponse, ApiError> {
    let rows = token
        .with_user(&pool, |conn, user_id| Ok(addresses::list(conn, user_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(AddressList {
        items: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Save an address.
///
/// Adds an address to your book (at most 50) and answers 201 with it. The first address
/// saved is the default; `is_default: true` makes a later one the default instead. 422
/// names each invalid field (the country must be an ISO 3166-1 alpha-2 code of the list).
#[utoipa::path(post, path = "/api/v1/users/me/addresses", operation_id = "create_address", tag = "accounts", security(("bearer" = [])), request_body = CreateAddressRequest,
    responses((status = 201, description = "Saved; Location: /api/v1/users/me/addresses/{id}", body = SavedAddressResponse),
        responses::BadRequest, responses::Unauthorized, responses::TooLarge, (status = 422, description = "Invalid fields, or the book is full (50)", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn create(
    pool: web::Data<DbPool>,
    token: BearerToken,
    body: Result<ApiJson<CreateAddressRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let input = body.and_then(|ApiJson(body)| {
        let raw = RawAddress {
            name: body.name.as_deref(),
            line1: body.line1.as_deref(),
            line2: body.line2.as_deref(),
            city: body.city.as_deref(),
            postal_code: body.postal_code.as_deref(),
            region: body.region.as_deref(),
            country: body.country.as_deref(),
            phone: body.phone.as_deref(),
        };
        let address = parse_address(raw, "").map_err(ApiError::Validation)?;
        Ok((address, body.is_default.unwrap_or(false)))
    });
    let (address, is_default) = token.report_after_authentication(&pool, input).await?;
    let saved = token
        .with_user(&pool, move |conn, user_id| {
            Ok(addresses::create(conn, user_id, &address, is_default)?)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/users/me/addresses/{}", saved.id),
        ))
        .json(SavedAddressResponse::from(saved)))
}

/// Change an address.
///
/// Changes the fields sent; orders placed with the address keep their own copy. 422
/// names each invalid field; another user's address is 404.
#[utoipa::path(patch, path = "/api/v1/users/me/addresses/{id}", operation_id = "update_address", tag = "accounts", security(("bearer" = [])), request_body = UpdateAddressRequest,
    params(("id" = i32, Path, description = "Address id")),
    responses((status = 200, description = "Changed", body = SavedAddressResponse),
        responses::BadRequest, responses::Unauthorized, (status = 404, description = "No such address of yours", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    pool: web::Data<DbPool>,
    token: BearerToken,
    id: web::Path<i32>,
    body: Result<ApiJson<UpdateAddressRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let input = body.and_then(|ApiJson(body)| changes_of(body));
    let (changes, make_default) = token.report_after_authentication(&pool, input).await?;
    let id = id.into_inner();
    let saved = token
        .with_user(&pool, move |conn, user_id| {
            Ok(addresses::update(
                conn,
                user_id,
                id,
                &changes,
                make_default,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SavedAddressResponse::from(saved)))
}

/// The changes a PATCH body asks for, each field checked on its own.
fn changes_of(body: UpdateAddressRequest) -> Result<(AddressChanges, bool), ApiError> {
    let mut validator = Validator::default();
    let required = |validator: &mut Validator,
                    field,
                    raw: Option<String>,
                    parse: fn(&str) -> Result<String, String>| {
        raw.and_then(|raw| validator.check(field, parse(&raw)))
    };
    let optional = |validator: &mut Validator,
                    field,
                    raw: Option<Option<String>>,
                    parse: fn(&str) -> Result<Option<String>, String>| {
        match raw {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => validator.check(field, parse(&raw)),
        }
    };
    let changes = AddressChanges {
        name: required(&mut validator, "name", body.name, parse_name),
        line1: required(&mut validator, "line1", body.line1, parse_line),
        line2: optional(&mut validator, "line2", body.line2, parse_line2),
        city: required(&mut validator, "city", body.city, parse_city),
        postal_code: optional(
            &mut validator,
            "postal_code",
            body.postal_code,
            parse_postal_code,
        ),
        region: optional(&mut validator, "region", body.region, parse_region),
        country: body.country.and_then(|raw| {
            validator
                .check("country", Country::parse(&raw))
                .map(|country| country.as_str().to_owned())
        }),
        phone: optional(&mut validator, "phone", body.phone, parse_phone),
    };
    validator.finish()?;
    Ok((changes, body.is_default == Some(true)))
}

/// Delete an address.
///
/// Removes it from your book; orders placed with it keep their copy. Deleting the default
/// leaves you without one. Another user's address is 404.
#[utoipa::path(delete, path = "/api/v1/users/me/addresses/{id}", operation_id = "delete_address", tag = "accounts", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Address id")),
    responses((status = 204, description = "Deleted"), responses::Unauthorized, (status = 404, description = "No such address of yours", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn delete(
    pool: web::Data<DbPool>,
    token: BearerToken,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    token
        .with_user(&pool, move |conn, user_id| {
            Ok(addresses::delete(conn, user_id, id)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
