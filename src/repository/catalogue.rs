//! Listing and searching the catalogue with keyset pagination.
//!
//! Every order is total: (sort key, id). A page starts strictly after the last row of the
//! previous one (`(key, id) > (last key, last id)`), so page 500 costs what page 1 costs
//! (an index range scan, no OFFSET), and rows are never skipped or repeated between pages.
//! Dynamic filters make this one of the few queries written as SQL text; every value is
//! still a bind parameter.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Float, Integer, Nullable, Numeric, Text, Timestamptz};

use super::ledger::lowest_price_30d_of;
use super::statement::Statement;
use crate::models::{Product, ProductStructure};

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
    /// A category's slug: the products listed under it (filed in it or below it).
    pub category: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProductListing {
    pub filter: ProductFilter,
    pub sort: ProductSort,
    pub after: Option<After>,
    /// Rows to fetch (callers ask for one more than they show, to know if a page follows).
    pub limit: i64,
}

impl ProductListing {
    /// Whether the query finds and orders every match before it can return the first
    /// row: a search, unless it is one word in relevance order (an index range, see
    /// [`list`]). Such a query's cost grows with its matches, not with the page.
    pub fn visits_every_match(&self) -> bool {
        match &self.filter.text {
            None => false,
            Some(text) => self.sort != ProductSort::Relevance || !is_one_word(text),
        }
    }
}

/// Letters and digits only: PostgreSQL's parser makes that one token, hence at most one
/// lexeme (none for a stop word). Anything else may be several, and takes the other
/// branch of the query.
fn is_one_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(char::is_alphanumeric)
}

/// A listed product and, for relevance order, its search rank.
#[derive(QueryableByName, Debug, Clone)]
pub struct ListedProduct {
    #[diesel(embed)]
    pub product: Product,
    #[diesel(embed)]
    pub structure: ProductStructure,
    #[diesel(sql_type = Nullable<Float>)]
    pub rank: Option<f32>,
    /// See `ledger::lowest_price_30d_of!`.
    #[diesel(sql_type = Numeric)]
    pub lowest_price_30d: BigDecimal,
}

const COLUMNS: &str = concat!(
    "p.id, p.name, p.description, p.price, p.inventory_count, \
     p.archived_at, p.created_at, p.updated_at, \
     p.category_ids, p.images, p.group_id, p.options, ",
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

/// `EXPLAIN` cannot be kept as a prepared statement; the listing itself can.
fn build(listing: &ProductListing, prefix: &str) -> Statement {
    let start = match prefix {
        "" => Statement::new(""),
        _ => Statement::one_off(prefix),
    };
    match (&listing.filter.text, listing.sort) {
        (Some(text), ProductSort::Relevance) => ranked_search(start, listing, text),
        _ => scan(start, listing),
    }
}

/// A relevance-ordered search. One statement with two branches, of which PostgreSQL runs
/// exactly one (each is gated by a one-time filter on the parsed query):
/// - a query of one lexeme reads its top from `product_search_terms`, an index range in
///   relevance order that stops at the page's end (the stored rank is what `ts_rank`
///   gives for that lexeme, so order and cursors are the same as the other branch's);
/// - anything else (several words, phrases, exclusions) finds every match through the
///   GIN index and ranks them all.
fn ranked_search(start: Statement, listing: &ProductListing, text: &str) -> Statement {
    let mut query = start
        .sql("WITH search AS MATERIALIZED (SELECT websearch_to_tsquery('english', ")
        .bind::<Text, _>(text.to_owned())
        .sql(&format!(
            ") AS query)
         (SELECT {COLUMNS}, t.rank AS rank
          FROM product_search_terms t JOIN products p ON p.id = t.product_id
          WHERE (SELECT numnode(query) FROM search) = 1
            AND t.lexeme = (SELECT (tsvector_to_array(querytree(query)::tsvector))[1] FROM search)
            AND p.archived_at IS NULL"
        ));
    query = filters(query, &listing.filter);
    query = in_category(query, &listing.filter);
    if let Some(After::Relevance { rank, id }) = &listing.after {
        // `t.rank <= r` lets the index range start at the cursor.
        query = query
            .sql(" AND t.rank <= ")
            .bind::<Float, _>(*rank)
            .sql(" AND (t.rank < ")
            .bind::<Float, _>(*rank)
            .sql(" OR t.product_id > ")
            .bind::<Integer, _>(*id)
            .sql(")");
    } else if listing.after.is_some() {
        query = query.sql(" AND false"); // another order's cursor; callers reject these
    }
    query = query
        .sql(" ORDER BY t.rank DESC, t.product_id ASC")
        .limit(listing.limit)
        .sql(&format!(
            ") UNION ALL (SELECT {COLUMNS}, {RANK} AS rank FROM products p, search
              WHERE (SELECT numnode(query) FROM search) <> 1
                AND p.search_vector @@ search.query AND p.archived_at IS NULL"
        ));
    query = filters(query, &listing.filter);
    query = in_category(query, &listing.filter);
    query = match &listing.after {
        Some(After::Relevance { rank, id }) => query
            .sql(&format!(" AND ({RANK} < "))
            .bind::<Float, _>(*rank)
            .sql(&format!(" OR ({RANK} = "))
            .bind::<Float, _>(*rank)
            .sql(" AND p.id > ")
            .bind::<Integer, _>(*id)
            .sql("))"),
        Some(_) => query.sql(" AND false"),
        None => query,
    };
    query
        .sql(" ORDER BY rank DESC, p.id ASC")
        .limit(listing.limit)
        .sql(")")
}

/// Listings that walk an index in their order (no search text), and searches in another
/// order than relevance (every match is found, then sorted).
///
/// In a category, the rows come from `category_listings` instead: the category's range
/// of its index in the listing's order (the sort keys are copies of the product's), each
/// joined to its product by key; so a category's page costs the same whatever its size
/// (the join adds a key lookup per row over the catalogue's page). `k` is the table
/// whose sort keys order the page.
fn scan(start: Statement, listing: &ProductListing) -> Statement {
    let (mut query, k, id_col) = match &listing.filter.category {
        Some(slug) => (
            start
                .sql(&format!(
                    "SELECT {COLUMNS}, NULL::real AS rank FROM category_listings k \
                     JOIN products p ON p.id = k.product_id"
                ))
                .sql(" WHERE k.category_id = (SELECT id FROM categories WHERE slug = ")
                .bind::<Text, _>(slug.clone())
                .sql(") AND"),
            "k",
            "k.product_id",
        ),
        None => (
            start.sql(&format!(
                "SELECT {COLUMNS}, NULL::real AS rank FROM products p WHERE"
            )),
            "p",
            "p.id",
        ),
    };
    if let Some(text) = &listing.filter.text {
        query = query
            .sql(" p.search_vector @@ websearch_to_tsquery('english', ")
            .bind::<Text, _>(text.clone())
            .sql(") AND");
    }
    query = query.sql(" p.archived_at IS NULL");
    query = filters(query, &listing.filter);
    query = match &listing.after {
        None => query,
        Some(After::Price {
            price,
            id: after_id,
        }) => {
            let direction = if listing.sort == ProductSort::PriceAsc {
                ">"
            } else {
                "<"
            };
            query
                .sql(&format!(" AND ({k}.price, {id_col}) {direction} ("))
                .bind::<Numeric, _>(price.clone())
                .sql(", ")
                .bind::<Integer, _>(*after_id)
                .sql(")")
        }
        Some(After::Newest {
            created_at,
            id: after_id,
        }) => query
            .sql(&format!(" AND ({k}.created_at, {id_col}) < ("))
            .bind::<Timestamptz, _>(*created_at)
            .sql(", ")
            .bind::<Integer, _>(*after_id)
            .sql(")"),
        // A relevance cursor outside a relevance search; callers reject these first.
        Some(After::Relevance { .. }) => query.sql(" AND false"),
    };
    let order = match listing.sort {
        ProductSort::PriceAsc => format!(" ORDER BY {k}.price ASC, {id_col} ASC"),
        ProductSort::PriceDesc => format!(" ORDER BY {k}.price DESC, {id_col} DESC"),
        ProductSort::Relevance | ProductSort::Newest => {
            format!(" ORDER BY {k}.created_at DESC, {id_col} DESC")
        }
    };
    query.sql(&order).limit(listing.limit)
}

/// The category filter of a search, on products `p`: listed under the category.
fn in_category(query: Statement, filter: &ProductFilter) -> Statement {
    match &filter.category {
        None => query,
        Some(slug) => query
            .sql(
                " AND EXISTS (SELECT 1 FROM category_listings k WHERE k.product_id = p.id \
                 AND k.category_id = (SELECT id FROM categories WHERE slug = ",
            )
            .bind::<Text, _>(slug.clone())
            .sql("))"),
    }
}

/// The price and stock filters, on products `p`.
fn filters(mut query: Statement, filter: &ProductFilter) -> Statement {
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
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(text: Option<&str>, sort: ProductSort) -> ProductListing {
        ProductListing {
            filter: ProductFilter {
                text: text.map(str::to_owned),
                ..ProductFilter::default()
            },
            sort,
            after: None,
            limit: 21,
        }
    }

    #[test]
    fn only_one_word_in_relevance_order_skips_visiting_every_match() {
        for word in ["teapot", "Teapots", "café", "x1", "日本語"] {
            assert!(!listing(Some(word), ProductSort::Relevance).visits_every_match());
            assert!(listing(Some(word), ProductSort::PriceAsc).visits_every_match());
            assert!(listing(Some(word), ProductSort::Newest).visits_every_match());
        }
        for text in [
            "red teapot",
            "-teapot",
            "\"teapot\"",
            "teapot or kettle",
            "cast-iron",
            "tea_pot",
        ] {
            assert!(
                listing(Some(text), ProductSort::Relevance).visits_every_match(),
                "{text}"
            );
        }
        assert!(!listing(None, ProductSort::Newest).visits_every_match());
        assert!(!listing(None, ProductSort::PriceDesc).visits_every_match());
    }
}
