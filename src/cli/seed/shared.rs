//! What the seed's parts share: the batch size, the history span, taking ids, and
//! capitalising a name's first word.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

/// Rows per COPY: small enough for the progress bar to move, large enough to amortise.
pub(super) const BATCH: usize = 10_000;

/// Products and users are created over this span before the reference time.
pub(super) const HISTORY_DAYS: i64 = 365;

/// Takes `count` ids from `table`'s id sequence, ascending. COPY returns nothing, so rows
/// are sent with their ids; taking them from the sequence keeps later inserts (and a
/// concurrent writer) from colliding with them.
pub(super) fn reserve_ids(
    conn: &mut PgConnection,
    table: &str,
    count: usize,
) -> QueryResult<Vec<i32>> {
    #[derive(QueryableByName)]
    struct Reserved {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    let mut ids: Vec<i32> = diesel::sql_query(
        "SELECT nextval(pg_get_serial_sequence($1, 'id'))::int AS id FROM generate_series(1, $2)",
    )
    .bind::<Text, _>(table)
    .bind::<BigInt, _>(count as i64)
    .load::<Reserved>(conn)?
    .into_iter()
    .map(|reserved| reserved.id)
    .collect();
    ids.sort_unstable();
    Ok(ids)
}

pub(super) fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
