//! Order history: `GET /orders` (newest first, keyset paginated) and `GET /orders/{id}`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::BearerToken;
use crate::db::DbPool;
use crate::domain::PageSize;
use crate::http::cursor::{open, rejected, seal, timestamp};
use crate::http::extract::ApiQuery;
use crate::http::paging::split_page;
use crate::http::responses;
use crate::http::CartResponse;
use crate::http::{ApiError, FieldError, Problem};
use crate::repository::orders::{self, OrderPosition};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orders").route(web::get().to(list)))
        .service(web::resource("/orders/{id}").route(web::get().to(show)));
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
    items: Vec<CartResponse>,
    /// Pass back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// List orders.
///
/// The user's checked-out carts, newest first, keyset paginated (`next_cursor` back as
/// `cursor` until null).
#[utoipa::path(get, path = "/api/v1/orders", operation_id = "list_orders", tag = "orders", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of orders, newest first", body = OrderPage), responses::BadRequest, responses::Unauthorized, responses::Invalid, responses::Unavailable))]
async fn list(
    pool: web::Data<DbPool>,
    token: BearerToken,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery { limit, cursor } = query.into_inner();
    let size = PageSize::parse(limit)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("limit", message)]))?;
    let after = match cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(decode_cursor(&raw).ok_or_else(rejected)?),
        None => None,
    };
    let rows = token
        .with_user(&pool, move |conn, user_id| {
            Ok(orders::list_orders(
                conn,
                user_id,
                after,
                size.with_lookahead(),
            )?)
        })
        .await?;
    let (page, next_cursor) = split_page(rows, size, |(order, _)| {
        order.checked_out_at.map(|at| encode_cursor(at, order.id))
    });
    Ok(HttpResponse::Ok().json(OrderPage {
        items: page.into_iter().map(CartResponse::from).collect(),
        next_cursor,
    }))
}

/// Get an order.
///
/// One of the user's orders, with the unit prices frozen at checkout. Another user's
/// order is 404.
#[utoipa::path(get, path = "/api/v1/orders/{id}", operation_id = "get_order", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = CartResponse), responses::Unauthorized, (status = 404, description = "No such order of yours", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn show(
    pool: web::Data<DbPool>,
    token: BearerToken,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let order_id = id.into_inner();
    let order = token
        .with_user(&pool, move |conn, user_id| {
            Ok(orders::find_order(conn, user_id, order_id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(CartResponse::from(order)))
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
