//! SQL text assembled at run time that PostgreSQL still keeps as a prepared statement.
//!
//! `diesel::sql_query` marks itself unsafe to cache, because its text could be anything;
//! then every call is parsed and planned anew, which costs a catalogue page about half of
//! the database's throughput (measured with pgbench: the first list page 24,500/s
//! unprepared, 41,900/s prepared). A [`Statement`] is built only from fixed fragments
//! chosen by which filters, order and cursor a listing has, with every value a bind
//! parameter, so its texts are a small bounded set: Diesel caches each by its text (per
//! connection), PostgreSQL parses it once and plans it per its own rules for prepared
//! statements.

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
