//! The two busiest cart requests of a signed-in user, with the session lookup folded into
//! the cart's own statement: reading the open cart is one query, adding to it one
//! statement plus the read of its lines. Everything else about the cart (guests,
//! `If-Match`, a user's first cart) goes through `carts.rs` after the session is looked
//! up on its own.
//!
//! Each function answers `None` when the token names no unexpired session *or* the user
//! has no open cart yet; the caller then takes the ordinary path, which tells the two
//! apart (401, or a cart created on first need).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Integer, Nullable};

use super::carts::{cart_with_lines, cart_with_lines_where, CartWithLines, WhichCart};
use super::statement::Statement;
use super::{ShopError, Shortage};
use crate::domain::Quantity;

/// The open cart of the session's user with its lines, in one query; `None` when the
/// session is unknown or expired, or the user has no open cart yet.
pub fn open_cart_with_lines(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<CartWithLines>> {
    cart_with_lines_where(conn, WhichCart::OpenOfSession(token_hash.to_vec()))
}

/// Puts `quantity` more of a live product in the session user's open cart, as
/// `carts::add_to_open_cart` does, in one statement (its own transaction, committed
/// without waiting for the WAL flush, as every cart change is), then reads the cart's
/// lines. `None` when the session is unknown or expired, or the user has no open cart
/// (a checkout that took the cart while this waited for it included): nothing changed.
pub fn add_to_open_cart(
    conn: &mut PgConnection,
    token_hash: &[u8],
    product_id: i32,
    quantity: Quantity,
) -> Result<Option<CartWithLines>, ShopError> {
    let outcome: AddOutcome = Statement::new(ADD_BY_SESSION[0])
        .bind::<Bytea, _>(token_hash.to_vec())
        .sql(ADD_BY_SESSION[1])
        .bind::<Integer, _>(quantity.get())
        .sql(ADD_BY_SESSION[2])
        .bind::<Integer, _>(product_id)
        .sql(ADD_BY_SESSION[3])
        .get_result(conn)?;
    let Some(cart_id) = outcome.cart_id else {
        return Ok(None);
    };
    let Some(available) = outcome.available else {
        return Err(ShopError::NotFound); // no such live product
    };
    if !outcome.added {
        let in_cart = i64::from(outcome.in_cart.unwrap_or(0));
        let requested = i32::try_from(in_cart + i64::from(quantity.get())).unwrap_or(i32::MAX);
        let shortage = Shortage::of(product_id, requested, available);
        return Err(ShopError::InsufficientStock(shortage.into_iter().collect()));
    }
    // Read after the commit: the cart as it is now, which is at least this change.
    Ok(Some(cart_with_lines(conn, cart_id)?))
}

/// One statement, one implicit transaction:
/// - the session's user (by the token's hash, unexpired);
/// - that user's open cart, locked `FOR UPDATE`: this change queues behind any other on
///   the cart, and a checkout holding the cart either finishes first (the cart is no
///   longer open when the lock comes: no row, nothing added, the caller starts the next
///   cart) or waits for this;
/// - the upsert, which reads the locked cart and so runs only once its lock is held.
///   The stock rule is in the upsert itself: a new line only within the stock on hand,
///   an existing line only if its *latest* quantity plus this one stays within it (`ON
///   CONFLICT ... WHERE` sees the row as last committed, which the statement's snapshot
///   may not, when it waited for the cart);
/// - the cart's `updated_at` moved only when the line was added: a refused add changes
///   nothing;
/// - `synchronous_commit` off for this transaction alone (`set_config(.., true)`), as
///   for every cart change: a crash may forget the last moment's cart edits, never an
///   order.
///
/// `cart_id` NULL: no session, or no open cart. `available` NULL: no such live product.
/// `in_cart` (the line before, as the snapshot saw it) only for the 409's figures.
/// Kept prepared (`Statement`): its text never changes, and its three values (the
/// token's hash, the quantity, the product) are bind parameters in that order.
const ADD_BY_SESSION: [&str; 4] = [
    "WITH session AS (
        SELECT user_id FROM sessions WHERE token_hash = ",
    " AND expires_at > now()
    ), cart AS (
        SELECT carts.id FROM carts JOIN session ON carts.user_id = session.user_id
        WHERE carts.status = 'open'
          AND set_config('synchronous_commit', 'off', true) = 'off'
        FOR UPDATE OF carts
    ), product AS (
        SELECT id, inventory_count, ",
    "::int AS quantity FROM products WHERE id = ",
    " AND archived_at IS NULL
    ), added AS (
        INSERT INTO cart_items (cart_id, product_id, quantity)
        SELECT cart.id, product.id, product.quantity FROM cart, product
        WHERE product.quantity <= product.inventory_count
        ON CONFLICT (cart_id, product_id) DO UPDATE
            SET quantity = cart_items.quantity + excluded.quantity
            WHERE cart_items.quantity::bigint + excluded.quantity
                  <= (SELECT inventory_count FROM product)
        RETURNING 1
    ), touched AS (
        UPDATE carts SET updated_at = now()
        WHERE id = (SELECT id FROM cart) AND EXISTS (SELECT 1 FROM added)
    )
    SELECT (SELECT id FROM cart) AS cart_id,
           (SELECT inventory_count FROM product) AS available,
           (SELECT quantity FROM cart_items
             WHERE cart_id = (SELECT id FROM cart)
               AND product_id = (SELECT id FROM product)) AS in_cart,
           EXISTS (SELECT 1 FROM added) AS added",
];

#[derive(QueryableByName)]
struct AddOutcome {
    #[diesel(sql_type = Nullable<Integer>)]
    cart_id: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    available: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    in_cart: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    added: bool,
}
