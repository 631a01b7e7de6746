//! Reading orders: one order, a user's orders, and every order for staff, each with its
//! lines (the checked-out cart's, prices frozen), its lifecycle row and its fulfilments.
//! A page of orders takes six queries whatever its size, never one per order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::carts::items_with_products;
use super::ShopError;
use crate::models::{
    Cart, CartItem, Fulfilment, FulfilmentStatus, Order, OrderAddress, OrderStatus, Payment,
    PaymentStatus, Product, Refund,
};
use crate::schema::{
    cart_items, carts, fulfilments, order_addresses, orders, payments, products, refunds,
};

/// An order with everything its JSON shows.
#[derive(Debug, Clone)]
pub struct OrderDetails {
    /// The checked-out cart: owner, placement time.
    pub cart: Cart,
    pub lines: Vec<(CartItem, Product)>,
    pub order: Order,
    pub fulfilments: Vec<Fulfilment>,
    /// Where it ships; `None` for an order placed without an address.
    pub address: Option<OrderAddress>,
    /// The attempts to pay it, oldest first.
    pub payments: Vec<Payment>,
    /// Money given back, oldest first.
    pub refunds: Vec<Refund>,
}

/// Which orders a listing shows; `None` fields do not filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// One customer's orders; `None`: everybody's (staff).
    pub user_id: Option<i32>,
    pub status: Option<OrderStatus>,
    pub payment_status: Option<PaymentStatus>,
    pub fulfilment_status: Option<FulfilmentStatus>,
}

/// Where the previous page of orders ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPosition {
    pub checked_out_at: DateTime<Utc>,
    pub id: i32,
}

/// The orders `filter` admits, newest first (checkout time, then id), after `after`.
pub fn list_orders(
    conn: &mut PgConnection,
    filter: OrderFilter,
    after: Option<OrderPosition>,
    limit: i64,
) -> QueryResult<Vec<OrderDetails>> {
    let mut query = orders::table
        .inner_join(carts::table)
        .select((Order::as_select(), Cart::as_select()))
        .order((carts::checked_out_at.desc(), carts::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(user_id) = filter.user_id {
        query = query.filter(carts::user_id.eq(user_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(orders::status.eq(status));
    }
    if let Some(status) = filter.payment_status {
        query = query.filter(orders::payment_status.eq(status));
    }
    if let Some(status) = filter.fulfilment_status {
        query = query.filter(orders::fulfilment_status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(
            carts::checked_out_at
                .lt(after.checked_out_at)
                .or(carts::checked_out_at
                    .eq(after.checked_out_at)
                    .and(carts::id.lt(after.id))),
        );
    }
    let rows: Vec<(Order, Cart)> = query.load(conn)?;
    with_details(conn, rows)
}

/// One order of `user_id`'s (`None`: anybody's, for staff); `NotFound` for another user's
/// order, an open cart or no such id.
pub fn find_order(
    conn: &mut PgConnection,
    user_id: Option<i32>,
    order_id: i32,
) -> QueryResult<OrderDetails> {
    let mut query = orders::table
        .inner_join(carts::table)
        .filter(orders::id.eq(order_id))
        .select((Order::as_select(), Cart::as_select()))
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(carts::user_id.eq(user_id));
    }
    let (order, cart) = query.first(conn)?;
    let lines = items_with_products(conn, cart.id)?;
    let fulfilments = Fulfilment::belonging_to(&order)
        .order(fulfilments::id)
        .select(Fulfilment::as_select())
        .load(conn)?;
    let address = order_addresses::table
        .find(order.id)
        .select(OrderAddress::as_select())
        .first(conn)
        .optional()?;
    let payments = payments::table
        .filter(payments::order_id.eq(order.id))
        .order(payments::id)
        .select(Payment::as_select())
        .load(conn)?;
    let refunds = refunds::table
        .filter(refunds::order_id.eq(order.id))
        .order(refunds::id)
        .select(Refund::as_select())
        .load(conn)?;
    Ok(OrderDetails {
        cart,
        lines,
        order,
        fulfilments,
        address,
        payments,
        refunds,
    })
}

/// The owner of an order (`None` when there is no such order).
pub fn owner_of(conn: &mut PgConnection, order_id: i32) -> QueryResult<Option<i32>> {
    orders::table
        .inner_join(carts::table)
        .filter(orders::id.eq(order_id))
        .select(carts::user_id)
        .first::<Option<i32>>(conn)
        .optional()
        .map(Option::flatten)
}

/// The lines, fulfilments and addresses of a page of orders: three queries for the whole
/// page.
fn with_details(
    conn: &mut PgConnection,
    rows: Vec<(Order, Cart)>,
) -> QueryResult<Vec<OrderDetails>> {
    let ids: Vec<i32> = rows.iter().map(|(order, _)| order.id).collect();
    let mut lines_by_order: HashMap<i32, Vec<(CartItem, Product)>> = HashMap::new();
    for (item, product) in cart_items::table
        .inner_join(products::table)
        .filter(cart_items::cart_id.eq_any(&ids))
        .order(cart_items::id)
        .select((CartItem::as_select(), Product::as_select()))
        .load::<(CartItem, Product)>(conn)?
    {
        lines_by_order
            .entry(item.cart_id)
            .or_default()
            .push((item, product));
    }
    let mut fulfilments_by_order: HashMap<i32, Vec<Fulfilment>> = HashMap::new();
    for fulfilment in fulfilments::table
        .filter(fulfilments::order_id.eq_any(&ids))
        .order(fulfilments::id)
        .select(Fulfilment::as_select())
        .load::<Fulfilment>(conn)?
    {
        fulfilments_by_order
            .entry(fulfilment.order_id)
            .or_default()
            .push(fulfilment);
    }
    let mut address_by_order: HashMap<i32, OrderAddress> = order_addresses::table
        .filter(order_addresses::order_id.eq_any(&ids))
        .select(OrderAddress::as_select())
        .load::<OrderAddress>(conn)?
        .into_iter()
        .map(|address| (address.order_id, address))
        .collect();
    let mut payments_by_order: HashMap<i32, Vec<Payment>> = HashMap::new();
    for payment in payments::table
        .filter(payments::order_id.eq_any(&ids))
        .order(payments::id)
        .select(Payment::as_select())
        .load::<Payment>(conn)?
    {
        payments_by_order
            .entry(payment.order_id)
            .or_default()
            .push(payment);
    }
    let mut refunds_by_order: HashMap<i32, Vec<Refund>> = HashMap::new();
    for refund in refunds::table
        .filter(refunds::order_id.eq_any(&ids))
        .order(refunds::id)
        .select(Refund::as_select())
        .load::<Refund>(conn)?
    {
        refunds_by_order
            .entry(refund.order_id)
            .or_default()
            .push(refund);
    }
    Ok(rows
        .into_iter()
        .map(|(order, cart)| OrderDetails {
            lines: lines_by_order.remove(&order.id).unwrap_or_default(),
            fulfilments: fulfilments_by_order.remove(&order.id).unwrap_or_default(),
            address: address_by_order.remove(&order.id),
            payments: payments_by_order.remove(&order.id).unwrap_or_default(),
            refunds: refunds_by_order.remove(&order.id).unwrap_or_default(),
            cart,
            order,
        })
        .collect())
}

/// Locks an order's row (`FOR UPDATE`): every change to an order takes this lock first,
/// so changes to one order queue instead of deadlocking.
pub(super) fn lock_order(conn: &mut PgConnection, order_id: i32) -> Result<Order, ShopError> {
    orders::table
        .find(order_id)
        .select(Order::as_select())
        .for_update()
        .first(conn)
        .map_err(ShopError::from_not_found)
}
