//! Guest carts: a row of `carts` with no user, owned by a cart token (only its SHA-256 is
//! stored) from its creation until it expires or is merged into a user's open cart at
//! login (`merge_guest_cart`), which deletes it and so kills its token. While it lives, it
//! is changed through `carts.rs` like any cart (`CartOwner::Guest`); this module holds
//! what only a guest cart has: its creation, finding it by token, the sweep of expired
//! ones, and the merge.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::carts::{items_with_products, lock_open_cart_for_change, CartOwner};
use crate::domain::Quantity;
use crate::models::{Cart, CartItem, NewCartItem, NewGuestCart};
use crate::schema::{cart_items, carts};

/// Creates an empty guest cart owned by the token whose SHA-256 is `token_hash`.
pub fn create_guest_cart(
    conn: &mut PgConnection,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<Cart> {
    diesel::insert_into(carts::table)
        .values(&NewGuestCart {
            guest_token_hash: token_hash,
            guest_expires_at: expires_at,
        })
        .returning(Cart::as_returning())
        .get_result(conn)
}

/// The id of the guest cart a live (unexpired, unmerged) cart token owns.
pub fn find_guest_cart(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<Option<i32>> {
    carts::table
        .filter(carts::guest_token_hash.eq(token_hash))
        .filter(carts::guest_expires_at.gt(diesel::dsl::now))
        .select(carts::id)
        .first(conn)
        .optional()
}

/// Deletes up to `limit` expired guest carts (their lines go with them); returns how
/// many. The sweep job's round: carts another instance's round (or a merge) holds are
/// skipped, not waited for.
pub fn sweep_expired_guest_carts(conn: &mut PgConnection, limit: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM carts WHERE id IN (
             SELECT id FROM carts
             WHERE guest_expires_at IS NOT NULL AND guest_expires_at <= now()
             LIMIT $1
             FOR UPDATE SKIP LOCKED)",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .execute(conn)
}

/// What merging a guest cart at login did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartMerge {
    /// Guest lines whose units (all or some) went into the user's cart.
    pub merged_lines: u32,
    /// Lines that would have exceeded the stock on hand or the per-line maximum.
    pub capped: Vec<CappedLine>,
    /// Products of guest lines left out because they were archived.
    pub dropped: Vec<i32>,
}

/// A merged line held back: the user's and the guest's units together (`requested`) and
/// what the line now has (`kept`, 0 when nothing of the product is left in stock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CappedLine {
    pub product_id: i32,
    pub requested: i32,
    pub kept: i32,
}

/// Merges the guest cart owned by the live token `token_hash` into the user's open cart
/// (created if needed) and deletes the guest cart, which kills the token. One
/// transaction: the guest cart is locked first (`FOR UPDATE`), so two logins with one
/// token merge once (the second finds no cart and merges nothing), then the user's open
/// cart (touched, as every cart change is). The same product adds up, capped at the
/// stock on hand and at the per-line maximum (the user's own units are never taken
/// away); archived products are dropped. `None` when the token names no live guest cart.
pub fn merge_guest_cart(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: i32,
) -> QueryResult<Option<CartMerge>> {
    conn.transaction(|conn| {
        let guest: Option<Cart> = carts::table
            .filter(carts::guest_token_hash.eq(token_hash))
            .filter(carts::guest_expires_at.gt(diesel::dsl::now))
            .select(Cart::as_select())
            .for_update()
            .first(conn)
            .optional()?;
        let Some(guest) = guest else {
            return Ok(None);
        };
        let guest_lines = items_with_products(conn, guest.id)?;
        let mut merge = CartMerge::default();
        if !guest_lines.is_empty() {
            let cart = lock_open_cart_for_change(conn, CartOwner::User(user_id))?;
            let own: Vec<CartItem> = cart_items::table
                .filter(cart_items::cart_id.eq(cart.id))
                .select(CartItem::as_select())
                .load(conn)?;
            for (line, product) in guest_lines {
                if product.archived_at.is_some() {
                    merge.dropped.push(product.id);
                    continue;
                }
                let had = own
                    .iter()
                    .find(|item| item.product_id == product.id)
                    .map_or(0, |item| item.quantity);
                let requested = had.saturating_add(line.quantity);
                let kept = requested
                    .min(product.inventory_count)
                    .min(Quantity::MAX)
                    .max(had);
                if kept < requested {
                    merge.capped.push(CappedLine {
                        product_id: product.id,
                        requested,
                        kept,
                    });
                }
                if kept > had {
                    diesel::insert_into(cart_items::table)
                        .values(&NewCartItem {
                            cart_id: cart.id,
                            product_id: product.id,
                            quantity: kept,
                        })
                        .on_conflict((cart_items::cart_id, cart_items::product_id))
                        .do_update()
                        .set(cart_items::quantity.eq(excluded(cart_items::quantity)))
                        .execute(conn)?;
                    merge.merged_lines += 1;
                }
            }
        }
        // Its lines go with it (ON DELETE CASCADE); the token now names nothing.
        diesel::delete(carts::table.find(guest.id)).execute(conn)?;
        Ok(Some(merge))
    })
}
