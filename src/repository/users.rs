//! Queries on `users`.

use diesel::pg::PgConnection;
use diesel::prelude::*;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::constraints::TakenField;
use super::ShopError;
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

/// Registers a user. A taken username or email is `AlreadyTaken`, naming every taken
/// field: the insert's unique violation reports only the constraint PostgreSQL hit first,
/// so the holders are looked up after it (checking first and inserting after would race).
pub fn register(conn: &mut PgConnection, new_user: &NewUser<'_>) -> Result<UserProfile, ShopError> {
    match insert(conn, new_user) {
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            let (name_taken, email_taken) = taken_fields(conn, new_user.username, new_user.email)?;
            let taken: Vec<TakenField> = [
                name_taken.then_some(TakenField::Username),
                email_taken.then_some(TakenField::Email),
            ]
            .into_iter()
            .flatten()
            .collect();
            Err(if taken.is_empty() {
                // The holder is gone already: report what PostgreSQL said.
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info).into()
            } else {
                ShopError::AlreadyTaken(taken)
            })
        }
        result => Ok(result?),
    }
}

/// Which of `username` and `email` (compared as the unique index does, case-insensitively)
/// an existing user holds: to name every taken field after a unique violation, which
/// reports only the first constraint it hit.
fn taken_fields(conn: &mut PgConnection, username: &str, email: &str) -> QueryResult<(bool, bool)> {
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

/// Renames a user; `NotFound` when no such user exists.
pub fn set_name(conn: &mut PgConnection, user_id: i32, name: &str) -> QueryResult<UserProfile> {
    diesel::update(users::table.find(user_id))
        .set(users::name.eq(name))
        .returning(UserProfile::as_returning())
        .get_result(conn)
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
