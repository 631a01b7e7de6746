//! Variant groups: a group's option axes, and the checks that keep every live variant's
//! options admitted by its group's axes. A variant names its group; creating or moving
//! one locks the group row shared, changing a group's axes locks it exclusively, so the
//! check and the change it guards cannot interleave.

use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::ShopError;
use crate::domain::{OptionAxes, VariantOptions};
use crate::models::{NewProductGroup, ProductGroup, ProductGroupChanges, StoredOptions};
use crate::schema::{product_groups, products};

pub fn insert(conn: &mut PgConnection, new: &NewProductGroup<'_>) -> QueryResult<ProductGroup> {
    diesel::insert_into(product_groups::table)
        .values(new)
        .returning(ProductGroup::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: i32) -> QueryResult<ProductGroup> {
    product_groups::table
        .find(id)
        .select(ProductGroup::as_select())
        .first(conn)
}

/// Groups by id, after `after`, up to `limit` rows.
pub fn page(
    conn: &mut PgConnection,
    after: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<ProductGroup>> {
    product_groups::table
        .filter(product_groups::id.gt(after.unwrap_or(0)))
        .order(product_groups::id)
        .limit(limit)
        .select(ProductGroup::as_select())
        .load(conn)
}

/// Changes a group. New axes must still admit every live variant's options
/// (`InvalidState` naming none of them otherwise: the detail says what to do).
pub fn update(
    conn: &mut PgConnection,
    id: i32,
    changes: &ProductGroupChanges,
) -> Result<ProductGroup, ShopError> {
    conn.transaction(|conn| {
        let group = product_groups::table
            .find(id)
            .select(ProductGroup::as_select())
            .for_update()
            .first(conn)
            .map_err(ShopError::from_not_found)?;
        if changes.is_empty() {
            return Ok(group);
        }
        if let Some(axes) = &changes.options {
            let axes = OptionAxes::from_stored(axes.0.clone());
            let live: Vec<Option<StoredOptions>> = products::table
                .filter(products::group_id.eq(id))
                .filter(products::archived_at.is_null())
                .select(products::options)
                .load(conn)?;
            let orphaned = live.into_iter().flatten().any(|options| {
                axes.admits(&VariantOptions::from_stored(options.0)).is_err()
            });
            if orphaned {
                return Err(ShopError::InvalidState(
                    "a live variant of the group has options the new ones do not admit: change or archive it first",
                ));
            }
        }
        Ok(diesel::update(product_groups::table.find(id))
            .set(changes)
            .returning(ProductGroup::as_returning())
            .get_result(conn)?)
    })
}

/// Deletes a group without live variants (`InvalidState` otherwise); its archived
/// variants leave it.
pub fn delete(conn: &mut PgConnection, id: i32) -> Result<(), ShopError> {
    conn.transaction(|conn| {
        product_groups::table
            .find(id)
            .select(product_groups::id)
            .for_update()
            .first::<i32>(conn)
            .map_err(ShopError::from_not_found)?;
        let live: i64 = products::table
            .filter(products::group_id.eq(id))
            .filter(products::archived_at.is_null())
            .count()
            .get_result(conn)?;
        if live > 0 {
            return Err(ShopError::InvalidState(
                "the group has live variants: archive them or move them out first",
            ));
        }
        diesel::update(products::table.filter(products::group_id.eq(id)))
            .set((
                products::group_id.eq(None::<i32>),
                products::options.eq(None::<StoredOptions>),
            ))
            .execute(conn)?;
        diesel::delete(product_groups::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Before a product joins `group_id` with `options`: the group exists (locked shared
/// until the transaction ends) and its axes admit the options; `Invalid` naming
/// `group_id` or `options` otherwise.
pub fn admit_variant(
    conn: &mut PgConnection,
    group_id: i32,
    options: &VariantOptions,
) -> Result<(), ShopError> {
    let group = product_groups::table
        .find(group_id)
        .select(ProductGroup::as_select())
        .for_share()
        .first(conn)
        .optional()?;
    let Some(group) = group else {
        return Err(ShopError::Invalid(vec![(
            "group_id",
            format!("there is no product group {group_id}"),
        )]));
    };
    OptionAxes::from_stored(group.options.0)
        .admits(options)
        .map_err(|message| ShopError::Invalid(vec![("options", message)]))
}
