//! Listing and searching the catalogue with keyset pagination.
//!
//! Every order is total: (sort key, id). A page starts strictly after the last row of the
//! previous one (`(key, id) > (last key, last id)`), so page 500 costs what page 1 costs
//! (an index range scan, no OFFSET), and rows are never skipped or repeated between pages.
//! Dynamic filters make this one of the few queries written as SQL text; every value is
//! still a bind parameter.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::sql_types::{BigInt, Float, Integer, Nullable, Numeric, Text, Timestamptz};

use super::ledger::lowest_price_30d_of;
use crate::models::Product;

/// Listing orders. `Relevance` needs a search text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

/// Where the previous page ended: the sort key and id of its last row.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Relevance { rank: f32, id: i32 },
    Price { price: BigDecimal, id: i32 },
    Newest { created_at: DateTime<Utc>, id: i32 },
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Web-search syntax (`"exact phrase"`, `-excluded`, `or`), via websearch_to_tsquery.
    pub text: Option<String>,
    pub min_price: Option<BigDecimal>,
    pub max_price: Option<BigDecimal>,
    pub in_stock_only: bool,
}

#[derive(Debug, Clone)]
pub struct ProductListing {
    pub filter: ProductFilter,
    pub sort: ProductSort,
    pub after: Option<After>,
    /// Rows to fetch (callers ask for one more than they show, to know if a page follows).
    pub limit: i64,
}

/// A listed product and, for relevance order, its search rank.
#[derive(QueryableByName, Debug, Clone)]
pub struct ListedProduct {
    #[diesel(embed)]
    pub product: Product,
    #[diesel(sql_type = Nullable<Float>)]
    pub rank: Option<f32>,
    #[diesel(sql_type = Numeric)]
    pub lowest_price_30d: BigDecimal,
}

const COLUMNS: &str = concat!(
    "p.id, p.name, p.description, p.price, p.inventory_count, \
     p.archived_at, p.created_at, p.updated_at, ",
    lowest_price_30d_of!("p"),
    " AS lowest_price_30d"
);
const RANK: &str = "ts_rank(p.search_vector, query)";

pub fn list(conn: &mut PgConnection, listing: &ProductListing) -> QueryResult<Vec<ListedProduct>> {
    build(listing, "").load(conn)
}

/// The plan PostgreSQL chooses for `list`, for tests and operators (`EXPLAIN` text).
pub fn explain(conn: &mut PgConnection, listing: &ProductListing) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let lines: Vec<PlanLine> = build(listing, "EXPLAIN ").load(conn)?;
    Ok(lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// SQL text with numbered bind parameters: `bind` writes the next `$n` and records its
/// value, so values never become part of the SQL text.
struct Statement {
    query: BoxedSqlQuery<'static, Pg, SqlQuery>,
    binds: usize,
}

impl Statement {
    fn new(sql: &str) -> Self {
        Self {
            query: diesel::sql_query(sql).into_boxed(),
            binds: 0,
        }
    }

    fn sql(mut self, sql: &str) -> Self {
        self.query = self.query.sql(sql);
        self
    }

    fn bind<T, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<T>,
        V: ToSql<T, Pg> + Send + 'static,
        T: Send + 'static,
    {
        self.binds += 1;
        self.query = self
            .query
            .sql(format!("${}", self.binds))
            .bind::<T, V>(value);
        self
    }
}

fn build(listing: &ProductListing, prefix: &str) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let filter = &listing.filter;
    let ranked = listing.sort == ProductSort::Relevance && filter.text.is_some();
    let rank_column = if ranked { RANK } else { "NULL::real" };
    let mut query = Statement::new(&format!(
        "{prefix}SELECT {COLUMNS}, {rank_column} AS rank FROM products p"
    ));
    if let Some(text) = &filter.text {
        query = query
            .sql(", websearch_to_tsquery('english', ")
            .bind::<Text, _>(text.clone())
            .sql(") query WHERE p.archived_at IS NULL AND p.search_vector @@ query");
    } else {
        query = query.sql(" WHERE p.archived_at IS NULL");
    }
    if let Some(min) = &filter.min_price {
        query = query
            .sql(" AND p.price >= ")
            .bind::<Numeric, _>(min.clone());
    }
    if let Some(max) = &filter.max_price {
        query = query
            .sql(" AND p.price <= ")
            .bind::<Numeric, _>(max.clone());
    }
    if filter.in_stock_only {
        query = query.sql(" AND p.inventory_count > 0");
    }
    query = match &listing.after {
        None => query,
        Some(After::Relevance { rank, id }) if ranked => query
            .sql(&format!(" AND ({RANK} < "))
            .bind::<Float, _>(*rank)
            .sql(&format!(" OR ({RANK} = "))
            .bind::<Float, _>(*rank)
            .sql(" AND p.id > ")
            .bind::<Integer, _>(*id)
            .sql("))"),
        Some(After::Price { price, id }) => {
            let direction = if listing.sort == ProductSort::PriceAsc {
                ">"
            } else {
                "<"
            };
            query
                .sql(&format!(" AND (p.price, p.id) {direction} ("))
                .bind::<Numeric, _>(price.clone())
                .sql(", ")
                .bind::<Integer, _>(*id)
                .sql(")")
        }
        Some(After::Newest { created_at, id }) => query
            .sql(" AND (p.created_at, p.id) < (")
            .bind::<Timestamptz, _>(*created_at)
            .sql(", ")
            .bind::<Integer, _>(*id)
            .sql(")"),
        // A relevance cursor without a search text; callers reject these first.
        Some(After::Relevance { .. }) => query.sql(" AND false"),
    };
    let order = match listing.sort {
        ProductSort::Relevance if ranked => " ORDER BY rank DESC, p.id ASC",
        ProductSort::PriceAsc => " ORDER BY p.price ASC, p.id ASC",
        ProductSort::PriceDesc => " ORDER BY p.price DESC, p.id DESC",
        ProductSort::Relevance | ProductSort::Newest => " ORDER BY p.created_at DESC, p.id DESC",
    };
    query
        .sql(order)
        .sql(" LIMIT ")
        .bind::<BigInt, _>(listing.limit)
        .query
}
