//! Queries on `users`.

use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::models::{NewUser, User, UserProfile};
use crate::schema::users;

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Inserts a user. A taken username or email fails with a unique violation on
/// `users_username_key` / `users_email_lower_key`, which the API maps to 409.
pub fn insert(conn: &mut PgConnection, new_user: &NewUser<'_>) -> QueryResult<UserProfile> {
    diesel::insert_into(users::table)
        .values(new_user)
        .returning(UserProfile::as_returning())
        .get_result(conn)
}

/// Which of `username` and `email` (compared as the unique index does, case-insensitively)
/// an existing user holds: to name every taken field after a unique violation, which
/// reports only the first constraint it hit.
pub fn taken_fields(
    conn: &mut PgConnection,
    username: &str,
    email: &str,
) -> QueryResult<(bool, bool)> {
    let holders: Vec<(String, String)> = users::table
        .filter(
            users::username
                .eq(username)
                .or(lower(users::email).eq(lower(email))),
        )
        .select((users::username, users::email))
        .load(conn)?;
    let email = email.to_lowercase();
    Ok((
        holders.iter().any(|(name, _)| name == username),
        holders.iter().any(|(_, held)| held.to_lowercase() == email),
    ))
}

pub fn find_profile(conn: &mut PgConnection, user_id: i32) -> QueryResult<UserProfile> {
    users::table
        .find(user_id)
        .select(UserProfile::as_select())
        .first(conn)
}

/// The account a login name refers to: a username (exact) or an email (any case).
/// Uses `users_username_key` and `users_email_lower_key`.
pub fn find_for_login(conn: &mut PgConnection, login: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(
            users::username
                .eq(login)
                .or(lower(users::email).eq(login.to_lowercase())),
        )
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Sets or clears the admin flag; `None` when no such user exists.
pub fn set_admin(
    conn: &mut PgConnection,
    username: &str,
    is_admin: bool,
) -> QueryResult<Option<UserProfile>> {
    diesel::update(users::table.filter(users::username.eq(username)))
        .set(users::is_admin.eq(is_admin))
        .returning(UserProfile::as_returning())
        .get_result(conn)
        .optional()
}
