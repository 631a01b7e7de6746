//! Shipping methods: how orders ship, where to, at what price. Staff manage them; anyone
//! may list those that ship to a country.

use bigdecimal::BigDecimal;
use diesel::dsl::exists;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::models::{NewShippingMethod, ShippingMethod, ShippingMethodChanges};
use crate::schema::{shipping_methods, tax_rates};

/// Every method, or those that ship to `country`, by id.
pub fn list(conn: &mut PgConnection, country: Option<&str>) -> QueryResult<Vec<ShippingMethod>> {
    let mut query = shipping_methods::table
        .order(shipping_methods::id)
        .select(ShippingMethod::as_select())
        .into_boxed();
    if let Some(country) = country {
        // `countries @> ARRAY[country]`, which the GIN index serves.
        query = query.filter(shipping_methods::countries.contains(vec![Some(country)]));
    }
    query.load(conn)
}

pub fn find(conn: &mut PgConnection, id: i32) -> QueryResult<ShippingMethod> {
    shipping_methods::table
        .find(id)
        .select(ShippingMethod::as_select())
        .first(conn)
}

/// A method and the tax rate of `country` (`None` without one), in one query; `None`
/// when there is no such method.
pub fn find_with_rate(
    conn: &mut PgConnection,
    id: i32,
    country: &str,
) -> QueryResult<Option<(ShippingMethod, Option<BigDecimal>)>> {
    let rate = tax_rates::table
        .filter(tax_rates::country.eq(country.to_owned()))
        .select(tax_rates::rate)
        .single_value();
    shipping_methods::table
        .find(id)
        .select((ShippingMethod::as_select(), rate))
        .first(conn)
        .optional()
}

/// Whether the shop has any shipping method: with none, checkout needs none.
pub fn any_exist(conn: &mut PgConnection) -> QueryResult<bool> {
    diesel::select(exists(shipping_methods::table.select(shipping_methods::id))).get_result(conn)
}

pub fn create(conn: &mut PgConnection, new: &NewShippingMethod<'_>) -> QueryResult<ShippingMethod> {
    diesel::insert_into(shipping_methods::table)
        .values(new)
        .returning(ShippingMethod::as_returning())
        .get_result(conn)
}

/// Changes the fields `changes` names (none: only `updated_at` moves).
pub fn update(
    conn: &mut PgConnection,
    id: i32,
    changes: &ShippingMethodChanges,
) -> QueryResult<ShippingMethod> {
    let target = shipping_methods::table.find(id);
    if changes.name.is_none()
        && changes.price.is_none()
        && changes.countries.is_none()
        && changes.free_over.is_none()
    {
        return diesel::update(target)
            .set(shipping_methods::updated_at.eq(diesel::dsl::now))
            .returning(ShippingMethod::as_returning())
            .get_result(conn);
    }
    diesel::update(target)
        .set(changes)
        .returning(ShippingMethod::as_returning())
        .get_result(conn)
}

/// Deletes a method; orders shipped with it keep its name and what they paid. `false`
/// when there was none.
pub fn delete(conn: &mut PgConnection, id: i32) -> QueryResult<bool> {
    diesel::delete(shipping_methods::table.find(id))
        .execute(conn)
        .map(|deleted| deleted > 0)
}
