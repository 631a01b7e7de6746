//! Queries on `products`. Archived products are invisible to every function here except
//! the ones that name archiving.

use diesel::dsl::now;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::models::{NewProduct, Product, ProductChanges};
use crate::schema::products;

pub fn insert(conn: &mut PgConnection, new_product: &NewProduct<'_>) -> QueryResult<Product> {
    diesel::insert_into(products::table)
        .values(new_product)
        .returning(Product::as_returning())
        .get_result(conn)
}

/// A product that is not archived.
pub fn find_live(conn: &mut PgConnection, product_id: i32) -> QueryResult<Product> {
    products::table
        .find(product_id)
        .filter(products::archived_at.is_null())
        .select(Product::as_select())
        .first(conn)
}

/// Applies a partial update to a live product. `NotFound` when it is missing or archived.
pub fn update(
    conn: &mut PgConnection,
    product_id: i32,
    changes: &ProductChanges,
) -> QueryResult<Product> {
    if changes.is_empty() {
        return find_live(conn, product_id);
    }
    diesel::update(
        products::table
            .find(product_id)
            .filter(products::archived_at.is_null()),
    )
    .set(changes)
    .returning(Product::as_returning())
    .get_result(conn)
}

/// Archives a live product (the row stays for the orders that refer to it).
/// `NotFound` when it is missing or already archived.
pub fn archive(conn: &mut PgConnection, product_id: i32) -> QueryResult<Product> {
    diesel::update(
        products::table
            .find(product_id)
            .filter(products::archived_at.is_null()),
    )
    .set(products::archived_at.eq(now))
    .returning(Product::as_returning())
    .get_result(conn)
}
