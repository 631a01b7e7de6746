//! Checkout: the user's open cart becomes an order. The cart's lines keep the unit
//! prices frozen at checkout, its stock movements (reason `checkout`) are written by the
//! statement that takes the stock, and the order's lifecycle row (`orders`, same id)
//! starts `awaiting_payment` with its payment deadline. What it charges (subtotal,
//! shipping, tax, total) is computed from the prices of the locked products, for the
//! delivery the request names (`pricing`), and stored with the address it ships to.

use std::collections::HashMap;
use std::time::Duration;

use bigdecimal::BigDecimal;
use diesel::dsl::now;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Numeric, Text};
use serde_json::json;

use super::carts::{
    items_with_products, lock_open_cart_for_checkout, open_cart_ids_of, Precondition,
};
use super::orders::{find_order, OrderDetails};
use super::pricing::{self, DeliveryRequest, Destination, Quote};
use super::{events, ShopError, Shortage};
use crate::domain::{format_money, EventType, LineToTotal, TaxMode, Totals};
use crate::models::{Cart, CartItem, CartStatus, Order, OrderAddress, Product};
use crate::schema::{cart_items, carts, products};

/// What a checkout did.
#[derive(Debug)]
pub enum CheckoutOutcome {
    /// A new order.
    Placed(OrderDetails),
    /// The order an earlier request with the same Idempotency-Key placed.
    Replayed(OrderDetails),
}

/// The checkout request: whose cart, the retry key, how long the order may await payment
/// (`None`: no deadline), where it goes, whether prices include tax, and the total the
/// client expects to pay (`None`: whatever the prices of the moment make it).
#[derive(Debug, Clone, Copy)]
pub struct CheckoutRequest<'a> {
    pub user_id: i32,
    pub idempotency_key: Option<&'a str>,
    pub payment_window: Option<Duration>,
    pub delivery: &'a DeliveryRequest,
    pub tax_mode: TaxMode,
    pub expected_total: Option<&'a BigDecimal>,
    /// Products this checkout takes below it get a `stock.low` event.
    pub low_stock_threshold: i32,
}

/// Attempts at a checkout transaction that PostgreSQL aborted to break a deadlock or a
/// serialization conflict. Locking products in id order makes these unexpected; retrying
/// keeps one from ever reaching a client.
const CHECKOUT_ATTEMPTS: usize = 3;

/// Turns the user's open cart into an order, in one transaction: lock the cart, lock its
/// products in id order, check every line's stock, decrement inventory (writing each
/// line's stock movement), freeze prices, mark the cart checked out, open the order's
/// lifecycle row. On any shortage, or when `precondition` (the client's `If-Match`) does
/// not hold for the locked cart, nothing changes.
pub fn checkout(
    conn: &mut PgConnection,
    request: CheckoutRequest<'_>,
    precondition: Precondition<'_>,
) -> Result<CheckoutOutcome, ShopError> {
    let mut attempt = 1;
    loop {
        match conn.transaction(|conn| checkout_once(conn, request, precondition)) {
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
    request: CheckoutRequest<'_>,
    precondition: Precondition<'_>,
) -> Result<CheckoutOutcome, ShopError> {
    let CheckoutRequest {
        user_id,
        idempotency_key,
        payment_window,
        delivery,
        tax_mode,
        expected_total,
        low_stock_threshold,
    } = request;
    // A retry of a placed order is answered as before, whatever its If-Match or body:
    // the first request's condition held when the order was placed.
    if let Some(outcome) = replay_by_key(conn, user_id, idempotency_key)? {
        return Ok(outcome);
    }
    // Before any lock: a delivery the shop cannot make is refused without queueing.
    let destination = pricing::resolve(conn, Some(user_id), delivery)?;
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
    // The prices of the locked rows are the prices of the order: no change can come
    // between this and the commit.
    let lines: Vec<LineToTotal> = items
        .iter()
        .filter_map(|item| {
            let product = locked.get(&item.product_id)?;
            Some(LineToTotal {
                item_id: item.id,
                unit_price: product.price.clone(),
                quantity: item.quantity,
            })
        })
        .collect();
    let totals = destination.totals(&lines, tax_mode);
    if expected_total.is_some_and(|expected| *expected != totals.total) {
        return Err(ShopError::TotalChanged(Box::new(Quote {
            totals,
            destination,
            mode: tax_mode,
        })));
    }

    diesel::sql_query(DECREMENT_AND_RECORD)
        .bind::<Integer, _>(cart.id)
        .bind::<Integer, _>(user_id)
        .execute(conn)?;
    freeze_lines(conn, &lines, &totals)?;
    let cart: Cart = diesel::update(carts::table.find(cart.id))
        .set((
            carts::status.eq(CartStatus::CheckedOut),
            carts::checked_out_at.eq(now),
            carts::idempotency_key.eq(idempotency_key),
        ))
        .returning(Cart::as_returning())
        .get_result(conn)?;
    let address = destination.address.as_ref().map(|address| OrderAddress {
        order_id: cart.id,
        name: address.name.clone(),
        line1: address.line1.clone(),
        line2: address.line2.clone(),
        city: address.city.clone(),
        postal_code: address.postal_code.clone(),
        region: address.region.clone(),
        country: address.country.as_str().to_owned(),
        phone: address.phone.clone(),
    });
    let order = insert_order(
        conn,
        payment_window,
        &destination,
        tax_mode,
        &totals,
        &address,
        cart.id,
    )?;
    events::record(
        conn,
        EventType::OrderPlaced,
        json!({
            "order_id": order.id,
            "user_id": user_id,
            "status": order.status.as_str(),
            "payment_status": order.payment_status.as_str(),
            "total": format_money(&order.total),
        }),
    )?;
    events::record_low_stock_after_checkout(conn, order.id, low_stock_threshold)?;
    // The lines as now stored, from what this transaction holds: no read back while the
    // products are locked.
    let lines = placed_lines(items, locked, &totals);
    Ok(CheckoutOutcome::Placed(OrderDetails {
        cart,
        lines,
        order,
        fulfilments: Vec::new(),
        address,
        payments: Vec::new(),
        refunds: Vec::new(),
    }))
}

/// Freezes each line's unit price and tax, in one statement for all lines.
fn freeze_lines(
    conn: &mut PgConnection,
    lines: &[LineToTotal],
    totals: &Totals,
) -> QueryResult<usize> {
    let ids: Vec<i32> = lines.iter().map(|line| line.item_id).collect();
    let prices: Vec<BigDecimal> = lines.iter().map(|line| line.unit_price.clone()).collect();
    let taxes: Vec<BigDecimal> = totals.lines.iter().map(|line| line.tax.clone()).collect();
    diesel::sql_query(
        "UPDATE cart_items ci SET unit_price = v.price, tax = v.tax
         FROM unnest($1, $2, $3) AS v (id, price, tax) WHERE ci.id = v.id",
    )
    .bind::<Array<Integer>, _>(ids)
    .bind::<Array<Numeric>, _>(prices)
    .bind::<Array<Numeric>, _>(taxes)
    .execute(conn)
}

/// The order's row (its payment deadline on the database's clock, which the expiry job
/// compares it with; what it charges; how it ships) and, with an address, the copy it
/// ships to: one statement.
fn insert_order(
    conn: &mut PgConnection,
    payment_window: Option<Duration>,
    destination: &Destination,
    tax_mode: TaxMode,
    totals: &Totals,
    address: &Option<OrderAddress>,
    order_id: i32,
) -> QueryResult<Order> {
    let method = destination.method.as_ref();
    let address = address.as_ref();
    let text = |field: fn(&OrderAddress) -> Option<&str>| address.and_then(field);
    diesel::sql_query(
        "WITH placed AS (
             INSERT INTO orders (id, payment_due_at, subtotal, shipping, tax, total, tax_rate,
                                 prices_include_tax, shipping_method_id, shipping_method_name)
             VALUES ($1, now() + $2 * interval '1 millisecond', $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING *
         ), shipped_to AS (
             INSERT INTO order_addresses (order_id, name, line1, line2, city, postal_code,
                                          region, country, phone)
             SELECT id, $11, $12, $13, $14, $15, $16, $17, $18 FROM placed WHERE $11 IS NOT NULL
         )
         SELECT * FROM placed",
    )
    .bind::<Integer, _>(order_id)
    .bind::<Nullable<BigInt>, _>(payment_window.map(window_millis))
    .bind::<Numeric, _>(&totals.subtotal)
    .bind::<Numeric, _>(&totals.shipping)
    .bind::<Numeric, _>(&totals.tax)
    .bind::<Numeric, _>(&totals.total)
    .bind::<Numeric, _>(destination.tax_rate.as_decimal())
    .bind::<Bool, _>(tax_mode == TaxMode::Included)
    .bind::<Nullable<Integer>, _>(method.map(|method| method.id))
    .bind::<Nullable<Text>, _>(method.map(|method| method.name.as_str()))
    .bind::<Nullable<Text>, _>(text(|a| Some(&a.name)))
    .bind::<Nullable<Text>, _>(text(|a| Some(&a.line1)))
    .bind::<Nullable<Text>, _>(text(|a| a.line2.as_deref()))
    .bind::<Nullable<Text>, _>(text(|a| Some(&a.city)))
    .bind::<Nullable<Text>, _>(text(|a| a.postal_code.as_deref()))
    .bind::<Nullable<Text>, _>(text(|a| a.region.as_deref()))
    .bind::<Nullable<Text>, _>(text(|a| Some(&a.country)))
    .bind::<Nullable<Text>, _>(text(|a| a.phone.as_deref()))
    .get_result(conn)
}

/// The order's lines as the statements above left them: each item with its frozen price
/// and tax, each product with the stock taken; in the order the cart's lines were added.
fn placed_lines(
    items: Vec<CartItem>,
    mut locked: HashMap<i32, Product>,
    totals: &Totals,
) -> Vec<(CartItem, Product)> {
    let tax_of: HashMap<i32, &BigDecimal> = totals
        .lines
        .iter()
        .map(|line| (line.item_id, &line.tax))
        .collect();
    let mut lines: Vec<(CartItem, Product)> = items
        .into_iter()
        .filter_map(|mut item| {
            let mut product = locked.remove(&item.product_id)?;
            product.inventory_count -= item.quantity;
            item.unit_price = Some(product.price.clone());
            item.tax = tax_of.get(&item.id).map(|tax| (*tax).clone());
            Some((item, product))
        })
        .collect();
    lines.sort_by_key(|(item, _)| item.id);
    lines
}

fn window_millis(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
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

/// The earlier order again (as it stands now), unless the user now has a different cart
/// with items: reusing a key for a new purchase is a client bug, not a retry.
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
    Ok(CheckoutOutcome::Replayed(find_order(
        conn,
        Some(user_id),
        order.id,
    )?))
}
