//! Tax rates per destination country. A country without a rate is taxed at 0.

use bigdecimal::BigDecimal;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::models::TaxRateRow;
use crate::schema::tax_rates;

/// Every rate, by country.
pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<TaxRateRow>> {
    tax_rates::table
        .order(tax_rates::country)
        .select(TaxRateRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, country: &str) -> QueryResult<TaxRateRow> {
    tax_rates::table
        .find(country)
        .select(TaxRateRow::as_select())
        .first(conn)
}

/// The rate for `country`, a percentage; `None` without one.
pub fn rate_for(conn: &mut PgConnection, country: &str) -> QueryResult<Option<BigDecimal>> {
    tax_rates::table
        .find(country)
        .select(tax_rates::rate)
        .first(conn)
        .optional()
}

/// A new country's rate; a country that has one already is a unique violation
/// (`tax_rates_pkey`), which the edge answers with 409.
pub fn create(
    conn: &mut PgConnection,
    country: &str,
    rate: &BigDecimal,
) -> QueryResult<TaxRateRow> {
    diesel::insert_into(tax_rates::table)
        .values((tax_rates::country.eq(country), tax_rates::rate.eq(rate)))
        .returning(TaxRateRow::as_returning())
        .get_result(conn)
}

pub fn update(
    conn: &mut PgConnection,
    country: &str,
    rate: &BigDecimal,
) -> QueryResult<TaxRateRow> {
    diesel::update(tax_rates::table.find(country))
        .set(tax_rates::rate.eq(rate))
        .returning(TaxRateRow::as_returning())
        .get_result(conn)
}

/// `false` when the country had no rate.
pub fn delete(conn: &mut PgConnection, country: &str) -> QueryResult<bool> {
    diesel::delete(tax_rates::table.find(country))
        .execute(conn)
        .map(|deleted| deleted > 0)
}
