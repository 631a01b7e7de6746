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

use super::{categories, events, ledger, product_groups, ShopError};
use crate::domain::{format_money, EventType, VariantOptions};
use crate::models::{
    NewPriceChange, NewProduct, NewStockMovement, Product, ProductChanges, ProductStructure,
    StockReason, StoredOptions,
};
use crate::schema::products;

/// A product as the catalogue shows it: the row, and the lowest price it had at any
/// moment in the price window (its current price when that did not change).
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = products, check_for_backend(Pg))]
pub struct ProductView {
    #[diesel(embed)]
    pub product: Product,
    #[diesel(embed)]
    pub structure: ProductStructure,
    #[diesel(select_expression = lowest_price_30d(), select_expression_type = lowest_price_30d)]
    pub lowest_price_30d: BigDecimal,
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

/// Adds a product as `insert` does, after checking what it names: its categories exist
/// (`Invalid` on `category_ids`), its group exists and admits its options (`Invalid` on
/// `group_id` / `options`). A variant whose options another live variant of the group
/// has violates `products_group_id_options_key`.
pub fn create(
    conn: &mut PgConnection,
    new_product: &NewProduct<'_>,
    by_user_id: Option<i32>,
) -> Result<ProductView, ShopError> {
    conn.transaction(|conn| {
        categories::prepare_filing(conn, new_product.category_ids)?;
        check_variant(conn, new_product.group_id, new_product.options.as_ref())?;
        let product = insert(conn, new_product, by_user_id)?;
        Ok(find_live_view(conn, product.id)?)
    })
}

/// A product's group and options, as they will be: both or neither, and the group's
/// axes admit the options.
fn check_variant(
    conn: &mut PgConnection,
    group_id: Option<i32>,
    options: Option<&StoredOptions>,
) -> Result<(), ShopError> {
    match (group_id, options) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(ShopError::Invalid(vec![(
            "options",
            "only a variant has options: give group_id as well".into(),
        )])),
        (Some(_), None) => Err(ShopError::Invalid(vec![(
            "options",
            "a variant needs a value for each option of its group".into(),
        )])),
        (Some(group_id), Some(options)) => product_groups::admit_variant(
            conn,
            group_id,
            &VariantOptions::from_stored(options.0.clone()),
        ),
    }
}

/// Adds a product and its opening stock movement (`created`, the initial count), in one
/// transaction, filed under its categories. `by_user_id`: who added it. What it names is
/// guarded only by foreign keys here; `create` checks it first.
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
        categories::refile(conn, &[product.id])?;
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

/// The live variants of a group, oldest first.
pub fn live_variants(conn: &mut PgConnection, group_id: i32) -> QueryResult<Vec<ProductView>> {
    products::table
        .filter(products::group_id.eq(group_id))
        .filter(products::archived_at.is_null())
        .order(products::id)
        .select(ProductView::as_select())
        .load(conn)
}

/// Whether a product with this id exists, archived or not.
pub fn exists(conn: &mut PgConnection, product_id: i32) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(products::table.find(product_id))).get_result(conn)
}

/// Applies a partial update to a live product, in one transaction with its ledger: a
/// price change when the price changes, an `adjustment` movement (the difference) when the
/// stock does, and the events: `product.updated`, and `stock.low` when the stock falls
/// below `low_stock_threshold`. New categories refile it; a new group or options are
/// checked as `create` checks them (leaving the group clears the options). `by_user_id`:
/// who changed it. `NotFound` when it is missing or archived.
pub fn update(
    conn: &mut PgConnection,
    product_id: i32,
    changes: &ProductChanges,
    by_user_id: Option<i32>,
    low_stock_threshold: i32,
) -> Result<ProductView, ShopError> {
    if changes.is_empty() {
        return find_live_view(conn, product_id).map_err(ShopError::from_not_found);
    }
    conn.transaction(|conn| {
        if let Some(category_ids) = &changes.category_ids {
            categories::prepare_filing(conn, category_ids)?;
        }
        // Locked until the transaction ends: no checkout or other edit can move the stock
        // between reading it here and writing the movement below.
        let (before, structure): (Product, ProductStructure) = products::table
            .find(product_id)
            .filter(products::archived_at.is_null())
            .select((Product::as_select(), ProductStructure::as_select()))
            .for_update()
            .first(conn)
            .map_err(ShopError::from_not_found)?;
        let mut changes = changes.clone();
        if changes.group_id.is_some() || changes.options.is_some() {
            let group_id = changes.group_id.unwrap_or(structure.group_id);
            if group_id.is_none() && changes.options.is_none() {
                changes.options = Some(None); // leaving the group
            }
            let options = changes.options.clone().unwrap_or(structure.options);
            check_variant(conn, group_id, options.as_ref())?;
        }
        let changes = &changes;
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
        if changes.category_ids.is_some() {
            categories::refile(conn, &[product_id])?;
        }
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
