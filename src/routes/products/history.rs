//! `GET /products/{id}/history` (admins): a product's price changes and stock movements
//! as one stream, newest first, keyset paginated like the other listings.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminUser;
use crate::db::DbPool;
use crate::domain::{format_money, PageSize};
use crate::http::cursor::{open, rejected, seal, timestamp};
use crate::http::extract::ApiQuery;
use crate::http::paging::split_page;
use crate::http::responses;
use crate::http::with_conn;
use crate::http::{ApiError, FieldError, Problem};
use crate::models::StockReason;
use crate::repository::ledger::{self, HistoryEntry, HistoryKind, HistoryPosition};
use crate::repository::products;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page of this product's history, as it came (empty:
    /// none). A cursor this service did not issue, one altered, or one of another
    /// product's history is a 400.
    #[param(pattern = "^([A-Za-z0-9_-]{36})?$")]
    cursor: Option<String>,
}

/// One entry of a product's history: a price change or a stock movement, told apart by
/// `kind`. Each is a named schema of its own, so generated clients get `PriceChange |
/// StockMovement` rather than numbered anonymous types; each carries its `kind`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("price" = "#/components/schemas/PriceChange"),
    ("stock" = "#/components/schemas/StockMovement"),
)))]
pub enum HistoryItem {
    Price(PriceChange),
    Stock(StockMovement),
}

/// The price changed from `old_price` to `new_price`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceChange {
    #[schema(inline)]
    kind: PriceKind,
    /// When the change was made.
    at: DateTime<Utc>,
    /// The admin who made it; null when unknown (seeded history, a deleted account).
    #[schema(required = true)]
    by_user_id: Option<i32>,
    /// Decimal string, two places.
    #[schema(pattern = r"^[0-9]{1,10}\.[0-9]{2}$", example = "19.90")]
    old_price: String,
    /// Decimal string, two places.
    #[schema(pattern = r"^[0-9]{1,10}\.[0-9]{2}$", example = "17.50")]
    new_price: String,
}

/// The stock moved by `delta` units, to `resulting_count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockMovement {
    #[schema(inline)]
    kind: StockKind,
    /// When the stock moved.
    at: DateTime<Utc>,
    /// Who moved it: the admin, or the buyer for `checkout`; null when unknown (opening
    /// balances, seeded history, a deleted account).
    #[schema(required = true)]
    by_user_id: Option<i32>,
    /// Units added (positive) or taken (negative); for `created`, the opening count.
    delta: i32,
    /// `inventory_count` right after this movement.
    #[schema(minimum = 0)]
    resulting_count: i32,
    reason: MovementReason,
    /// The order that took the units (`checkout` only; null otherwise, or once the order
    /// was deleted with its buyer's account).
    #[schema(required = true)]
    order_id: Option<i32>,
}

/// `kind` of a price change: always `price`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    Price,
}

/// `kind` of a stock movement: always `stock`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockKind {
    Stock,
}

/// Why the stock moved: `created` (the product was added, or the ledger began: the
/// opening count), `adjustment` (an admin set `inventory_count`), `checkout` (an order
/// took units), `release` (a cancelled or expired order gave them back).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementReason {
    Created,
    Adjustment,
    Checkout,
    Release,
}

impl From<StockReason> for MovementReason {
    fn from(reason: StockReason) -> Self {
        match reason {
            StockReason::Created => Self::Created,
            StockReason::Adjustment => Self::Adjustment,
            StockReason::Checkout => Self::Checkout,
            StockReason::Release => Self::Release,
        }
    }
}

impl From<HistoryEntry> for HistoryItem {
    fn from(entry: HistoryEntry) -> Self {
        match entry {
            HistoryEntry::Price {
                at,
                by_user_id,
                old_price,
                new_price,
                ..
            } => Self::Price(PriceChange {
                kind: PriceKind::Price,
                at,
                by_user_id,
                old_price: format_money(&old_price),
                new_price: format_money(&new_price),
            }),
            HistoryEntry::Stock {
                at,
                by_user_id,
                delta,
                resulting_count,
                reason,
                order_id,
                ..
            } => Self::Stock(StockMovement {
                kind: StockKind::Stock,
                at,
                by_user_id,
                delta,
                resulting_count,
                reason: reason.into(),
                order_id,
            }),
        }
    }
}

/// A page of a product's history; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    items: Vec<HistoryItem>,
    /// Pass back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Get a product's price and stock history.
///
/// Admins only. Every price change (`kind: "price"`) and stock movement (`kind:
/// "stock"`: created, adjustment, checkout, release) of the product, archived or not, newest
/// first, keyset paginated (`next_cursor` back as `cursor` until null). Each was written
/// in the transaction that made the change, so a product's stock deltas sum to its
/// `inventory_count`.
#[utoipa::path(get, path = "/api/v1/products/{id}/history", operation_id = "get_product_history", tag = "catalogue", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product id"), HistoryQuery),
    responses((status = 200, description = "A page of the product's history, newest first", body = HistoryPage),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"), responses::Invalid, responses::Unavailable))]
pub async fn history(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the query.
    query: Result<ApiQuery<HistoryQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let HistoryQuery { limit, cursor } = query?.into_inner();
    let product_id = id.into_inner();
    let size = PageSize::parse(limit)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("limit", message)]))?;
    let after = match cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(decode_cursor(&raw, product_id).ok_or_else(rejected)?),
        None => None,
    };
    let entries = with_conn(&pool, move |conn| {
        if !products::exists(conn, product_id)? {
            return Err(ApiError::NotFound);
        }
        Ok(ledger::history(
            conn,
            product_id,
            after,
            size.with_lookahead(),
        )?)
    })
    .await?;
    let (entries, next_cursor) = split_page(entries, size, |last| {
        Some(encode_cursor(product_id, last.position()))
    });
    Ok(HttpResponse::Ok().json(HistoryPage {
        items: entries.into_iter().map(HistoryItem::from).collect(),
        next_cursor,
    }))
}

const CURSOR_KIND: &str = "product history";
/// Time in microseconds (8 bytes), id (8), kind (1), product id (4), big-endian: with the
/// check, 27 bytes, 36 characters.
const CURSOR_BYTES: usize = 21;

/// Opaque to clients: the position of the page's last entry and the product it belongs
/// to, sealed as the other listings' cursors are.
fn encode_cursor(product_id: i32, position: HistoryPosition) -> String {
    let mut bytes = [0u8; CURSOR_BYTES];
    bytes[..8].copy_from_slice(&position.at.timestamp_micros().to_be_bytes());
    bytes[8..16].copy_from_slice(&position.id.to_be_bytes());
    bytes[16] = match position.kind {
        HistoryKind::Price => 0,
        HistoryKind::Stock => 1,
    };
    bytes[17..].copy_from_slice(&product_id.to_be_bytes());
    seal(CURSOR_KIND, &bytes)
}

/// The position a cursor names in `product_id`'s history; `None` for anything else.
fn decode_cursor(raw: &str, product_id: i32) -> Option<HistoryPosition> {
    let bytes: [u8; CURSOR_BYTES] = open(CURSOR_KIND, raw)?;
    let of_product = i32::from_be_bytes(bytes[17..].try_into().ok()?);
    if of_product != product_id {
        return None;
    }
    Some(HistoryPosition {
        at: timestamp(i64::from_be_bytes(bytes[..8].try_into().ok()?)),
        id: i64::from_be_bytes(bytes[8..16].try_into().ok()?),
        kind: match bytes[16] {
            0 => HistoryKind::Price,
            1 => HistoryKind::Stock,
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_for_their_product_only() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T03:00:00.654321Z")
            .unwrap()
            .with_timezone(&Utc);
        for kind in [HistoryKind::Price, HistoryKind::Stock] {
            let position = HistoryPosition { at, kind, id: 42 };
            let cursor = encode_cursor(7, position);
            assert_eq!(cursor.len(), 36);
            assert_eq!(decode_cursor(&cursor, 7), Some(position));
            assert_eq!(decode_cursor(&cursor, 8), None, "another product's");
        }
        let cursor = encode_cursor(
            7,
            HistoryPosition {
                at,
                kind: HistoryKind::Stock,
                id: 42,
            },
        );
        let altered = format!(
            "{}{}",
            &cursor[..35],
            if cursor.ends_with('A') { 'B' } else { 'A' }
        );
        for bad in ["", "???", &"_".repeat(36), &"A".repeat(24), &altered] {
            assert_eq!(decode_cursor(bad, 7), None, "{bad}");
        }
    }
}
