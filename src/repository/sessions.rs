//! Queries on `sessions`. Tokens are looked up by their SHA-256; expired rows never
//! authenticate, whether or not a sweep has deleted them yet.

use diesel::dsl::now;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::models::{NewSession, Session, UserProfile};
use crate::schema::{sessions, users};

pub fn insert(conn: &mut PgConnection, new_session: &NewSession<'_>) -> QueryResult<Session> {
    diesel::insert_into(sessions::table)
        .values(new_session)
        .returning(Session::as_returning())
        .get_result(conn)
}

/// The user holding an unexpired session with this token hash: one indexed join.
pub fn find_user(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<Option<UserProfile>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::expires_at.gt(now))
        .select(UserProfile::as_select())
        .first(conn)
        .optional()
}

/// Revokes one session; returns whether it existed.
pub fn delete(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<bool> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash)))
        .execute(conn)
        .map(|deleted| deleted > 0)
}

/// Deletes one user's expired sessions (done at each login, so the table does not grow
/// with dead tokens); returns how many.
pub fn delete_expired_for(conn: &mut PgConnection, user_id: i32) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.le(now)),
    )
    .execute(conn)
}

/// Deletes sessions that have expired; returns how many.
pub fn delete_expired(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
}
