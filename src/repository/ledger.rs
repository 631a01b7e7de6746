//! The price and stock ledger: `price_changes` and `stock_movements`.
//!
//! The repository writes the ledger itself, in the transaction that makes the change (see
//! docs/decisions.md, "The repository writes the ledger, not triggers"): `products::insert` and
//! `products::update` call the functions here; checkout writes its movements in the same
//! statement as its decrement (`orders.rs`). Who did it is a bind parameter of each write.
//! Invariant: a product's movements sum to its `inventory_count`.

use bigdecimal::BigDecimal;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Integer, Nullable, Numeric, Text, Timestamptz};

use crate::models::{NewPriceChange, NewStockMovement, StockReason};
use crate::schema::{price_changes, stock_movements};

/// The length in days of the price window: `lowest_price_30d` is the lowest price a
/// product had within this many days (the EU Omnibus rule says 30). A macro only so that
/// SQL text built with `concat!` can spell it; everything else reads
/// [`PRICE_WINDOW_DAYS`]. The SQL functions `lowest_earlier_price` and
/// `refresh_low_price` (migrations cannot read Rust) spell the same number; a database
/// test holds them to it.
macro_rules! price_window_days {
    () => {
        30
    };
}

pub(crate) use price_window_days;

/// How far back `lowest_price_30d` looks, in days.
pub const PRICE_WINDOW_DAYS: i64 = price_window_days!();

/// The price window as a duration.
pub fn price_window() -> TimeDelta {
    TimeDelta::days(PRICE_WINDOW_DAYS)
}

/// SQL for `lowest_price_30d` of the `products` row named `$alias`: the lowest price it
/// had at any moment in the price window, that is the current price and the old price of
/// every change within them (each was in force until its change). A product whose price
/// did not change within the window (`price_changed_at`) shows its price; one that did
/// shows the lowest old price kept beside it by its latest change (`low_price`) while
/// that is valid (`low_price_until`), and only otherwise calls `lowest_earlier_price`,
/// which searches `price_changes` (an index-only range scan). A function call, not a
/// subquery: a subquery is set up on every execution even when no row needs it.
/// `products::ProductView` builds the same expression with Diesel's DSL.
macro_rules! lowest_price_30d_of {
    ($alias:literal) => {
        concat!(
            "CASE WHEN ",
            $alias,
            ".price_changed_at > now() - interval '",
            $crate::repository::ledger::price_window_days!(),
            " days' THEN LEAST(",
            $alias,
            ".price, CASE WHEN ",
            $alias,
            ".low_price_until > now() THEN ",
            $alias,
            ".low_price ELSE lowest_earlier_price(",
            $alias,
            ".id) END) ELSE ",
            $alias,
            ".price END"
        )
    };
}
pub(crate) use lowest_price_30d_of;

/// Sets `products.low_price` and `low_price_until` of one product (the SQL function of
/// the same name, from the migration that added them): the lowest old price of the
/// changes within the window, and when the latest change holding it leaves the window.
/// Until then it is the lowest (changes only leave the window, and each new one calls
/// this), so reads take it instead of searching `price_changes`.
pub fn refresh_low_price(conn: &mut PgConnection, product_id: i32) -> QueryResult<usize> {
    diesel::sql_query("SELECT refresh_low_price($1)")
        .bind::<Integer, _>(product_id)
        .execute(conn)
}

/// What `refresh_low_price` keeps for a product whose price changes are `changes` (when,
/// old price), as of `as_of`: the lowest old price among the changes within the window
/// (the latest of equal ones) and when that change leaves the window; `None` without
/// one. For rows that are not in the database yet, as the seed writes them in bulk with
/// COPY; a database test holds it to the SQL function.
pub fn kept_low_price<'a>(
    changes: impl IntoIterator<Item = (DateTime<Utc>, &'a BigDecimal)>,
    as_of: DateTime<Utc>,
) -> Option<(&'a BigDecimal, DateTime<Utc>)> {
    let window_start = as_of - price_window();
    changes
        .into_iter()
        .filter(|(at, _)| *at > window_start)
        .min_by(|(a_at, a_old), (b_at, b_old)| a_old.cmp(b_old).then(b_at.cmp(a_at)))
        .map(|(at, old)| (old, at + price_window()))
}

/// Records a change of a product's price from `old_price` to `new_price` (they differ).
pub fn record_price_change(
    conn: &mut PgConnection,
    change: &NewPriceChange<'_>,
) -> QueryResult<()> {
    diesel::insert_into(price_changes::table)
        .values(change)
        .execute(conn)
        .map(drop)
}

/// Records a movement of a product's stock.
pub fn record_stock_movement(
    conn: &mut PgConnection,
    movement: &NewStockMovement,
) -> QueryResult<()> {
    diesel::insert_into(stock_movements::table)
        .values(movement)
        .execute(conn)
        .map(drop)
}

/// The two kinds of history entries, in the order they sort at one instant (newest
/// first: a stock movement before a price change made at the same microsecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HistoryKind {
    Price,
    Stock,
}

/// One entry of a product's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEntry {
    Price {
        id: i64,
        at: DateTime<Utc>,
        by_user_id: Option<i32>,
        old_price: BigDecimal,
        new_price: BigDecimal,
    },
    Stock {
        id: i64,
        at: DateTime<Utc>,
        by_user_id: Option<i32>,
        delta: i32,
        resulting_count: i32,
        reason: StockReason,
        order_id: Option<i32>,
    },
}

impl HistoryEntry {
    /// Where this entry stands in the history's order.
    pub fn position(&self) -> HistoryPosition {
        match *self {
            Self::Price { id, at, .. } => HistoryPosition {
                at,
                kind: HistoryKind::Price,
                id,
            },
            Self::Stock { id, at, .. } => HistoryPosition {
                at,
                kind: HistoryKind::Stock,
                id,
            },
        }
    }
}

/// A position in a product's history, which is ordered newest first by (at, kind, id),
/// all descending: a total order, since ids are unique within a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPosition {
    pub at: DateTime<Utc>,
    pub kind: HistoryKind,
    pub id: i64,
}

impl HistoryPosition {
    /// The entries of `kind` that come after this position are those with
    /// `(at, id) <= (self.at, bound)`: at an equal instant, all of a kind that sorts later,
    /// none of one that sorts earlier, and the smaller ids of the same kind.
    fn bound_for(&self, kind: HistoryKind) -> i64 {
        match kind.cmp(&self.kind) {
            std::cmp::Ordering::Less => i64::MAX,
            std::cmp::Ordering::Equal => self.id.saturating_sub(1),
            std::cmp::Ordering::Greater => i64::MIN,
        }
    }
}

/// Both kinds as one stream: each branch takes its first `limit` rows from its own index
/// range, and the merge keeps the first `limit` of those. `$1` product, `$2` limit; after
/// a position, `$3` its time and `$4` / `$5` the id bounds of the price and stock
/// branches, as a row comparison the index range starts at (an `OR` of "no position"
/// would leave it a filter, read from the newest entry on every page).
macro_rules! history_sql {
    ($after_price:literal, $after_stock:literal) => {
        concat!(
            "SELECT kind, id, at, by_user_id, old_price, new_price, delta, resulting_count,
                    reason, order_id
             FROM (
                 (SELECT 'price'::text AS kind, id, at, by_user_id, old_price, new_price,
                         NULL::integer AS delta, NULL::integer AS resulting_count,
                         NULL::text AS reason, NULL::integer AS order_id
                  FROM price_changes WHERE product_id = $1",
            $after_price,
            " ORDER BY at DESC, id DESC LIMIT $2)
                 UNION ALL
                 (SELECT 'stock', id, at, by_user_id, NULL, NULL, delta, resulting_count,
                         reason::text, order_id
                  FROM stock_movements WHERE product_id = $1",
            $after_stock,
            " ORDER BY at DESC, id DESC LIMIT $2)
             ) history
             ORDER BY at DESC, kind DESC, id DESC
             LIMIT $2"
        )
    };
}
const HISTORY_FIRST: &str = history_sql!("", "");
const HISTORY_AFTER: &str = history_sql!(" AND (at, id) <= ($3, $4)", " AND (at, id) <= ($3, $5)");

#[derive(QueryableByName)]
struct HistoryRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Integer>)]
    by_user_id: Option<i32>,
    #[diesel(sql_type = Nullable<Numeric>)]
    old_price: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    new_price: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<Integer>)]
    delta: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    resulting_count: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    order_id: Option<i32>,
}

impl TryFrom<HistoryRow> for HistoryEntry {
    type Error = diesel::result::Error;

    fn try_from(row: HistoryRow) -> Result<Self, Self::Error> {
        let (kind, id) = (row.kind.clone(), row.id);
        let missing = |what: &str| {
            diesel::result::Error::DeserializationError(
                format!("history row {kind} {id} lacks {what}").into(),
            )
        };
        Ok(match kind.as_str() {
            "price" => Self::Price {
                id: row.id,
                at: row.at,
                by_user_id: row.by_user_id,
                old_price: row.old_price.ok_or_else(|| missing("old_price"))?,
                new_price: row.new_price.ok_or_else(|| missing("new_price"))?,
            },
            _ => Self::Stock {
                id: row.id,
                at: row.at,
                by_user_id: row.by_user_id,
                delta: row.delta.ok_or_else(|| missing("delta"))?,
                resulting_count: row
                    .resulting_count
                    .ok_or_else(|| missing("resulting_count"))?,
                reason: row
                    .reason
                    .as_deref()
                    .and_then(StockReason::parse)
                    .ok_or_else(|| missing("a known reason"))?,
                order_id: row.order_id,
            },
        })
    }
}

/// A product's price changes and stock movements, newest first, after `after` (the last
/// entry of the previous page), at most `limit`.
pub fn history(
    conn: &mut PgConnection,
    product_id: i32,
    after: Option<HistoryPosition>,
    limit: i64,
) -> QueryResult<Vec<HistoryEntry>> {
    let rows: Vec<HistoryRow> = history_query("", product_id, after, limit).load(conn)?;
    rows.into_iter().map(HistoryEntry::try_from).collect()
}

/// The plan PostgreSQL chooses for `history` (`EXPLAIN` text), for tests and operators.
pub fn explain_history(
    conn: &mut PgConnection,
    product_id: i32,
    after: Option<HistoryPosition>,
    limit: i64,
) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let lines: Vec<PlanLine> = history_query("EXPLAIN ", product_id, after, limit).load(conn)?;
    Ok(lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `history`'s statement behind `prefix` (empty, or `EXPLAIN `), its parameters bound.
fn history_query(
    prefix: &str,
    product_id: i32,
    after: Option<HistoryPosition>,
    limit: i64,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let sql = match after {
        None => HISTORY_FIRST,
        Some(_) => HISTORY_AFTER,
    };
    let query = diesel::sql_query(format!("{prefix}{sql}"))
        .into_boxed()
        .bind::<Integer, _>(product_id)
        .bind::<BigInt, _>(limit);
    match after {
        None => query,
        Some(after) => query
            .bind::<Timestamptz, _>(after.at)
            .bind::<BigInt, _>(after.bound_for(HistoryKind::Price))
            .bind::<BigInt, _>(after.bound_for(HistoryKind::Stock)),
    }
}

/// Products whose movements do not sum to their `inventory_count`: (id, count, sum). Empty
/// while the ledger is whole; for tests and operators.
pub fn unbalanced_products(conn: &mut PgConnection) -> QueryResult<Vec<(i32, i32, i64)>> {
    #[derive(QueryableByName)]
    struct Unbalanced {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = Integer)]
        inventory_count: i32,
        #[diesel(sql_type = BigInt)]
        moved: i64,
    }
    Ok(diesel::sql_query(
        "SELECT p.id, p.inventory_count, COALESCE(m.moved, 0)::bigint AS moved
         FROM products p
         LEFT JOIN (SELECT product_id, sum(delta) AS moved FROM stock_movements
                    GROUP BY product_id) m ON m.product_id = p.id
         WHERE p.inventory_count IS DISTINCT FROM COALESCE(m.moved, 0)
         ORDER BY p.id",
    )
    .load::<Unbalanced>(conn)?
    .into_iter()
    .map(|row| (row.id, row.inventory_count, row.moved))
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL sorts kinds by their names; `bound_for` by this enum's order.
    #[test]
    fn kinds_sort_as_the_sql_sorts_their_names() {
        assert!(HistoryKind::Price < HistoryKind::Stock);
        assert!("price" < "stock");
    }

    #[test]
    fn a_position_bounds_each_kind_at_its_instant() {
        let at = Utc::now();
        let after_stock = HistoryPosition {
            at,
            kind: HistoryKind::Stock,
            id: 7,
        };
        // Price entries of the same instant all follow a stock entry; stock ones below 7.
        assert_eq!(after_stock.bound_for(HistoryKind::Price), i64::MAX);
        assert_eq!(after_stock.bound_for(HistoryKind::Stock), 6);
        let after_price = HistoryPosition {
            kind: HistoryKind::Price,
            ..after_stock
        };
        assert_eq!(after_price.bound_for(HistoryKind::Stock), i64::MIN);
        assert_eq!(after_price.bound_for(HistoryKind::Price), 6);
    }
}
