//! Queries on `carts` and `cart_items`. Every item query is scoped by the cart's owner
//! (`CartOwner`: a user, or a guest cart's token), so nobody can read or change another's
//! cart by guessing an id: a guest never reaches a user's lines, nor a user a guest's.
//!
//! A guest cart (`guest_carts.rs`) is changed through the same functions as a user's.
//!
//! Cart changes start by touching the open cart row (`UPDATE ... SET updated_at`), which
//! both tells clients the cart changed and locks the row until the transaction ends;
//! checkout locks it `FOR UPDATE`. So changes to one cart queue behind each other, and a
//! change racing a checkout either lands before it (and is ordered) or waits and then
//! lands in the user's next open cart, never in an order.
//!
//! A conditional change (`If-Match`, a `Precondition`) first locks the open cart
//! `FOR UPDATE` and tests the caller's condition against the cart as it stands, then makes
//! the change in the same transaction: two changes sent with one tag cannot both pass.
//!
//! Cart changes commit with `synchronous_commit = off`: they do not wait for the WAL
//! flush, so a crash may forget the last fraction of a second of cart edits (never an
//! order: checkout commits durably). That trade lifts cart writes from being bound by
//! the disk's fsync latency.

use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::{ShopError, Shortage};
use crate::domain::Quantity;
use crate::models::{Cart, CartItem, CartStatus, NewCart, Product};
use crate::schema::{cart_items, carts, products, sessions};

/// Whose open cart a request works on: a user's (by user id), or a guest cart (by its
/// cart id, found from a live cart token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartOwner {
    User(i32),
    Guest(i32),
}

/// A cart (open, or checked out: an order) with its lines and their products.
pub type CartWithLines = (Cart, Vec<(CartItem, Product)>);

/// A condition on the open cart as it stands (the caller's `If-Match`): a change runs only
/// when it holds, and is refused with `ShopError::PreconditionFailed` otherwise. It is
/// tested inside the change's transaction, under the cart's row lock, so no other change
/// can come between the test and the change.
pub type Precondition<'a> = Option<&'a dyn Fn(&CartWithLines) -> bool>;

/// Tests `precondition` against the open cart, locked `FOR UPDATE` first; the change that
/// follows in the same transaction then finds the cart exactly as tested. With no open
/// cart the condition names nothing current and fails. Must run inside a transaction.
fn check_precondition(
    conn: &mut PgConnection,
    owner: CartOwner,
    precondition: Precondition<'_>,
) -> Result<(), ShopError> {
    let Some(holds) = precondition else {
        return Ok(());
    };
    let cart = lock_owned_cart(conn, owner)?.ok_or(ShopError::PreconditionFailed)?;
    let lines = items_with_products(conn, cart.id)?;
    if holds(&(cart, lines)) {
        Ok(())
    } else {
        Err(ShopError::PreconditionFailed)
    }
}

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

/// The guest cart `cart_id` (open, owned by no user), as a query that can still take a
/// lock clause.
#[diesel::dsl::auto_type]
fn guest_cart_query(cart_id: i32) -> _ {
    carts::table
        .filter(carts::id.eq(cart_id))
        .filter(carts::user_id.is_null())
}

pub fn find_open_cart(conn: &mut PgConnection, user_id: i32) -> QueryResult<Option<Cart>> {
    open_cart_query(user_id)
        .select(Cart::as_select())
        .first(conn)
        .optional()
}

/// The open cart, created if needed (a user's; a guest cart exists from its creation),
/// touched and so locked until the transaction ends. Must run inside a transaction.
pub fn lock_open_cart_for_change(conn: &mut PgConnection, owner: CartOwner) -> QueryResult<Cart> {
    let CartOwner::User(user_id) = owner else {
        // Gone only if merged or swept since its token was checked.
        return lock_existing_open_cart(conn, owner)?.ok_or(diesel::result::Error::NotFound);
    };
    // A checkout committing between our insert and update can leave no open cart for an
    // instant; a second round creates the next one.
    for _ in 0..3 {
        if let Some(cart) = lock_existing_open_cart(conn, owner)? {
            return Ok(cart);
        }
        create_open_cart(conn, user_id)?;
    }
    Err(diesel::result::Error::NotFound)
}

/// The open cart, if there is one, with its `updated_at` moved to now: one statement that
/// locks the row and returns it (changing an existing line must not create a cart as a
/// side effect of a 404). Rolled back with the rest when the change is refused.
fn lock_existing_open_cart(conn: &mut PgConnection, owner: CartOwner) -> QueryResult<Option<Cart>> {
    let touch = carts::updated_at.eq(diesel::dsl::now);
    match owner {
        CartOwner::User(user_id) => diesel::update(open_cart_query(user_id))
            .set(touch)
            .returning(Cart::as_returning())
            .get_result(conn)
            .optional(),
        CartOwner::Guest(cart_id) => diesel::update(guest_cart_query(cart_id))
            .set(touch)
            .returning(Cart::as_returning())
            .get_result(conn)
            .optional(),
    }
}

/// The owner's open cart locked `FOR UPDATE`; `None` when there is none.
fn lock_owned_cart(conn: &mut PgConnection, owner: CartOwner) -> QueryResult<Option<Cart>> {
    match owner {
        CartOwner::User(user_id) => lock_open_cart_for_checkout(conn, user_id),
        CartOwner::Guest(cart_id) => guest_cart_query(cart_id)
            .select(Cart::as_select())
            .for_update()
            .first(conn)
            .optional(),
    }
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

/// Which open cart a change works on: adding a line creates a user's cart on first need;
/// changing or removing a line needs the cart to exist already (a 404 must not create a
/// cart as a side effect).
#[derive(Debug, Clone, Copy)]
enum CartToChange {
    CreatedIfMissing,
    Existing,
}

/// The common frame of a cart change: its own transaction (`change_cart`), the caller's
/// `precondition` tested, the open cart touched and so locked, then `change` on it; returns
/// the cart with its lines as they are afterwards.
fn change_open_cart<F>(
    conn: &mut PgConnection,
    owner: CartOwner,
    precondition: Precondition<'_>,
    cart_to_change: CartToChange,
    change: F,
) -> Result<CartWithLines, ShopError>
where
    F: FnOnce(&mut PgConnection, &Cart) -> Result<(), ShopError>,
{
    change_cart(conn, |conn| {
        check_precondition(conn, owner, precondition)?;
        let cart = match cart_to_change {
            CartToChange::CreatedIfMissing => lock_open_cart_for_change(conn, owner)?,
            CartToChange::Existing => {
                lock_existing_open_cart(conn, owner)?.ok_or(ShopError::NotFound)?
            }
        };
        change(conn, &cart)?;
        let lines = items_with_products(conn, cart.id)?;
        Ok((cart, lines))
    })
}

/// Puts `quantity` more of a live product in the owner's open cart, refusing (409) when the
/// line would then exceed the stock on hand, or (412) when `precondition` does not hold.
/// Returns the cart with its lines.
pub fn add_to_open_cart(
    conn: &mut PgConnection,
    owner: CartOwner,
    product_id: i32,
    quantity: Quantity,
    precondition: Precondition<'_>,
) -> Result<CartWithLines, ShopError> {
    // The cart row first: it serialises this cart's changes, so the line read below
    // cannot change before the upsert that follows it.
    change_open_cart(
        conn,
        owner,
        precondition,
        CartToChange::CreatedIfMissing,
        |conn, cart| {
            let added: Added = diesel::sql_query(ADD_WITHIN_STOCK)
                .bind::<Integer, _>(cart.id)
                .bind::<Integer, _>(product_id)
                .bind::<Integer, _>(quantity.get())
                .get_result(conn)?;
            let Some(available) = added.available else {
                return Err(ShopError::NotFound); // no such live product
            };
            if !added.added {
                let requested =
                    i32::try_from(added.in_cart + i64::from(quantity.get())).unwrap_or(i32::MAX);
                let shortage = Shortage::of(product_id, requested, available);
                return Err(ShopError::InsufficientStock(shortage.into_iter().collect()));
            }
            Ok(())
        },
    )
}

/// One round trip for "add this many, if the line then stays within the stock on hand":
/// the product's stock, the line's current quantity, and the upsert guarded by both.
/// `available` is NULL for a missing or archived product; `added` is false when the
/// line would exceed the stock (nothing changed).
const ADD_WITHIN_STOCK: &str = "
    WITH product AS (
        SELECT inventory_count FROM products WHERE id = $2 AND archived_at IS NULL
    ), line AS (
        SELECT quantity FROM cart_items WHERE cart_id = $1 AND product_id = $2
    ), added AS (
        INSERT INTO cart_items (cart_id, product_id, quantity)
        SELECT $1, $2, $3 FROM product
        WHERE COALESCE((SELECT quantity FROM line), 0)::bigint + $3 <= product.inventory_count
        ON CONFLICT (cart_id, product_id)
        DO UPDATE SET quantity = cart_items.quantity + excluded.quantity
        RETURNING 1
    )
    SELECT (SELECT inventory_count FROM product) AS available,
           COALESCE((SELECT quantity FROM line), 0)::bigint AS in_cart,
           EXISTS (SELECT 1 FROM added) AS added";

#[derive(QueryableByName)]
struct Added {
    #[diesel(sql_type = diesel::sql_types::Nullable<Integer>)]
    available: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    in_cart: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    added: bool,
}

/// Sets the quantity of a line of the owner's open cart, within the stock on hand, when
/// `precondition` holds.
pub fn set_quantity_in_open_cart(
    conn: &mut PgConnection,
    owner: CartOwner,
    item_id: i32,
    quantity: Quantity,
    precondition: Precondition<'_>,
) -> Result<CartWithLines, ShopError> {
    let change = |conn: &mut PgConnection, cart: &Cart| {
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
        diesel::update(cart_items::table.find(item.id))
            .set(cart_items::quantity.eq(quantity.get()))
            .execute(conn)?;
        Ok(())
    };
    change_open_cart(conn, owner, precondition, CartToChange::Existing, change)
}

/// Removes a line from the owner's open cart when `precondition` holds. Returns the cart
/// as it is afterwards.
pub fn remove_from_open_cart(
    conn: &mut PgConnection,
    owner: CartOwner,
    item_id: i32,
    precondition: Precondition<'_>,
) -> Result<CartWithLines, ShopError> {
    let change = |conn: &mut PgConnection, cart: &Cart| {
        // Scoped by the locked cart: an item id of another cart (a user's, a guest's)
        // deletes nothing and is a 404.
        let deleted = diesel::delete(
            cart_items::table
                .find(item_id)
                .filter(cart_items::cart_id.eq(cart.id)),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(ShopError::NotFound);
        }
        Ok(())
    };
    change_open_cart(conn, owner, precondition, CartToChange::Existing, change)
}

/// The owner's open cart with its lines (a user's is created on first need).
pub fn open_cart_with_lines(
    conn: &mut PgConnection,
    owner: CartOwner,
) -> QueryResult<CartWithLines> {
    match owner {
        CartOwner::User(user_id) => user_cart_with_lines(conn, user_id),
        // Gone only if merged or swept since its token was checked.
        CartOwner::Guest(cart_id) => cart_with_lines_where(conn, WhichCart::Guest(cart_id))?
            .ok_or(diesel::result::Error::NotFound),
    }
}

/// The owner's open cart with its lines, without creating one (a read that must not
/// write, such as a quote); `None` when the user has no open cart yet.
pub fn existing_open_cart_with_lines(
    conn: &mut PgConnection,
    owner: CartOwner,
) -> QueryResult<Option<CartWithLines>> {
    let which = match owner {
        CartOwner::User(user_id) => WhichCart::OpenOfUser(user_id),
        CartOwner::Guest(cart_id) => WhichCart::Guest(cart_id),
    };
    cart_with_lines_where(conn, which)
}

/// The user's open cart (created on first need) with its lines: one query, and more only
/// when the user has no open cart yet.
fn user_cart_with_lines(conn: &mut PgConnection, user_id: i32) -> QueryResult<CartWithLines> {
    match cart_with_lines_where(conn, WhichCart::OpenOfUser(user_id))? {
        Some(cart) => Ok(cart),
        None => Ok((open_cart_for(conn, user_id)?, Vec::new())),
    }
}

/// The cart `cart_id` with its lines, in one query.
pub fn cart_with_lines(conn: &mut PgConnection, cart_id: i32) -> QueryResult<CartWithLines> {
    cart_with_lines_where(conn, WhichCart::Id(cart_id))?.ok_or(diesel::result::Error::NotFound)
}

/// Which cart `cart_with_lines_where` reads.
pub(super) enum WhichCart {
    Id(i32),
    OpenOfUser(i32),
    /// The guest cart with this id (owned by no user).
    Guest(i32),
    /// The open cart of the user holding an unexpired session with this token hash.
    OpenOfSession(Vec<u8>),
}

/// A cart with its lines and their products, in the order the lines were added: one
/// query (the cart left-joined to its lines, so an empty cart is one row too); `None`
/// when no cart matches.
pub(super) fn cart_with_lines_where(
    conn: &mut PgConnection,
    which: WhichCart,
) -> QueryResult<Option<CartWithLines>> {
    let query = carts::table
        .left_join(cart_items::table.inner_join(products::table))
        .order(cart_items::id.nullable())
        .select((
            Cart::as_select(),
            Option::<(CartItem, Product)>::as_select(),
        ))
        .into_boxed::<Pg>();
    let is_open = carts::status.eq(CartStatus::Open);
    let query = match which {
        WhichCart::Id(cart_id) => query.filter(carts::id.eq(cart_id)),
        WhichCart::OpenOfUser(user_id) => query.filter(carts::user_id.eq(user_id)).filter(is_open),
        WhichCart::Guest(cart_id) => query
            .filter(carts::id.eq(cart_id))
            .filter(carts::user_id.is_null()),
        WhichCart::OpenOfSession(token_hash) => query
            .filter(
                carts::user_id.eq_any(
                    sessions::table
                        .filter(sessions::token_hash.eq(token_hash))
                        .filter(sessions::expires_at.gt(diesel::dsl::now))
                        .select(sessions::user_id.nullable()),
                ),
            )
            .filter(is_open),
    };
    let rows: Vec<(Cart, Option<(CartItem, Product)>)> = query.load(conn)?;
    let Some((cart, _)) = rows.first() else {
        return Ok(None);
    };
    let cart = cart.clone();
    let lines = rows.into_iter().filter_map(|(_, line)| line).collect();
    Ok(Some((cart, lines)))
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
