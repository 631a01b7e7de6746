//! Queries on `products`. Archived products are invisible to every function here except
//! the ones that name archiving. Creating a product and changing its price or stock
//! write the ledger (`ledger.rs`) in the same transaction.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Numeric};
use serde_json::json;

use super::{events, ledger};
use crate::domain::{format_money, EventType};
use crate::models::{
    NewPriceChange, NewProduct, NewStockMovement, Product, ProductChanges, StockReason,
};
use crate::schema::products;

/// A product as the catalogue shows it: the row, and the lowest price it had at any
/// moment in the price window (its current price when that did not change).
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = products, check_for_backend(Pg))]
pub struct ProductView {
    #[diesel(embed)]
    pub product: Product,
    #[diesel(select_expression = lowest_price_30d(), select_expression_type = lowest_price_30d)]
    pub lowest_price_30d: BigDecimal,
}

impl ProductView {
    /// A product just created: it has had one price.
    pub fn created(product: Product) -> Self {
        Self {
            lowest_price_30d: product.price.clone(),
            product,
        }
    }
}

diesel::define_sql_function! {
    /// PostgreSQL's `LEAST`, which ignores a NULL argument.
    fn least(current: Numeric, earlier: Nullable<Numeric>) -> Numeric;
}

diesel::define_sql_function! {
    /// The lowest old price of the product's price changes in the price window (an SQL
    /// function of the ledger's migration); NULL when there is none.
    fn lowest_earlier_price(product: Integer) -> Nullable<Numeric>;
}

diesel::define_sql_function! {
    /// The time of the call (`now()` is the transaction's start); typed to set a
    /// nullable column.
    fn clock_timestamp() -> Nullable<Timestamptz>;
}

/// `lowest_price_30d` of the products row, as `lowest_price_30d_of!` writes it for the
/// listing's SQL text, but built with Diesel's DSL and the window's start bound as a
/// parameter: so a query selecting it stays one prepared statement, cached per
/// connection (an SQL literal would make Diesel prepare and plan it on every call).
#[diesel::dsl::auto_type]
fn lowest_price_30d() -> _ {
    let read_at: DateTime<Utc> = Utc::now();
    let window_start: DateTime<Utc> = read_at - ledger::price_window();
    let lowest_earlier =
        diesel::dsl::case_when(products::low_price_until.gt(read_at), products::low_price)
            .otherwise(lowest_earlier_price(products::id));
    diesel::dsl::case_when(
        products::price_changed_at.gt(window_start),
        least(products::price, lowest_earlier),
    )
    .otherwise(products::price)
}

/// Adds a product and its opening stock movement (`created`, the initial count), in one
/// transaction. `by_user_id`: who added it.
pub fn insert(
    conn: &mut PgConnection,
    new_product: &NewProduct<'_>,
    by_user_id: Option<i32>,
) -> QueryResult<Product> {
    conn.transaction(|conn| {
        let product: Product = diesel::insert_into(products::table)
            .values(new_product)
            .returning(Product::as_returning())
            .get_result(conn)?;
        ledger::record_stock_movement(
            conn,
            &NewStockMovement {
                product_id: product.id,
                delta: product.inventory_count,
                resulting_count: product.inventory_count,
                reason: StockReason::Created,
                order_id: None,
                by_user_id,
            },
        )?;
        record_product(conn, EventType::ProductCreated, &product)?;
        Ok(product)
    })
}

/// `product.created`, `product.updated` or `product.archived`: its id and state.
fn record_product(conn: &mut PgConnection, event: EventType, product: &Product) -> QueryResult<()> {
    events::record(
        conn,
        event,
        json!({
            "product_id": product.id,
            "price": format_money(&product.price),
            "inventory_count": product.inventory_count,
            "archived": product.archived_at.is_some(),
        }),
    )
    .map(drop)
}

/// A product that is not archived.
pub fn find_live(conn: &mut PgConnection, product_id: i32) -> QueryResult<Product> {
    products::table
        .find(product_id)
        .filter(products::archived_at.is_null())
        .select(Product::as_select())
        .first(conn)
}

/// A product that is not archived, as the catalogue shows it.
pub fn find_live_view(conn: &mut PgConnection, product_id: i32) -> QueryResult<ProductView> {
    products::table
        .find(product_id)
        .filter(products::archived_at.is_null())
        .select(ProductView::as_select())
        .first(conn)
}

/// Whether a product with this id exists, archived or not.
pub fn exists(conn: &mut PgConnection, product_id: i32) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(products::table.find(product_id))).get_result(conn)
}

/// Applies a partial update to a live product, in one transaction with its ledger: a
/// price change when the price changes, an `adjustment` movement (the difference) when the
/// stock does, and the events: `product.updated`, and `stock.low` when the stock falls
/// below `low_stock_threshold`. `by_user_id`: who changed it. `NotFound` when it is
/// missing or archived.
pub fn update(
    conn: &mut PgConnection,
    product_id: i32,
    changes: &ProductChanges,
    by_user_id: Option<i32>,
    low_stock_threshold: i32,
) -> QueryResult<ProductView> {
    if changes.is_empty() {
        return find_live_view(conn, product_id);
    }
    conn.transaction(|conn| {
        // Locked until the transaction ends: no checkout or other edit can move the stock
        // between reading it here and writing the movement below.
        let before: Product = products::table
            .find(product_id)
            .filter(products::archived_at.is_null())
            .select(Product::as_select())
            .for_update()
            .first(conn)?;
        let new_price = changes.price.as_ref().filter(|p| **p != before.price);
        let price_changed = new_price.is_some();
        if let Some(price) = new_price {
            ledger::record_price_change(
                conn,
                &NewPriceChange {
                    product_id,
                    old_price: &before.price,
                    new_price: price,
                    by_user_id,
                },
            )?;
        }
        if let Some(count) = changes.inventory_count {
            let delta = count.checked_sub(before.inventory_count).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError("inventory change out of range".into())
            })?;
            events::record_if_stock_fell(
                conn,
                product_id,
                before.inventory_count,
                count,
                low_stock_threshold,
            )?;
            if delta != 0 {
                ledger::record_stock_movement(
                    conn,
                    &NewStockMovement {
                        product_id,
                        delta,
                        resulting_count: count,
                        reason: StockReason::Adjustment,
                        order_id: None,
                        by_user_id,
                    },
                )?;
            }
        }
        // Written after the ledger, so lowest_price_30d already counts this change; a new
        // price also moves price_changed_at, after the change's own `at`, and refreshes
        // the lowest earlier price that reads take instead of searching the changes.
        let target = products::table.find(product_id);
        let view: ProductView = if price_changed {
            diesel::update(target)
                .set((changes, products::price_changed_at.eq(clock_timestamp())))
                .execute(conn)?;
            ledger::refresh_low_price(conn, product_id)?;
            products::table
                .find(product_id)
                .select(ProductView::as_select())
                .get_result(conn)?
        } else {
            diesel::update(target)
                .set(changes)
                .returning(ProductView::as_returning())
                .get_result(conn)?
        };
        record_product(conn, EventType::ProductUpdated, &view.product)?;
        Ok(view)
    })
}

/// Archives a live product (the row stays for the orders that refer to it), with its
/// `product.archived` event. `NotFound` when it is missing or already archived.
pub fn archive(conn: &mut PgConnection, product_id: i32) -> QueryResult<Product> {
    conn.transaction(|conn| {
        let product = diesel::update(
            products::table
                .find(product_id)
                .filter(products::archived_at.is_null()),
        )
        .set(products::archived_at.eq(now))
        .returning(Product::as_returning())
        .get_result(conn)?;
        record_product(conn, EventType::ProductArchived, &product)?;
        Ok(product)
    })
}
