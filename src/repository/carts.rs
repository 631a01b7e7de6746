//! Queries on `carts` and `cart_items`. Every item query is scoped by the owner's user id,
//! so one user can never read or change another's cart by guessing an id.
//!
//! Cart changes start by touching the open cart row (`UPDATE ... SET updated_at`), which
//! both tells clients the cart changed and locks the row until the transaction ends;
//! checkout locks it `FOR UPDATE`. So changes to one cart queue behind each other, and a
//! change racing a checkout either lands before it (and is ordered) or waits and then
//! lands in the user's next open cart, never in an order.
//!
//! Cart changes commit with `synchronous_commit = off`: they do not wait for the WAL
//! flush, so a crash may forget the last fraction of a second of cart edits (never an
//! order: checkout commits durably). That trade lifts cart writes from being bound by
//! the disk's fsync latency.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::{ShopError, Shortage};
use crate::domain::Quantity;
use crate::models::{Cart, CartItem, CartStatus, NewCart, NewCartItem, Product};
use crate::schema::{cart_items, carts, products};

/// A cart (open, or checked out: an order) with its lines and their products.
pub type CartWithLines = (Cart, Vec<(CartItem, Product)>);

/// The user's open cart, created on first need. Two concurrent first requests both end up
/// with the same cart: the partial unique index lets one insert win and the other's
/// `ON CONFLICT DO NOTHING` falls through to the select.
pub fn open_cart_for(conn: &mut PgConnection, user_id: i32) -> QueryResult<Cart> {
    if let Some(cart) = find_open_cart(conn, user_id)? {
        return Ok(cart);
    }
    change_cart(conn, |conn| create_open_cart(conn, user_id))?;
    find_open_cart(conn, user_id)?.ok_or(diesel::result::Error::NotFound)
}

/// Runs a cart change in its own transaction, committed without waiting for the WAL
/// flush (see the module doc).
fn change_cart<T, E, F>(conn: &mut PgConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::SimpleConnection;
    conn.transaction(|conn| {
        conn.batch_execute("SET LOCAL synchronous_commit = off")?;
        work(conn)
    })
}

fn create_open_cart(conn: &mut PgConnection, user_id: i32) -> QueryResult<usize> {
    diesel::insert_into(carts::table)
        .values(&NewCart { user_id })
        .on_conflict(carts::user_id)
        .filter_target(carts::status.eq(CartStatus::Open))
        .do_nothing()
        .execute(conn)
}

/// The user's open cart (at most one row), as a query that can still take a lock clause.
#[diesel::dsl::auto_type]
fn open_cart_query(user_id: i32) -> _ {
    let is_open: diesel::dsl::Eq<carts::status, CartStatus> = carts::status.eq(CartStatus::Open);
    carts::table
        .filter(carts::user_id.eq(user_id))
        .filter(is_open)
}

pub fn find_open_cart(conn: &mut PgConnection, user_id: i32) -> QueryResult<Option<Cart>> {
    open_cart_query(user_id)
        .select(Cart::as_select())
        .first(conn)
        .optional()
}

/// The open cart, created if needed, touched and so locked until the transaction ends.
/// Must run inside a transaction.
pub fn lock_open_cart_for_change(conn: &mut PgConnection, user_id: i32) -> QueryResult<Cart> {
    // A checkout committing between our insert and update can leave no open cart for an
    // instant; a second round creates the next one.
    for _ in 0..3 {
        if let Some(cart) = lock_existing_open_cart(conn, user_id)? {
            return Ok(cart);
        }
        create_open_cart(conn, user_id)?;
    }
    Err(diesel::result::Error::NotFound)
}

/// The open cart, if there is one, with its `updated_at` moved to now: one statement that
/// locks the row and returns it (changing an existing line must not create a cart as a
/// side effect of a 404). Rolled back with the rest when the change is refused.
fn lock_existing_open_cart(conn: &mut PgConnection, user_id: i32) -> QueryResult<Option<Cart>> {
    diesel::update(open_cart_query(user_id))
        .set(carts::updated_at.eq(diesel::dsl::now))
        .returning(Cart::as_returning())
        .get_result(conn)
        .optional()
}

/// The open cart locked `FOR UPDATE` (checkout); `None` when the user has none.
pub fn lock_open_cart_for_checkout(
    conn: &mut PgConnection,
    user_id: i32,
) -> QueryResult<Option<Cart>> {
    open_cart_query(user_id)
        .select(Cart::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Adds `quantity` of a product to the cart in one statement: a new line, or the sum
/// with the existing line, even when requests race.
pub fn add_item(
    conn: &mut PgConnection,
    cart_id: i32,
    product_id: i32,
    quantity: i32,
) -> QueryResult<CartItem> {
    diesel::insert_into(cart_items::table)
        .values(&NewCartItem {
            cart_id,
            product_id,
            quantity,
        })
        .on_conflict((cart_items::cart_id, cart_items::product_id))
        .do_update()
        .set(cart_items::quantity.eq(cart_items::quantity + excluded(cart_items::quantity)))
        .returning(CartItem::as_returning())
        .get_result(conn)
}

/// Puts `quantity` more of a live product in the user's open cart, refusing (409) when the
/// line would then exceed the stock on hand. Returns the cart with its lines.
pub fn add_to_open_cart(
    conn: &mut PgConnection,
    user_id: i32,
    product_id: i32,
    quantity: Quantity,
) -> Result<CartWithLines, ShopError> {
    change_cart(conn, |conn| {
        let product =
            super::products::find_live(conn, product_id).map_err(ShopError::from_not_found)?;
        let cart = lock_open_cart_for_change(conn, user_id)?;
        let in_cart: i32 = cart_items::table
            .filter(cart_items::cart_id.eq(cart.id))
            .filter(cart_items::product_id.eq(product_id))
            .select(cart_items::quantity)
            .first(conn)
            .optional()?
            .unwrap_or(0);
        let requested = in_cart.saturating_add(quantity.get());
        if let Some(shortage) = Shortage::of(product_id, requested, product.available_stock()) {
            return Err(ShopError::InsufficientStock(vec![shortage]));
        }
        add_item(conn, cart.id, product_id, quantity.get())?;
        Ok((cart.clone(), items_with_products(conn, cart.id)?))
    })
}

/// Sets the quantity of a line of the user's open cart, within the stock on hand.
pub fn set_quantity_in_open_cart(
    conn: &mut PgConnection,
    user_id: i32,
    item_id: i32,
    quantity: Quantity,
) -> Result<CartWithLines, ShopError> {
    change_cart(conn, |conn| {
        let cart = lock_existing_open_cart(conn, user_id)?.ok_or(ShopError::NotFound)?;
        let (item, product) = cart_items::table
            .inner_join(products::table)
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::cart_id.eq(cart.id))
            .select((CartItem::as_select(), Product::as_select()))
            .first(conn)
            .optional()?
            .ok_or(ShopError::NotFound)?;
        let shortage = Shortage::of(item.product_id, quantity.get(), product.available_stock());
        if let Some(shortage) = shortage {
            return Err(ShopError::InsufficientStock(vec![shortage]));
        }
        set_item_quantity(conn, user_id, item_id, quantity.get())?;
        Ok((cart.clone(), items_with_products(conn, cart.id)?))
    })
}

/// Removes a line from the user's open cart.
pub fn remove_from_open_cart(
    conn: &mut PgConnection,
    user_id: i32,
    item_id: i32,
) -> Result<(), ShopError> {
    change_cart(conn, |conn| {
        lock_existing_open_cart(conn, user_id)?.ok_or(ShopError::NotFound)?;
        remove_item(conn, user_id, item_id).map_err(ShopError::from_not_found)
    })
}

/// The user's open cart (created on first need) with its lines.
pub fn open_cart_with_lines(conn: &mut PgConnection, user_id: i32) -> QueryResult<CartWithLines> {
    let cart = open_cart_for(conn, user_id)?;
    let lines = items_with_products(conn, cart.id)?;
    Ok((cart, lines))
}

/// The cart's lines with their products, in the order they were added: one join, no N+1.
pub fn items_with_products(
    conn: &mut PgConnection,
    cart_id: i32,
) -> QueryResult<Vec<(CartItem, Product)>> {
    cart_items::table
        .inner_join(products::table)
        .filter(cart_items::cart_id.eq(cart_id))
        .order(cart_items::id)
        .select((CartItem::as_select(), Product::as_select()))
        .load(conn)
}

/// The id of the user's open cart (none or one), as a subquery: scopes item changes to
/// their owner.
pub(super) fn open_cart_ids_of(
    user_id: i32,
) -> carts::BoxedQuery<'static, diesel::pg::Pg, diesel::sql_types::Integer> {
    open_cart_query(user_id).select(carts::id).into_boxed()
}

/// Sets a line's quantity. `NotFound` unless the line is in this user's open cart.
pub fn set_item_quantity(
    conn: &mut PgConnection,
    user_id: i32,
    item_id: i32,
    quantity: i32,
) -> QueryResult<CartItem> {
    diesel::update(
        cart_items::table
            .find(item_id)
            .filter(cart_items::cart_id.eq_any(open_cart_ids_of(user_id))),
    )
    .set(cart_items::quantity.eq(quantity))
    .returning(CartItem::as_returning())
    .get_result(conn)
}

/// Removes a line. `NotFound` unless it is in this user's open cart.
pub fn remove_item(conn: &mut PgConnection, user_id: i32, item_id: i32) -> QueryResult<()> {
    let deleted = diesel::delete(
        cart_items::table
            .find(item_id)
            .filter(cart_items::cart_id.eq_any(open_cart_ids_of(user_id))),
    )
    .execute(conn)?;
    if deleted == 0 {
        Err(diesel::result::Error::NotFound)
    } else {
        Ok(())
    }
}
