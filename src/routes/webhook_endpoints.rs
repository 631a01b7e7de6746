//! Webhook endpoints (staff): where the service sends its events (DESIGN §11). Create,
//! read, change, delete, rotate the signing secret; an endpoint's deliveries, and a
//! delivery sent again.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminUser;
use crate::config::Config;
use crate::db::DbPool;
use crate::domain::{CancelReason, EventType, PageSize, WebhookSecret};
use crate::http::cursor::{open, rejected, seal};
use crate::http::extract::{nullable, present, ApiJson, ApiQuery};
use crate::http::paging::split_page;
use crate::http::responses;
use crate::http::schemas::{cancel_reason_schema, word_enum};
use crate::http::validate::Validator;
use crate::http::{with_conn, ApiError, FieldError};
use crate::models::{DeliveryStatus, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint};
use crate::outbound::webhooks::check_target;
use crate::repository::webhooks::{self, DeliveryRow, EndpointChanges};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhook-endpoints")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/webhook-endpoints/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/webhook-endpoints/{id}/rotate-secret").route(web::post().to(rotate)))
    .service(web::resource("/webhook-endpoints/{id}/deliveries").route(web::get().to(deliveries)))
    .service(web::resource("/webhook-deliveries/{id}/retry").route(web::post().to(retry)));
}

/// Longest endpoint URL (the column's width).
const MAX_URL_LEN: usize = 2000;

/// Where events go. The signing secret is shown only when made (create, rotate).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointResponse {
    pub id: i32,
    #[schema(example = "https://erp.example.com/hooks/storefront")]
    pub url: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The event types it receives; empty: all of them.
    #[schema(schema_with = event_types_schema)]
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the service disabled it (it answered 410 Gone); null otherwise.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// While a rotated-out secret still signs (alongside the new one): until when.
    #[schema(required = true)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its new signing secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointResponse,
    /// `whsec_` + base64: verify deliveries with it (Standard Webhooks). Not shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

impl From<WebhookEndpoint> for EndpointResponse {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            description: endpoint.description,
            events: endpoint.events.into_iter().flatten().collect(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            previous_secret_expires_at: endpoint
                .previous_secret_until
                .filter(|until| *until > Utc::now()),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

impl From<WebhookEndpoint> for EndpointWithSecret {
    fn from(endpoint: WebhookEndpoint) -> Self {
        let secret = endpoint.secret.clone();
        Self {
            endpoint: endpoint.into(),
            secret,
        }
    }
}

fn event_types_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(word_enum(&EventType::NAMES))
        .max_items(Some(EventType::NAMES.len()))
        .build()
}

/// Every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    items: Vec<EndpointResponse>,
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    /// http or https; it must resolve to a public address (unless
    /// WEBHOOK_ALLOW_PRIVATE_TARGETS is set).
    #[schema(
        max_length = 2000,
        example = "https://erp.example.com/hooks/storefront"
    )]
    url: String,
    /// The event types to send; left out or empty: all of them.
    #[serde(default)]
    #[schema(schema_with = event_types_schema)]
    events: Vec<String>,
    /// What it is for (1-500 characters).
    #[schema(schema_with = cancel_reason_schema)]
    description: Option<String>,
}

/// A change; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 2000)]
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = event_types_schema)]
    events: Option<Vec<String>>,
    /// null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = cancel_reason_schema, nullable)]
    description: Option<Option<String>>,
    /// Pause (false) or resume (true) deliveries of new events.
    #[serde(default, deserialize_with = "present")]
    enabled: Option<bool>,
}

fn parse_events(validator: &mut Validator, names: &[String]) -> Option<Vec<String>> {
    let parsed: Result<Vec<String>, String> = names
        .iter()
        .map(|name| EventType::parse(name).map(|event| event.as_str().to_owned()))
        .collect();
    validator.check("events", parsed).map(|mut events| {
        events.sort();
        events.dedup();
        events
    })
}

async fn parse_url(validator: &mut Validator, raw: &str, allow_private: bool) -> Option<String> {
    if raw.len() > MAX_URL_LEN {
        return validator.check(
            "url",
            Err(format!("must be at most {MAX_URL_LEN} characters")),
        );
    }
    let checked = check_target(raw, allow_private).await;
    validator.check("url", checked.map(|url| url.to_string()))
}

fn parse_description(validator: &mut Validator, raw: Option<&str>) -> Option<Option<String>> {
    match raw {
        None => Some(None),
        Some(text) => validator
            .check("description", CancelReason::parse(text))
            .map(|text| Some(text.as_str().to_owned())),
    }
}

/// Create a webhook endpoint.
///
/// Admins only. The answer carries the signing secret, shown this once: keep it to verify
/// deliveries (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`).
/// A URL that is not http(s), or that resolves to a loopback, private or link-local
/// address, is a 422 naming `url`.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", operation_id = "create_webhook_endpoint", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateEndpointRequest,
    responses((status = 201, description = "Created, with its secret. Location: /api/v1/webhook-endpoints/{id}", body = EndpointWithSecret),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn create(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateEndpointRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let url = parse_url(
        &mut validator,
        &body.url,
        config.webhooks.allow_private_targets,
    )
    .await;
    let events = parse_events(&mut validator, &body.events);
    let description = parse_description(&mut validator, body.description.as_deref());
    validator.finish()?;
    let (Some(url), Some(events), Some(description)) = (url, events, description) else {
        return Err(ApiError::Internal(
            "validation passed without values".into(),
        ));
    };
    let secret = WebhookSecret::random().to_text();
    let endpoint = with_conn(&pool, move |conn| {
        let new = NewWebhookEndpoint {
            url: &url,
            description: description.as_deref(),
            events: events.iter().map(String::as_str).collect(),
            secret: &secret,
        };
        Ok::<_, ApiError>(webhooks::create(conn, &new)?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/webhook-endpoints/{}", endpoint.id),
        ))
        .json(EndpointWithSecret::from(endpoint)))
}

/// List webhook endpoints.
///
/// Admins only. Every endpoint, oldest first, without secrets.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", operation_id = "list_webhook_endpoints", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, description = "Every endpoint", body = EndpointList), responses::Unauthorized, responses::Forbidden, responses::Unavailable))]
async fn list(_admin: AdminUser, pool: web::Data<DbPool>) -> Result<HttpResponse, ApiError> {
    let endpoints = with_conn(&pool, |conn| Ok::<_, ApiError>(webhooks::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(EndpointList {
        items: endpoints.into_iter().map(Into::into).collect(),
    }))
}

/// Get a webhook endpoint.
///
/// Admins only; without its secret.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", operation_id = "get_webhook_endpoint", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint", body = EndpointResponse), responses::Unauthorized, responses::Forbidden, responses::NoSuchEndpoint, responses::Unavailable))]
async fn show(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let endpoint = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(webhooks::find(conn, id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EndpointResponse::from(endpoint)))
}

/// Change a webhook endpoint.
///
/// Admins only. `enabled: false` pauses deliveries (pending ones wait), `true` resumes
/// them (and clears a `disabled_reason`); `events` replaces the filter; a new `url` is
/// checked as at creation.
#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", operation_id = "update_webhook_endpoint", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Endpoint id")), request_body = UpdateEndpointRequest,
    responses((status = 200, description = "The endpoint as changed", body = EndpointResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::NoSuchEndpoint, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
    id: web::Path<i32>,
    body: Result<ApiJson<UpdateEndpointRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let url = match body.url.as_deref() {
        Some(raw) => parse_url(&mut validator, raw, config.webhooks.allow_private_targets).await,
        None => None,
    };
    let events = body
        .events
        .as_deref()
        .and_then(|names| parse_events(&mut validator, names));
    let description = body
        .description
        .map(|raw| parse_description(&mut validator, raw.as_deref()))
        .and_then(|parsed| parsed);
    validator.finish()?;
    let changes = EndpointChanges {
        url,
        description,
        events,
        enabled: body.enabled,
        disabled_reason: body.enabled.filter(|enabled| *enabled).map(|_| None),
    };
    let id = id.into_inner();
    let endpoint = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(webhooks::update(conn, id, &changes)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EndpointResponse::from(endpoint)))
}

/// Delete a webhook endpoint.
///
/// Admins only; its deliveries go with it.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", operation_id = "delete_webhook_endpoint", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Endpoint id")),
    responses((status = 204, description = "Deleted"), responses::Unauthorized, responses::Forbidden, responses::NoSuchEndpoint, responses::Unavailable))]
async fn delete(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deleted = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(webhooks::delete(conn, id)?)
    })
    .await?;
    if !deleted {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate an endpoint's signing secret.
///
/// Admins only. A new secret, shown this once; for 24 hours deliveries are signed with
/// both (two `v1,` signatures), so the receiver can switch without missing one.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint with its new secret", body = EndpointWithSecret), responses::Unauthorized, responses::Forbidden, responses::NoSuchEndpoint, responses::Unavailable))]
async fn rotate(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let secret = WebhookSecret::random().to_text();
    let endpoint = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(webhooks::rotate_secret(conn, id, &secret)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EndpointWithSecret::from(endpoint)))
}

/// One event to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: i64,
    pub endpoint_id: i32,
    /// The event's id: the `webhook-id` of every attempt.
    pub event_id: String,
    #[schema(schema_with = event_type_schema)]
    pub event_type: String,
    /// `pending` (to be sent, again), `delivered` (a 2xx) or `failed`.
    #[schema(schema_with = delivery_status_schema)]
    pub status: &'static str,
    pub attempts: i32,
    /// While pending: when the next attempt is due.
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's last answer; null when it did not answer.
    #[schema(required = true)]
    pub last_status_code: Option<i32>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn event_type_schema() -> utoipa::openapi::Object {
    word_enum(&EventType::NAMES)
}

fn delivery_status_schema() -> utoipa::openapi::Object {
    word_enum(DeliveryStatus::ALL)
}

impl From<DeliveryRow> for DeliveryResponse {
    fn from((delivery, event_type): DeliveryRow) -> Self {
        let WebhookDelivery {
            id,
            endpoint_id,
            event_id,
            status,
            attempts,
            next_attempt_at,
            last_status_code,
            last_error,
            delivered_at,
            created_at,
            ..
        } = delivery;
        Self {
            id,
            endpoint_id,
            event_id,
            event_type,
            status: status.as_str(),
            attempts,
            next_attempt_at,
            last_status_code,
            last_error,
            delivered_at,
            created_at,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryResponse>,
    /// Pass back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, as it came (empty: none).
    #[param(pattern = "^([A-Za-z0-9_-]{19})?$")]
    cursor: Option<String>,
}

const CURSOR_KIND: &str = "deliveries";

/// An endpoint's deliveries.
///
/// Admins only. Newest first, keyset paginated: each with its attempts, the endpoint's
/// last status code or error, and when the next attempt is due.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Endpoint id"), DeliveriesQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryPage), responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::NoSuchEndpoint, responses::Invalid, responses::Unavailable))]
async fn deliveries(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    query: ApiQuery<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let DeliveriesQuery { limit, cursor } = query.into_inner();
    let size = PageSize::parse(limit)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("limit", message)]))?;
    let before = match cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(
            open::<8>(CURSOR_KIND, &raw)
                .map(i64::from_be_bytes)
                .ok_or_else(rejected)?,
        ),
        None => None,
    };
    let id = id.into_inner();
    let rows = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(webhooks::deliveries(
            conn,
            id,
            before,
            size.with_lookahead(),
        )?)
    })
    .await?;
    let (page, next_cursor) = split_page(rows, size, |(delivery, _)| {
        Some(seal(CURSOR_KIND, &delivery.id.to_be_bytes()))
    });
    Ok(HttpResponse::Ok().json(DeliveryPage {
        items: page.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Send a delivery again.
///
/// Admins only. A failed (or still pending) delivery is due again now; a delivered one
/// is left as it is. Its attempts go on counting.
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{id}/retry", operation_id = "retry_webhook_delivery", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, description = "The delivery, due now", body = DeliveryResponse), responses::Unauthorized, responses::Forbidden, responses::NoSuchDelivery, responses::Unavailable))]
async fn retry(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(webhooks::retry(conn, id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryResponse::from(row)))
}
