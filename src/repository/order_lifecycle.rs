//! What happens to an order after checkout: cancelled (by its owner, by staff, or by the
//! payment deadline) with its stock released, or fulfilled. Every change locks the order
//! row first (`FOR UPDATE`) and decides from the row as it stands, so of two racing
//! changes the second sees the first's outcome and is refused (`InvalidState`) instead
//! of applying twice. A release then locks the order's products in id order, as checkout
//! does, so the two cannot deadlock.

use diesel::dsl::now;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable};
use serde_json::json;

use super::orders::{find_order, lock_order, owner_of, OrderDetails};
use super::ShopError;
use super::{events, refunds};
use crate::domain::EventType;
use crate::models::{
    FulfilmentStatus, NewFulfilment, Order, OrderStatus, PaymentStatus, RefundSource,
};
use crate::schema::{cart_items, fulfilments, orders, products};

/// `cancel_reason` of an order the payment deadline cancelled.
pub const PAYMENT_EXPIRED: &str = "payment_expired";

/// Who asks for a change, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i32,
    pub is_admin: bool,
}

/// Cancels an order and gives its stock back, in one transaction. Its owner may cancel it
/// while it is unpaid and unshipped; staff may cancel any order before it ships. Someone
/// else's order is `NotFound` (to a customer; staff see every order).
pub fn cancel(
    conn: &mut PgConnection,
    order_id: i32,
    caller: Caller,
    reason: Option<&str>,
) -> Result<OrderDetails, ShopError> {
    conn.transaction(|conn| {
        let owner = owner_of(conn, order_id)?.ok_or(ShopError::NotFound)?;
        let is_owner = owner == caller.user_id;
        if !is_owner && !caller.is_admin {
            return Err(ShopError::NotFound);
        }
        let order = lock_order(conn, order_id)?;
        if let Some(refusal) = cancel_refusal(&order, caller.is_admin) {
            return Err(ShopError::InvalidState(refusal));
        }
        release_stock(conn, order_id, Some(caller.user_id))?;
        mark_cancelled(conn, &order, reason)?;
        // Whatever was captured goes back; sent once this commits (`refunds`).
        refunds::owe_remaining(conn, order_id, RefundSource::Cancel, reason)?;
        Ok(find_order(conn, None, order_id)?)
    })
}

/// Why `order` cannot be cancelled by this caller, if it cannot.
fn cancel_refusal(order: &Order, by_admin: bool) -> Option<&'static str> {
    match order.status {
        OrderStatus::Cancelled => return Some("The order is already cancelled."),
        OrderStatus::Completed => {
            return Some("The order has shipped; it can no longer be cancelled.")
        }
        OrderStatus::CheckedOut => {}
    }
    if order.fulfilment_status == FulfilmentStatus::Fulfilled {
        return Some("The order has shipped; it can no longer be cancelled.");
    }
    if !by_admin && order.payment_status != PaymentStatus::AwaitingPayment {
        return Some("The order is paid; ask the shop to cancel it.");
    }
    None
}

/// Records that `order` (locked) is cancelled. An order nobody paid will never be paid:
/// its payment is `voided` and its deadline gone. A paid one keeps its payment status
/// (refunds belong to payments).
fn mark_cancelled(conn: &mut PgConnection, order: &Order, reason: Option<&str>) -> QueryResult<()> {
    let payment_status = match order.payment_status {
        PaymentStatus::AwaitingPayment => PaymentStatus::Voided,
        other => other,
    };
    diesel::update(orders::table.find(order.id))
        .set((
            orders::status.eq(OrderStatus::Cancelled),
            orders::payment_status.eq(payment_status),
            orders::payment_due_at.eq(None::<chrono::DateTime<chrono::Utc>>),
            orders::cancelled_at.eq(now),
            orders::cancel_reason.eq(reason),
        ))
        .execute(conn)?;
    events::record(
        conn,
        EventType::OrderCancelled,
        json!({
            "order_id": order.id,
            "status": OrderStatus::Cancelled.as_str(),
            "payment_status": payment_status.as_str(),
            "cancel_reason": reason,
        }),
    )
    .map(drop)
}

/// Gives the order's stock back: each line's units return to its product and become one
/// `release` movement of the order by `by_user_id` (`None`: the service itself). The
/// products are locked in id order first, as checkout locks them.
fn release_stock(
    conn: &mut PgConnection,
    order_id: i32,
    by_user_id: Option<i32>,
) -> QueryResult<()> {
    products::table
        .filter(
            products::id.eq_any(
                cart_items::table
                    .filter(cart_items::cart_id.eq(order_id))
                    .select(cart_items::product_id),
            ),
        )
        .order(products::id)
        .select(products::id)
        .for_update()
        .load::<i32>(conn)?;
    diesel::sql_query(INCREMENT_AND_RECORD)
        .bind::<Integer, _>(order_id)
        .bind::<Nullable<Integer>, _>(by_user_id)
        .execute(conn)
        .map(drop)
}

/// Checkout's `DECREMENT_AND_RECORD` in reverse: each product's count grows by its line's
/// quantity, and each line becomes a `release` movement of the order (`$1`) by `$2`.
const INCREMENT_AND_RECORD: &str = "
    WITH moved AS (
        UPDATE products p SET inventory_count = p.inventory_count + ci.quantity
        FROM cart_items ci WHERE ci.cart_id = $1 AND ci.product_id = p.id
        RETURNING p.id, ci.quantity, p.inventory_count
    )
    INSERT INTO stock_movements (product_id, delta, resulting_count, reason, order_id, by_user_id)
    SELECT id, quantity, inventory_count, 'release', $1, $2 FROM moved";

/// One expiry round: cancels up to `batch` orders whose payment deadline has passed,
/// releasing their stock, each in its own transaction. Orders another instance (or a
/// cancel) holds are skipped (`SKIP LOCKED`): whoever holds one finishes it, and the row
/// it leaves no longer qualifies. Returns how many it cancelled.
pub fn expire_due_orders(conn: &mut PgConnection, batch: i64) -> QueryResult<usize> {
    let mut expired = 0;
    for _ in 0..batch {
        if !conn.transaction(expire_one_due_order)? {
            break;
        }
        expired += 1;
    }
    Ok(expired)
}

/// Claims the order whose deadline passed first (skipping those others hold), cancels it
/// and releases its stock; `false` when none is due.
fn expire_one_due_order(conn: &mut PgConnection) -> QueryResult<bool> {
    let Some(order) = orders::table
        .filter(orders::payment_due_at.le(now))
        .order(orders::payment_due_at)
        .select(Order::as_select())
        .limit(1)
        .for_update()
        .skip_locked()
        .first(conn)
        .optional()?
    else {
        return Ok(false);
    };
    release_stock(conn, order.id, None)?;
    mark_cancelled(conn, &order, Some(PAYMENT_EXPIRED))?;
    // A payment captured but held for review is given back with the order.
    refunds::owe_remaining(conn, order.id, RefundSource::Cancel, Some(PAYMENT_EXPIRED))?;
    Ok(true)
}

/// What staff record when an order ships.
#[derive(Debug, Clone, Copy)]
pub struct Shipment<'a> {
    pub carrier: &'a str,
    pub tracking_number: &'a str,
}

/// Records that a paid order shipped: one fulfilment, `fulfilment_status: fulfilled`,
/// `status: completed`. An order that is unpaid, cancelled or already shipped is refused.
pub fn fulfil(
    conn: &mut PgConnection,
    order_id: i32,
    admin_id: i32,
    shipment: Shipment<'_>,
) -> Result<OrderDetails, ShopError> {
    conn.transaction(|conn| {
        let order = lock_order(conn, order_id)?;
        if let Some(refusal) = fulfil_refusal(&order) {
            return Err(ShopError::InvalidState(refusal));
        }
        let fulfilment_id: i32 = diesel::insert_into(fulfilments::table)
            .values(NewFulfilment {
                order_id,
                carrier: shipment.carrier,
                tracking_number: shipment.tracking_number,
                by_user_id: admin_id,
            })
            .returning(fulfilments::id)
            .get_result(conn)?;
        events::record(
            conn,
            EventType::OrderFulfilled,
            json!({
                "order_id": order_id,
                "fulfilment_id": fulfilment_id,
                "status": OrderStatus::Completed.as_str(),
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
            }),
        )?;
        diesel::update(orders::table.find(order_id))
            .set((
                orders::fulfilment_status.eq(FulfilmentStatus::Fulfilled),
                orders::status.eq(OrderStatus::Completed),
            ))
            .execute(conn)?;
        Ok(find_order(conn, None, order_id)?)
    })
}

/// Why `order` cannot ship, if it cannot. A partial refund does not stop a shipment.
fn fulfil_refusal(order: &Order) -> Option<&'static str> {
    match order.status {
        OrderStatus::Cancelled => return Some("The order is cancelled."),
        OrderStatus::Completed => return Some("The order has already shipped."),
        OrderStatus::CheckedOut => {}
    }
    match order.payment_status {
        PaymentStatus::Paid | PaymentStatus::PartiallyRefunded => None,
        _ => Some("Only a paid order can ship."),
    }
}
