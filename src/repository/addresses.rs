//! A customer's address book. Every query is scoped to its owner, so another user's
//! address is simply not found. At most one address is the default
//! (`addresses_one_default_per_user`); making one the default unsets the others in the
//! same transaction, under the owner's row lock, so two concurrent changes queue.

use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::ShopError;
use crate::domain::Address;
use crate::models::{AddressChanges, NewAddress, SavedAddress};
use crate::schema::{addresses, users};

/// Most addresses one customer may keep: an address book, not a mailing list.
pub const MAX_PER_USER: i64 = 50;

/// The user's addresses, oldest first.
pub fn list(conn: &mut PgConnection, user_id: i32) -> QueryResult<Vec<SavedAddress>> {
    addresses::table
        .filter(addresses::user_id.eq(user_id))
        .order(addresses::id)
        .select(SavedAddress::as_select())
        .load(conn)
}

/// One of the user's addresses; `NotFound` for anybody else's.
pub fn find(conn: &mut PgConnection, user_id: i32, id: i32) -> QueryResult<SavedAddress> {
    addresses::table
        .filter(addresses::user_id.eq(user_id))
        .filter(addresses::id.eq(id))
        .select(SavedAddress::as_select())
        .first(conn)
}

/// Saves an address. The first one a user saves is the default whatever `is_default`
/// says (a front end then always has one to preselect). `AddressBookFull` past
/// [`MAX_PER_USER`].
pub fn create(
    conn: &mut PgConnection,
    user_id: i32,
    address: &Address,
    is_default: bool,
) -> Result<SavedAddress, ShopError> {
    conn.transaction(|conn| {
        lock_owner(conn, user_id)?;
        let count: i64 = addresses::table
            .filter(addresses::user_id.eq(user_id))
            .count()
            .get_result(conn)?;
        if count >= MAX_PER_USER {
            return Err(ShopError::Invalid(vec![(
                "body",
                format!("an address book holds at most {MAX_PER_USER} addresses; delete one first"),
            )]));
        }
        let is_default = is_default || count == 0;
        if is_default {
            clear_default(conn, user_id)?;
        }
        Ok(diesel::insert_into(addresses::table)
            .values(NewAddress {
                user_id,
                name: &address.name,
                line1: &address.line1,
                line2: address.line2.as_deref(),
                city: &address.city,
                postal_code: address.postal_code.as_deref(),
                region: address.region.as_deref(),
                country: address.country.as_str(),
                phone: address.phone.as_deref(),
                is_default,
            })
            .returning(SavedAddress::as_returning())
            .get_result(conn)?)
    })
}

/// Changes the fields `changes` names; `make_default` makes it the default (`false` does
/// not unset it: a default is replaced by choosing another). `NotFound` for anybody
/// else's address.
pub fn update(
    conn: &mut PgConnection,
    user_id: i32,
    id: i32,
    changes: &AddressChanges,
    make_default: bool,
) -> Result<SavedAddress, ShopError> {
    conn.transaction(|conn| {
        lock_owner(conn, user_id)?;
        let existing = find(conn, user_id, id).map_err(ShopError::from_not_found)?;
        if make_default && !existing.is_default {
            clear_default(conn, user_id)?;
            diesel::update(addresses::table.find(id))
                .set(addresses::is_default.eq(true))
                .execute(conn)?;
        }
        let target = addresses::table.find(id);
        let updated = if changes.is_empty() {
            // Touch, so updated_at says something was asked (and the row comes back).
            diesel::update(target)
                .set(addresses::updated_at.eq(diesel::dsl::now))
                .returning(SavedAddress::as_returning())
                .get_result(conn)?
        } else {
            diesel::update(target)
                .set(changes)
                .returning(SavedAddress::as_returning())
                .get_result(conn)?
        };
        Ok(updated)
    })
}

/// Deletes one of the user's addresses. Orders keep their own copy, so nothing else
/// changes; deleting the default leaves the user without one.
pub fn delete(conn: &mut PgConnection, user_id: i32, id: i32) -> Result<(), ShopError> {
    let deleted = diesel::delete(
        addresses::table
            .filter(addresses::user_id.eq(user_id))
            .filter(addresses::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(ShopError::NotFound);
    }
    Ok(())
}

/// Serialises address-book changes of one user (the count limit and the one default).
fn lock_owner(conn: &mut PgConnection, user_id: i32) -> Result<(), ShopError> {
    users::table
        .find(user_id)
        .select(users::id)
        .for_no_key_update()
        .first::<i32>(conn)
        .map_err(ShopError::from_not_found)?;
    Ok(())
}

fn clear_default(conn: &mut PgConnection, user_id: i32) -> QueryResult<usize> {
    diesel::update(
        addresses::table
            .filter(addresses::user_id.eq(user_id))
            .filter(addresses::is_default),
    )
    .set(addresses::is_default.eq(false))
    .execute(conn)
}

impl AddressChanges {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.line1.is_none()
            && self.line2.is_none()
            && self.city.is_none()
            && self.postal_code.is_none()
            && self.region.is_none()
            && self.country.is_none()
            && self.phone.is_none()
    }
}
