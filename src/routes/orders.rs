//! Orders: a customer's history (`GET /orders`, `GET /orders/{id}`), cancelling
//! (`POST /orders/{id}/cancel`) and shipping (`POST /orders/{id}/fulfilments`, staff).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AdminUser, AuthUser, BearerToken};
use crate::db::DbPool;
use crate::domain::{CancelReason, Carrier, PageSize, TrackingNumber};
use crate::http::cursor::{open, rejected, seal, timestamp};
use crate::http::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::http::paging::split_page;
use crate::http::responses;
use crate::http::schemas::{cancel_reason_schema, carrier_schema, tracking_number_schema};
use crate::http::validate::all_valid;
use crate::http::{with_conn, ApiError, FieldError, OrderResponse};
use crate::models::RefundStatus;
use crate::payments::Payments;
use crate::repository::order_lifecycle::{self, Caller, Shipment};
use crate::repository::orders::{self, OrderDetails, OrderFilter, OrderPosition};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orders").route(web::get().to(list)))
        .service(web::resource("/orders/{id}").route(web::get().to(show)))
        .service(web::resource("/orders/{id}/cancel").route(web::post().to(cancel)))
        .service(web::resource("/orders/{id}/fulfilments").route(web::post().to(fulfil)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, as it came (empty: none). A cursor this service
    /// did not issue, or one altered, is a 400.
    #[param(pattern = "^([A-Za-z0-9_-]{24})?$")]
    cursor: Option<String>,
}

/// A page of orders; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    items: Vec<OrderResponse>,
    /// Pass back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// The page size and the position after which the page starts.
pub(super) fn page_of(
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<(PageSize, Option<OrderPosition>), ApiError> {
    let size = PageSize::parse(limit)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("limit", message)]))?;
    let after = match cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(decode_cursor(&raw).ok_or_else(rejected)?),
        None => None,
    };
    Ok((size, after))
}

/// The page's JSON from the rows fetched with one lookahead row.
pub(super) fn page_response(rows: Vec<OrderDetails>, size: PageSize) -> OrderPage {
    let (page, next_cursor) = split_page(rows, size, |details| {
        details
            .cart
            .checked_out_at
            .map(|at| encode_cursor(at, details.order.id))
    });
    OrderPage {
        items: page.into_iter().map(OrderResponse::from).collect(),
        next_cursor,
    }
}

/// List orders.
///
/// The user's orders, newest first, keyset paginated (`next_cursor` back as `cursor`
/// until null). Cancelled and completed orders are listed too.
#[utoipa::path(get, path = "/api/v1/orders", operation_id = "list_orders", tag = "orders", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of orders, newest first", body = OrderPage), responses::BadRequest, responses::Unauthorized, responses::Invalid, responses::Unavailable))]
async fn list(
    pool: web::Data<DbPool>,
    token: BearerToken,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery { limit, cursor } = query.into_inner();
    let (size, after) = page_of(limit, cursor)?;
    let rows = token
        .with_user(&pool, move |conn, user_id| {
            let filter = OrderFilter {
                user_id: Some(user_id),
                ..OrderFilter::default()
            };
            Ok(orders::list_orders(
                conn,
                filter,
                after,
                size.with_lookahead(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page_response(rows, size)))
}

/// Get an order.
///
/// One of the user's orders, with the unit prices frozen at checkout and where it is in
/// its life. Another user's order is 404.
#[utoipa::path(get, path = "/api/v1/orders/{id}", operation_id = "get_order", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = OrderResponse), responses::Unauthorized, responses::NoSuchOrder, responses::Unavailable))]
async fn show(
    pool: web::Data<DbPool>,
    token: BearerToken,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let order_id = id.into_inner();
    let order = token
        .with_user(&pool, move |conn, user_id| {
            Ok(orders::find_order(conn, Some(user_id), order_id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(OrderResponse::from(order)))
}

/// The body of a cancel; it may be left out altogether.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why (1-500 characters); kept as `cancel_reason`.
    #[schema(schema_with = cancel_reason_schema)]
    reason: Option<String>,
}

/// Cancel an order.
///
/// The owner may cancel while the order is unpaid and unshipped; an admin may cancel any
/// order before it ships. One transaction: the stock of every line goes back (a
/// `release` stock movement each), `status: cancelled`, and an unpaid order's
/// `payment_status` becomes `voided`; whatever was captured is refunded through the
/// provider (`payment_status: refunded`). 409 `invalid_state` once cancelled, shipped, or
/// (for the owner) paid. Another customer's order is 404. The body may be left out.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", operation_id = "cancel_order", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id")), request_body(content = CancelRequest, description = "`{reason}`, optional; the body may also be left out altogether"),
    responses((status = 200, description = "Cancelled, stock released", body = OrderResponse),
        responses::BadRequest, responses::Unauthorized, responses::NoSuchOrder, responses::InvalidState, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn cancel(
    user: AuthUser,
    pool: web::Data<DbPool>,
    payments: web::Data<Payments>,
    id: web::Path<i32>,
    // A Result, so the 401 comes before any complaint about the body.
    body: Result<OptionalJson<CancelRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let reason =
        match body?.0.and_then(|body| body.reason) {
            Some(raw) => Some(CancelReason::parse(&raw).map_err(|message| {
                ApiError::Validation(vec![FieldError::new("reason", message)])
            })?),
            None => None,
        };
    let order_id = id.into_inner();
    let caller = Caller {
        user_id: user.user.id,
        is_admin: user.user.is_admin,
    };
    let mut order = with_conn(&pool, move |conn| {
        Ok(order_lifecycle::cancel(
            conn,
            order_id,
            caller,
            reason.as_ref().map(CancelReason::as_str),
        )?)
    })
    .await?;
    // What was captured goes back now that the cancel is committed; a refund the provider
    // cannot take yet stays pending and is sent by the reconciliation job.
    if order
        .refunds
        .iter()
        .any(|refund| refund.status == RefundStatus::Pending)
    {
        payments.send_refunds_of(&pool, order_id).await;
        order = with_conn(&pool, move |conn| {
            Ok::<_, ApiError>(orders::find_order(conn, None, order_id)?)
        })
        .await?;
    }
    Ok(HttpResponse::Ok().json(OrderResponse::from(order)))
}

/// A shipment to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfilmentRequest {
    /// Who carries it (1-100 characters).
    #[schema(schema_with = carrier_schema)]
    carrier: String,
    /// The carrier's tracking number (1-100 characters, no control characters).
    #[schema(schema_with = tracking_number_schema)]
    tracking_number: String,
}

/// Ship an order.
///
/// Admins only. Records the shipment of a paid order: `fulfilment_status: fulfilled`,
/// `status: completed`. 409 `invalid_state` for an order that is unpaid, cancelled or
/// already shipped.
#[utoipa::path(post, path = "/api/v1/orders/{id}/fulfilments", operation_id = "fulfil_order", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id")), request_body = FulfilmentRequest,
    responses((status = 201, description = "Shipped; the order with its fulfilment. Location: /api/v1/orders/{id}", body = OrderResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::NoSuchOrder, responses::InvalidState, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn fulfil(
    admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<FulfilmentRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let (carrier, tracking_number) = all_valid!(
        carrier: "carrier" => Carrier::parse(&body.carrier),
        tracking_number: "tracking_number" => TrackingNumber::parse(&body.tracking_number),
    )?;
    let order_id = id.into_inner();
    let admin_id = admin.0.id;
    let order = with_conn(&pool, move |conn| {
        let shipment = Shipment {
            carrier: carrier.as_str(),
            tracking_number: tracking_number.as_str(),
        };
        Ok(order_lifecycle::fulfil(conn, order_id, admin_id, shipment)?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/orders/{order_id}")))
        .json(OrderResponse::from(order)))
}

/// Opaque to clients: the checkout time in microseconds (8 bytes) and the id (4 bytes),
/// big-endian, sealed as the catalogue's cursors are: 24 characters.
fn encode_cursor(checked_out_at: DateTime<Utc>, id: i32) -> String {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&checked_out_at.timestamp_micros().to_be_bytes());
    bytes[8..].copy_from_slice(&id.to_be_bytes());
    seal(CURSOR_KIND, &bytes)
}

fn decode_cursor(raw: &str) -> Option<OrderPosition> {
    let bytes: [u8; 12] = open(CURSOR_KIND, raw)?;
    let (at, id) = bytes.split_at(8);
    Some(OrderPosition {
        checked_out_at: timestamp(i64::from_be_bytes(at.try_into().ok()?)),
        id: i32::from_be_bytes(id.try_into().ok()?),
    })
}

const CURSOR_KIND: &str = "orders";
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T17:00:00.654321Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            decode_cursor(&encode_cursor(at, 42)),
            Some(OrderPosition {
                checked_out_at: at,
                id: 42
            })
        );
        let cursor = encode_cursor(at, 42);
        assert_eq!(cursor.len(), 24);
        let altered = format!(
            "{}{}",
            &cursor[..23],
            if cursor.ends_with('A') { 'B' } else { 'A' }
        );
        for bad in [
            "",
            "???",
            "bm9wZQ",
            &"_".repeat(24),
            &"A".repeat(16),
            &altered,
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
