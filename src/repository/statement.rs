//! SQL text assembled at run time that PostgreSQL still keeps as a prepared statement.
//!
//! `diesel::sql_query` marks itself unsafe to cache, because its text could be anything;
//! then every call is parsed and planned anew, which costs a catalogue page about half of
//! the database's throughput (measured with pgbench: the first list page 24,500/s
//! unprepared, 41,900/s prepared). A [`Statement`] is built only from fixed fragments
//! chosen by which filters, order and cursor a listing has, with every value a bind
//! parameter except the LIMIT ([`Statement::limit`]), so its texts are a small bounded
//! set: Diesel caches each by its text (per connection), and PostgreSQL parses it once
//! and, given a LIMIT it can see, keeps one plan for it.

use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// SQL fragments and bind values, in order. Build it with [`Statement::sql`] and
/// [`Statement::bind`]; load rows with `QueryableByName` types.
pub struct Statement {
    parts: Vec<Part>,
    cacheable: bool,
}

enum Part {
    Sql(String),
    Bind(Box<dyn BindValue>),
}

impl Statement {
    /// A statement that Diesel may keep prepared. Only for texts from a bounded set of
    /// fragments: each distinct text is one prepared statement per connection.
    pub fn new(sql: &str) -> Self {
        Self {
            parts: vec![Part::Sql(sql.to_owned())],
            cacheable: true,
        }
    }

    /// A statement prepared for one use only (`EXPLAIN`, which cannot be kept prepared).
    pub fn one_off(sql: &str) -> Self {
        Self {
            cacheable: false,
            ..Self::new(sql)
        }
    }

    pub fn sql(mut self, sql: &str) -> Self {
        self.parts.push(Part::Sql(sql.to_owned()));
        self
    }

    /// ` LIMIT n` for a statement that wants `rows` rows, with n `rows` rounded up to one
    /// of a few sizes (the caller cuts the rows to size). A literal, not a bind parameter:
    /// PostgreSQL costs a generic plan with an unknown LIMIT as if it read a tenth of the
    /// table, so with `LIMIT $n` it plans every execution anew, which was half the
    /// database's time for a first catalogue page; with a literal it keeps one plan.
    /// Rounded, so that page sizes 1..=100 make six texts of each shape, not a hundred, in
    /// every connection's cache.
    pub fn limit(self, rows: i64) -> Self {
        const SIZES: [i64; 6] = [6, 11, 21, 26, 51, 101];
        let n = SIZES.into_iter().find(|&size| size >= rows).unwrap_or(rows);
        self.sql(&format!(" LIMIT {n}"))
    }

    /// The next bind parameter (`$n`, numbered by Diesel): values never become SQL text.
    pub fn bind<T, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<T>,
        V: ToSql<T, Pg> + Send + 'static,
        T: Send + 'static,
    {
        self.parts.push(Part::Bind(Box::new(Bound::<T, V> {
            value,
            sql_type: std::marker::PhantomData,
        })));
        self
    }
}

/// A value and the SQL type it is sent as.
struct Bound<T, V> {
    value: V,
    sql_type: std::marker::PhantomData<fn() -> T>,
}

trait BindValue: Send {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl<T, V> BindValue for Bound<T, V>
where
    Pg: HasSqlType<T>,
    V: ToSql<T, Pg> + Send,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<T, V>(&self.value)
    }
}

impl QueryFragment<Pg> for Statement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if !self.cacheable {
            out.unsafe_to_cache_prepared();
        }
        for part in &self.parts {
            match part {
                Part::Sql(sql) => out.push_sql(sql),
                Part::Bind(value) => value.push(&mut out)?,
            }
        }
        Ok(())
    }
}

/// No static id: Diesel then keys its statement cache by the SQL text.
impl QueryId for Statement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Statement {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for Statement {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The n of `Statement::new("").limit(rows)`.
    fn limit(rows: i64) -> i64 {
        let statement = Statement::new("").limit(rows);
        let text: String = statement
            .parts
            .iter()
            .map(|part| match part {
                Part::Sql(sql) => sql.as_str(),
                Part::Bind(_) => "$",
            })
            .collect();
        text.strip_prefix(" LIMIT ").unwrap().parse().unwrap()
    }

    #[test]
    fn limits_are_a_few_literals_that_fetch_at_least_what_is_asked() {
        assert!((2..=101).all(|rows| limit(rows) >= rows));
        // The default page (20 and its lookahead) fetches nothing extra.
        assert_eq!(limit(21), 21);
        let mut sizes: Vec<i64> = (2..=101).map(limit).collect();
        sizes.dedup();
        assert_eq!(sizes.len(), 6);
    }
}
