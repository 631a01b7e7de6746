//! The category tree and the filing of products under it.
//!
//! A product names its own categories (`products.category_ids`); `category_listings`
//! holds one row per category it is listed under (its own and all their ancestors) with
//! its sort keys, rewritten by [`refile`] whenever its categories or the tree above them
//! change. Changes to the tree's shape (a move, a delete) hold an exclusive transaction
//! advisory lock and filing a product a shared one, so a move and a filing never see
//! each other half done, and two moves are checked for cycles one after the other.

use diesel::dsl::{exists, max};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer};

use super::ShopError;
use crate::models::{Category, CategoryChanges, NewCategory};
use crate::schema::{categories, category_listings};

/// Advisory lock key of the category tree's shape.
const TREE_LOCK: i64 = 0x5354_4f52_4354_5245; // "STORCTRE"

/// The whole tree: parents before their children, siblings by position, then name.
pub fn tree(conn: &mut PgConnection) -> QueryResult<Vec<Category>> {
    let rows = categories::table
        .select(Category::as_select())
        .order((categories::position, categories::name, categories::id))
        .load(conn)?;
    Ok(depth_first(rows))
}

/// Orders `rows` (already in sibling order) depth first from the top-level categories.
fn depth_first(rows: Vec<Category>) -> Vec<Category> {
    let mut children: std::collections::HashMap<Option<i32>, Vec<&Category>> =
        std::collections::HashMap::new();
    for row in &rows {
        children.entry(row.parent_id).or_default().push(row);
    }
    let mut ordered = Vec::with_capacity(rows.len());
    let mut stack: Vec<&Category> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .copied()
        .collect();
    while let Some(node) = stack.pop() {
        ordered.push(node.clone());
        if let Some(kids) = children.get(&Some(node.id)) {
            stack.extend(kids.iter().rev().copied());
        }
    }
    ordered
}

pub fn find(conn: &mut PgConnection, id: i32) -> QueryResult<Category> {
    categories::table
        .find(id)
        .select(Category::as_select())
        .first(conn)
}

pub fn find_by_slug(conn: &mut PgConnection, slug: &str) -> QueryResult<Category> {
    categories::table
        .filter(categories::slug.eq(slug))
        .select(Category::as_select())
        .first(conn)
}

/// Adds a category. `position` None: after its last sibling. Unknown parent: `Invalid`.
pub fn insert(
    conn: &mut PgConnection,
    parent_id: Option<i32>,
    name: &str,
    slug: &str,
    position: Option<i32>,
) -> Result<Category, ShopError> {
    conn.transaction(|conn| {
        if let Some(parent) = parent_id {
            // Shared: a delete of the parent waits, and then sees its new child.
            lock_tree_shared(conn)?;
            require_parent(conn, parent)?;
        }
        let position = match position {
            Some(position) => position,
            None => next_position(conn, parent_id)?,
        };
        Ok(diesel::insert_into(categories::table)
            .values(&NewCategory {
                parent_id,
                name,
                slug,
                position,
            })
            .returning(Category::as_returning())
            .get_result(conn)?)
    })
}

fn next_position(conn: &mut PgConnection, parent_id: Option<i32>) -> QueryResult<i32> {
    let last: Option<i32> = categories::table
        .filter(categories::parent_id.is_not_distinct_from(parent_id))
        .select(max(categories::position))
        .first(conn)?;
    Ok(last.map_or(0, |p| p.saturating_add(1).min(crate::domain::MAX_POSITION)))
}

/// The parent named in a request, locked against deletion until the transaction ends.
fn require_parent(conn: &mut PgConnection, parent: i32) -> Result<(), ShopError> {
    let found = categories::table
        .find(parent)
        .select(categories::id)
        .for_key_share()
        .first::<i32>(conn)
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(ShopError::Invalid(vec![(
            "parent_id",
            format!("there is no category {parent}"),
        )])),
    }
}

/// Changes a category. A new parent that is the category itself or below it is
/// `InvalidState` (the tree would have a cycle); moving refiles the products below it.
pub fn update(
    conn: &mut PgConnection,
    id: i32,
    changes: &CategoryChanges,
) -> Result<Category, ShopError> {
    if changes.is_empty() {
        return find(conn, id).map_err(ShopError::from_not_found);
    }
    conn.transaction(|conn| {
        let moves = changes.parent_id.is_some();
        if moves {
            lock_tree(conn)?;
        }
        let before = categories::table
            .find(id)
            .select(Category::as_select())
            .for_no_key_update()
            .first(conn)
            .map_err(ShopError::from_not_found)?;
        if let Some(Some(parent)) = changes.parent_id {
            require_parent(conn, parent)?;
            if parent == id || is_below(conn, parent, id)? {
                return Err(ShopError::InvalidState(
                    "a category cannot move under itself or one of its descendants",
                ));
            }
        }
        let after: Category = diesel::update(categories::table.find(id))
            .set(changes)
            .returning(Category::as_returning())
            .get_result(conn)?;
        if after.parent_id != before.parent_id {
            let below = products_below(conn, id)?;
            refile(conn, &below)?;
        }
        Ok(after)
    })
}

/// Deletes a category that has no subcategories (`InvalidState` otherwise); its
/// products leave it (and are refiled), their other categories stay.
pub fn delete(conn: &mut PgConnection, id: i32) -> Result<(), ShopError> {
    conn.transaction(|conn| {
        lock_tree(conn)?;
        let has_children: bool = diesel::select(exists(
            categories::table.filter(categories::parent_id.eq(id)),
        ))
        .get_result(conn)?;
        if has_children {
            return Err(ShopError::InvalidState(
                "the category has subcategories: move or delete them first",
            ));
        }
        let filed = products_below(conn, id)?;
        diesel::sql_query(
            "UPDATE products SET category_ids = array_remove(category_ids, $1) WHERE id = ANY($2)",
        )
        .bind::<Integer, _>(id)
        .bind::<Array<Integer>, _>(&filed)
        .execute(conn)?;
        refile(conn, &filed)?;
        let deleted = diesel::delete(categories::table.find(id)).execute(conn)?;
        if deleted == 0 {
            return Err(ShopError::NotFound);
        }
        Ok(())
    })
}

/// Whether `node` is below `ancestor` (walking up from `node`).
fn is_below(conn: &mut PgConnection, node: i32, ancestor: i32) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    // UNION, not UNION ALL: the walk ends even on a tree that somehow had a cycle.
    let row: Found = diesel::sql_query(
        "WITH RECURSIVE up(id, parent_id) AS (
             SELECT id, parent_id FROM categories WHERE id = $1
             UNION
             SELECT c.id, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id)
         SELECT EXISTS (SELECT 1 FROM up WHERE id = $2) AS found",
    )
    .bind::<Integer, _>(node)
    .bind::<Integer, _>(ancestor)
    .get_result(conn)?;
    Ok(row.found)
}

/// Products listed under the category (filed in it or below it).
fn products_below(conn: &mut PgConnection, id: i32) -> QueryResult<Vec<i32>> {
    category_listings::table
        .filter(category_listings::category_id.eq(id))
        .select(category_listings::product_id)
        .order(category_listings::product_id)
        .load(conn)
}

/// Takes the tree's lock for a change of its shape, until the transaction ends.
fn lock_tree(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(TREE_LOCK)
        .execute(conn)
        .map(drop)
}

/// Takes the tree's lock shared (for a filing or a new child), until the transaction
/// ends.
fn lock_tree_shared(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind::<diesel::sql_types::BigInt, _>(TREE_LOCK)
        .execute(conn)
        .map(drop)
}

/// Before filing products: waits out any change of the tree's shape, and checks that
/// every category exists (locked against deletion until the transaction ends). Missing
/// ones: `Invalid` on `category_ids`.
pub fn prepare_filing(conn: &mut PgConnection, category_ids: &[i32]) -> Result<(), ShopError> {
    if category_ids.is_empty() {
        return Ok(());
    }
    lock_tree_shared(conn)?;
    let found: Vec<i32> = categories::table
        .filter(categories::id.eq_any(category_ids))
        .select(categories::id)
        .for_key_share()
        .load(conn)?;
    let missing: Vec<String> = category_ids
        .iter()
        .filter(|id| !found.contains(id))
        .map(i32::to_string)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ShopError::Invalid(vec![(
            "category_ids",
            format!("there is no category {}", missing.join(", ")),
        )]))
    }
}

/// Rewrites the `category_listings` rows of these products from their `category_ids`
/// and the tree as it stands: one row per category each is filed in and every ancestor.
pub fn refile(conn: &mut PgConnection, product_ids: &[i32]) -> QueryResult<()> {
    if product_ids.is_empty() {
        return Ok(());
    }
    // The products are locked first (in id order, as checkout locks them): a price
    // change in flight commits before the rows below copy its price, or waits for them
    // and then updates them by trigger.
    crate::schema::products::table
        .filter(crate::schema::products::id.eq_any(product_ids))
        .order(crate::schema::products::id)
        .select(crate::schema::products::id)
        .for_key_share()
        .load::<i32>(conn)?;
    diesel::delete(
        category_listings::table.filter(category_listings::product_id.eq_any(product_ids)),
    )
    .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO category_listings (category_id, product_id, created_at, price)
         WITH RECURSIVE filed(category_id, product_id) AS (
             SELECT c, p.id FROM products p CROSS JOIN LATERAL unnest(p.category_ids) c
             WHERE p.id = ANY($1)
             UNION
             SELECT cat.parent_id, f.product_id
             FROM filed f JOIN categories cat ON cat.id = f.category_id
             WHERE cat.parent_id IS NOT NULL)
         SELECT f.category_id, p.id, p.created_at, p.price
         FROM filed f JOIN products p ON p.id = f.product_id",
    )
    .bind::<Array<Integer>, _>(product_ids)
    .execute(conn)
    .map(drop)
}

/// Normalises a list of category ids: ascending, each once.
pub fn normalise_ids(mut ids: Vec<i32>) -> Vec<i32> {
    ids.sort_unstable();
    ids.dedup();
    ids
}
