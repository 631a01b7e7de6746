//! Checkout and order history. An order is a checked-out cart whose lines carry the unit
//! prices frozen at checkout; its stock movements (`stock_movements`, reason `checkout`)
//! are written by the statement that takes the stock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Integer;

use super::carts::{
    items_with_products, lock_open_cart_for_checkout, open_cart_ids_of, CartWithLines, Precondition,
};
use super::{ShopError, Shortage};
use crate::models::{Cart, CartItem, CartStatus, Product};
use crate::schema::{cart_items, carts, products};

/// What a checkout did.
#[derive(Debug)]
pub enum CheckoutOutcome {
    /// A new order.
    Placed(CartWithLines),
    /// The order an earlier request with the same Idempotency-Key placed.
    Replayed(CartWithLines),
}

/// Attempts at a checkout transaction that PostgreSQL aborted to break a deadlock or a
/// serialization conflict. Locking products in id order makes these unexpected; retrying
/// keeps one from ever reaching a client.
const CHECKOUT_ATTEMPTS: usize = 3;

/// Turns the user's open cart into an order, in one transaction: lock the cart, lock its
/// products in id order, check every line's stock, decrement inventory (writing each
/// line's stock movement), freeze prices, mark the cart checked out. On any shortage, or
/// when `precondition` (the client's `If-Match`) does not hold for the locked cart,
/// nothing changes.
pub fn checkout(
    conn: &mut PgConnection,
    user_id: i32,
    idempotency_key: Option<&str>,
    precondition: Precondition<'_>,
) -> Result<CheckoutOutcome, ShopError> {
    let mut attempt = 1;
    loop {
        match conn.transaction(|conn| checkout_once(conn, user_id, idempotency_key, precondition)) {
            Err(ShopError::Database(err)) if attempt < CHECKOUT_ATTEMPTS && is_retryable(&err) => {
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

fn is_retryable(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => info.message().contains("deadlock detected"),
        _ => false,
    }
}

fn checkout_once(
    conn: &mut PgConnection,
    user_id: i32,
    idempotency_key: Option<&str>,
    precondition: Precondition<'_>,
) -> Result<CheckoutOutcome, ShopError> {
    // A retry of a placed order is answered as before, whatever its If-Match: the first
    // request's condition held when the order was placed.
    if let Some(outcome) = replay_by_key(conn, user_id, idempotency_key)? {
        return Ok(outcome);
    }
    // Serialises checkouts (and cart changes) of this user; a concurrent retry with the
    // same key waits here and then finds the order below.
    let cart = match lock_open_cart_for_checkout(conn, user_id)? {
        Some(cart) => cart,
        None if precondition.is_some() => {
            // No open cart for the tag to name: unless a concurrent request with this
            // key has just placed the order, the client's view is stale.
            return replay_by_key(conn, user_id, idempotency_key)?
                .ok_or(ShopError::PreconditionFailed);
        }
        None => return nothing_to_check_out(conn, user_id, idempotency_key),
    };
    let items: Vec<CartItem> = cart_items::table
        .filter(cart_items::cart_id.eq(cart.id))
        .order(cart_items::product_id)
        .select(CartItem::as_select())
        .load(conn)?;
    if items.is_empty() {
        check_locked_cart(conn, &cart, precondition)?;
        return nothing_to_check_out(conn, user_id, idempotency_key);
    }

    // Row locks in ascending id order: two checkouts sharing products queue on the first
    // shared row instead of deadlocking.
    let product_ids: Vec<i32> = items.iter().map(|item| item.product_id).collect();
    let locked: HashMap<i32, Product> = products::table
        .filter(products::id.eq_any(&product_ids))
        .order(products::id)
        .select(Product::as_select())
        .for_update()
        .load(conn)?
        .into_iter()
        .map(|product| (product.id, product))
        .collect();
    let shortages: Vec<Shortage> = items
        .iter()
        .filter_map(|item| {
            let available = locked
                .get(&item.product_id)
                .map_or(0, Product::available_stock);
            Shortage::of(item.product_id, item.quantity, available)
        })
        .collect();
    // With the cart and its products locked, the cart tested is the cart ordered: its
    // lines, names and prices cannot change before the commit.
    check_locked_cart(conn, &cart, precondition)?;
    if !shortages.is_empty() {
        return Err(ShopError::InsufficientStock(shortages));
    }

    diesel::sql_query(DECREMENT_AND_RECORD)
        .bind::<Integer, _>(cart.id)
        .bind::<Integer, _>(user_id)
        .execute(conn)?;
    diesel::sql_query(
        "UPDATE cart_items ci SET unit_price = p.price
         FROM products p WHERE ci.cart_id = $1 AND p.id = ci.product_id",
    )
    .bind::<Integer, _>(cart.id)
    .execute(conn)?;
    let order: Cart = diesel::update(carts::table.find(cart.id))
        .set((
            carts::status.eq(CartStatus::CheckedOut),
            carts::checked_out_at.eq(now),
            carts::idempotency_key.eq(idempotency_key),
        ))
        .returning(Cart::as_returning())
        .get_result(conn)?;
    let lines = items_with_products(conn, order.id)?;
    Ok(CheckoutOutcome::Placed((order, lines)))
}

/// Tests the client's condition against the locked open cart as it stands.
fn check_locked_cart(
    conn: &mut PgConnection,
    cart: &Cart,
    precondition: Precondition<'_>,
) -> Result<(), ShopError> {
    let Some(holds) = precondition else {
        return Ok(());
    };
    let lines = items_with_products(conn, cart.id)?;
    if holds(&(cart.clone(), lines)) {
        Ok(())
    } else {
        Err(ShopError::PreconditionFailed)
    }
}

/// The stock leaves and the ledger records it, in one statement for all lines: each
/// product's count drops by its line's quantity, and each line becomes a `checkout`
/// movement of the order (`$1`, the cart id) by the buyer (`$2`) with the count after it.
const DECREMENT_AND_RECORD: &str = "
    WITH moved AS (
        UPDATE products p SET inventory_count = p.inventory_count - ci.quantity
        FROM cart_items ci WHERE ci.cart_id = $1 AND ci.product_id = p.id
        RETURNING p.id, ci.quantity, p.inventory_count
    )
    INSERT INTO stock_movements (product_id, delta, resulting_count, reason, order_id, by_user_id)
    SELECT id, -quantity, inventory_count, 'checkout', $1, $2 FROM moved";

/// No open cart, or an empty one: a replay if a concurrent request with this key has just
/// placed the order, otherwise an empty cart.
fn nothing_to_check_out(
    conn: &mut PgConnection,
    user_id: i32,
    idempotency_key: Option<&str>,
) -> Result<CheckoutOutcome, ShopError> {
    replay_by_key(conn, user_id, idempotency_key)?.ok_or(ShopError::EmptyCart)
}

/// The earlier order placed with this key, replayed; `None` without a key or an order.
fn replay_by_key(
    conn: &mut PgConnection,
    user_id: i32,
    idempotency_key: Option<&str>,
) -> Result<Option<CheckoutOutcome>, ShopError> {
    let Some(key) = idempotency_key else {
        return Ok(None);
    };
    match order_by_key(conn, user_id, key)? {
        Some(order) => replay(conn, user_id, order).map(Some),
        None => Ok(None),
    }
}

fn order_by_key(conn: &mut PgConnection, user_id: i32, key: &str) -> QueryResult<Option<Cart>> {
    carts::table
        .filter(carts::user_id.eq(user_id))
        .filter(carts::idempotency_key.eq(key))
        .select(Cart::as_select())
        .first(conn)
        .optional()
}

/// The earlier order again, unless the user now has a different cart with items: reusing
/// a key for a new purchase is a client bug, not a retry.
fn replay(
    conn: &mut PgConnection,
    user_id: i32,
    order: Cart,
) -> Result<CheckoutOutcome, ShopError> {
    let open_cart_has_items: bool = diesel::select(diesel::dsl::exists(
        cart_items::table.filter(cart_items::cart_id.eq_any(open_cart_ids_of(user_id))),
    ))
    .get_result(conn)?;
    if open_cart_has_items {
        return Err(ShopError::IdempotencyKeyReused);
    }
    let lines = items_with_products(conn, order.id)?;
    Ok(CheckoutOutcome::Replayed((order, lines)))
}

/// The user's checked-out carts, as a query that can still be filtered and ordered.
#[diesel::dsl::auto_type]
fn orders_of(user_id: i32) -> _ {
    let checked_out: diesel::dsl::Eq<carts::status, CartStatus> =
        carts::status.eq(CartStatus::CheckedOut);
    carts::table
        .filter(carts::user_id.eq(user_id))
        .filter(checked_out)
}

/// Where the previous page of orders ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPosition {
    pub checked_out_at: DateTime<Utc>,
    pub id: i32,
}

/// The user's orders, newest first, after `after`; with their lines (two queries for the
/// whole page, not one per order).
pub fn list_orders(
    conn: &mut PgConnection,
    user_id: i32,
    after: Option<OrderPosition>,
    limit: i64,
) -> QueryResult<Vec<CartWithLines>> {
    let mut query = orders_of(user_id)
        .select(Cart::as_select())
        .order((carts::checked_out_at.desc(), carts::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(
            carts::checked_out_at
                .lt(after.checked_out_at)
                .or(carts::checked_out_at
                    .eq(after.checked_out_at)
                    .and(carts::id.lt(after.id))),
        );
    }
    let orders: Vec<Cart> = query.load(conn)?;
    let order_ids: Vec<i32> = orders.iter().map(|order| order.id).collect();
    let mut lines_by_order: HashMap<i32, Vec<(CartItem, Product)>> = HashMap::new();
    for (item, product) in cart_items::table
        .inner_join(products::table)
        .filter(cart_items::cart_id.eq_any(&order_ids))
        .order(cart_items::id)
        .select((CartItem::as_select(), Product::as_select()))
        .load::<(CartItem, Product)>(conn)?
    {
        lines_by_order
            .entry(item.cart_id)
            .or_default()
            .push((item, product));
    }
    Ok(orders
        .into_iter()
        .map(|order| {
            let lines = lines_by_order.remove(&order.id).unwrap_or_default();
            (order, lines)
        })
        .collect())
}

/// One of the user's orders; `NotFound` for another user's order or an open cart.
pub fn find_order(
    conn: &mut PgConnection,
    user_id: i32,
    order_id: i32,
) -> QueryResult<CartWithLines> {
    let order = orders_of(user_id)
        .filter(carts::id.eq(order_id))
        .select(Cart::as_select())
        .first(conn)?;
    let lines = items_with_products(conn, order.id)?;
    Ok((order, lines))
}
