//! The catalogue's structure in the seed: the category tree, each product's categories
//! and images, and variant groups (runs of consecutive products: one style in several
//! sizes and colours). Planned with a random generator of its own, so the rest of the
//! seeded data is what it was before the catalogue had a structure.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, Text};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::shared::{capitalise, reserve_ids, BATCH, HISTORY_DAYS};
use super::tree::{slugify, TREE};
use super::words::{ADJECTIVES, MATERIALS, NOUNS};
use crate::domain::{OptionAxis, ProductImage};
use crate::models::{StoredAxes, StoredImages, StoredOptions};
use crate::schema::{categories, product_groups};

/// The structure's own random seed.
pub(super) const STRUCTURE_SEED: u64 = 0xCA7A_1065;

/// About one product in this many starts a variant group.
const PRODUCTS_PER_GROUP: usize = 250;
const SIZES: &[&str] = &["S", "M", "L", "XL"];
const COLOURS: &[&str] = &[
    "black",
    "white",
    "navy",
    "grey",
    "red",
    "forest green",
    "ochre",
    "sand",
];
const VIEWS: &[&str] = &["front view", "side view", "close-up of the detail"];

/// A category of the seeded tree, before it has an id.
struct Node {
    parent: Option<String>,
    name: &'static str,
    slug: String,
    position: i32,
}

/// Creates the category tree, or finds it from an earlier seed (by slug; a category an
/// admin has moved since stays where it is); returns the leaves' ids, in tree order, and
/// how many categories the tree has.
pub(super) fn insert_tree(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<i32>, usize)> {
    // The shop's categories are as old as its catalogue.
    let opened = now - TimeDelta::days(HISTORY_DAYS);
    // Level by level, each parent before its children.
    let mut levels: [Vec<Node>; 3] = Default::default();
    for (d, (department, sections)) in TREE.iter().enumerate() {
        let top = slugify(department);
        levels[0].push(Node {
            parent: None,
            name: department,
            slug: top.clone(),
            position: d as i32,
        });
        for (s, (section, leaves)) in sections.iter().enumerate() {
            let middle = format!("{top}-{}", slugify(section));
            levels[1].push(Node {
                parent: Some(top.clone()),
                name: section,
                slug: middle.clone(),
                position: s as i32,
            });
            for (l, leaf) in leaves.iter().enumerate() {
                levels[2].push(Node {
                    parent: Some(middle.clone()),
                    name: leaf,
                    slug: format!("{middle}-{}", slugify(leaf)),
                    position: l as i32,
                });
            }
        }
    }
    let mut ids: BTreeMap<String, i32> = BTreeMap::new();
    for level in &levels {
        let rows: Vec<_> = level
            .iter()
            .map(|node| {
                (
                    categories::parent_id.eq(node.parent.as_ref().map(|p| ids[p])),
                    categories::name.eq(node.name),
                    categories::slug.eq(&node.slug),
                    categories::position.eq(node.position),
                    categories::created_at.eq(opened),
                    categories::updated_at.eq(opened),
                )
            })
            .collect();
        diesel::insert_into(categories::table)
            .values(&rows)
            .on_conflict(categories::slug)
            .do_nothing()
            .execute(conn)?;
        let slugs: Vec<&String> = level.iter().map(|node| &node.slug).collect();
        let found: Vec<(String, i32)> = categories::table
            .filter(categories::slug.eq_any(slugs))
            .select((categories::slug, categories::id))
            .load(conn)?;
        ids.extend(found);
    }
    let leaves = levels[2].iter().map(|node| ids[&node.slug]).collect();
    Ok((leaves, ids.len()))
}

/// The style a variant group's products share, its option axes, and where its variants
/// are among the seeded products.
pub(super) struct GroupPlan {
    pub words: (&'static str, &'static str, &'static str),
    /// The price, in cents, its variants are added at.
    pub cents: i64,
    pub axes: Vec<OptionAxis>,
    /// How many products are its variants: consecutive ones, from the first created.
    pub variants: usize,
    pub created_at: DateTime<Utc>,
}

impl GroupPlan {
    pub fn name(&self) -> String {
        let (adjective, material, noun) = self.words;
        format!("{} {material} {noun}", capitalise(adjective))
    }
}

/// What files one product: its categories (ascending, distinct) and, for a variant, its
/// group (an index into the plan's groups) and its options.
pub(super) struct Filing {
    pub category_ids: Vec<i32>,
    pub variant: Option<(usize, BTreeMap<String, String>)>,
}

impl Filing {
    /// The options in the group's axis order, for the product's name: "M, navy".
    pub fn label(&self, groups: &[GroupPlan]) -> Option<String> {
        let (group, options) = self.variant.as_ref()?;
        Some(
            groups[*group]
                .axes
                .iter()
                .filter_map(|axis| options.get(&axis.name).map(String::as_str))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Files every product under one leaf (seven in ten) or two, and makes about one product
/// in [`PRODUCTS_PER_GROUP`] the first of a group of 2 to 6 variants (the following
/// products, filed where their first is), each with its own size and colour.
pub(super) fn plan(
    rng: &mut StdRng,
    created: &[DateTime<Utc>],
    leaves: &[i32],
) -> (Vec<GroupPlan>, Vec<Filing>) {
    let count = created.len();
    let mut filings: Vec<Filing> = (0..count)
        .map(|_| {
            let chosen = if leaves.is_empty() {
                Vec::new()
            } else if rng.gen_ratio(3, 10) && leaves.len() > 1 {
                leaves.choose_multiple(rng, 2).copied().collect()
            } else {
                leaves.choose(rng).copied().into_iter().collect()
            };
            Filing {
                category_ids: crate::repository::categories::normalise_ids(chosen),
                variant: None,
            }
        })
        .collect();
    let mut groups = Vec::new();
    if count < 2 {
        return (groups, filings);
    }
    // One group in each equal slot of the products, at a random place in it.
    let group_count = (count / PRODUCTS_PER_GROUP).max(1);
    let slot = count / group_count;
    for g in 0..group_count {
        let variants = rng.gen_range(2..=6).min(slot);
        let first = g * slot + rng.gen_range(0..=slot - variants);
        let pick = |rng: &mut StdRng, words: &[&'static str]| *words.choose(rng).unwrap_or(&"item");
        let words = (
            pick(rng, ADJECTIVES),
            pick(rng, MATERIALS),
            pick(rng, NOUNS),
        );
        let cents = rng.gen_range(199..=49_999);
        let colour_count = rng.gen_range(2..=3);
        let mut colours: Vec<&str> = COLOURS
            .choose_multiple(rng, colour_count)
            .copied()
            .collect();
        colours.sort_by_key(|colour| COLOURS.iter().position(|c| c == colour));
        let combinations = SIZES.len() * colours.len();
        let mut chosen = rand::seq::index::sample(rng, combinations, variants).into_vec();
        chosen.sort_unstable();
        let group = groups.len();
        for (n, combination) in chosen.into_iter().enumerate() {
            let options = BTreeMap::from([
                (
                    "size".to_owned(),
                    SIZES[combination % SIZES.len()].to_owned(),
                ),
                (
                    "colour".to_owned(),
                    colours[combination / SIZES.len()].to_owned(),
                ),
            ]);
            filings[first + n].variant = Some((group, options));
            if n > 0 {
                filings[first + n].category_ids = filings[first].category_ids.clone();
            }
        }
        groups.push(GroupPlan {
            words,
            cents,
            axes: vec![
                OptionAxis {
                    name: "size".into(),
                    values: SIZES.iter().map(|s| (*s).to_owned()).collect(),
                },
                OptionAxis {
                    name: "colour".into(),
                    values: colours.iter().map(|c| (*c).to_owned()).collect(),
                },
            ],
            variants,
            created_at: created[first],
        });
    }
    (groups, filings)
}

/// Inserts the planned groups; returns their ids, in plan order.
pub(super) fn insert_groups(
    conn: &mut PgConnection,
    groups: &[GroupPlan],
) -> QueryResult<Vec<i32>> {
    let ids = reserve_ids(conn, "product_groups", groups.len())?;
    let names: Vec<String> = groups.iter().map(GroupPlan::name).collect();
    let rows: Vec<_> = groups
        .iter()
        .zip(&ids)
        .zip(&names)
        .map(|((group, id), name)| {
            (
                product_groups::id.eq(id),
                product_groups::name.eq(name),
                product_groups::options.eq(StoredAxes(group.axes.clone())),
                product_groups::created_at.eq(group.created_at),
                product_groups::updated_at.eq(group.created_at),
            )
        })
        .collect();
    for chunk in rows.chunks(BATCH) {
        diesel::copy_from(product_groups::table)
            .from_insertable(chunk)
            .execute(conn)?;
    }
    Ok(ids)
}

/// A variant's options as stored.
pub(super) fn stored_options(options: &BTreeMap<String, String>) -> StoredOptions {
    StoredOptions(options.clone())
}

/// One to three pictures of the product, at stable URLs named after its id.
pub(super) fn images(rng: &mut StdRng, id: i32, name: &str) -> StoredImages {
    let count = rng.gen_range(1..=3);
    StoredImages(
        (0..count)
            .map(|n| ProductImage {
                url: format!("https://images.example.com/products/{id}-{}.jpg", n + 1),
                alt: format!("{name}, {}", VIEWS[n]),
                position: n as i32,
            })
            .collect(),
    )
}

/// Lists the products under their categories and every ancestor of them: what
/// `categories::refile` does for a few products, in one statement for all of them.
///
/// When the table does not already hold more rows than are coming, a bulk load, as
/// PostgreSQL's manual advises ("Populating a Database"): row by row, the table's foreign
/// key checks and index insertions cost about ten times the insert itself (about 11 s
/// for 100,000 products here, against 2.5 s this way), so its constraints and indexes are
/// taken off, the rows inserted, and they are put back as they were (read from the
/// catalogue, so the migrations stay their only definition): each index built in one
/// pass, each foreign key checked by one join. All in the seed's transaction, which then
/// holds the table (and, for the foreign keys, the tables they name) exclusively until
/// its commit. Returns how many rows it inserted.
pub(super) fn list_in_categories(
    conn: &mut PgConnection,
    product_ids: &[i32],
) -> QueryResult<usize> {
    use crate::schema::category_listings;
    use diesel::connection::SimpleConnection;
    let insert = |conn: &mut PgConnection| {
        diesel::sql_query(
            "INSERT INTO category_listings (category_id, product_id, created_at, price)
             WITH RECURSIVE up(category_id, ancestor) AS (
                 SELECT id, id FROM categories
                 UNION
                 SELECT up.category_id, c.parent_id FROM up JOIN categories c ON c.id = up.ancestor
                 WHERE c.parent_id IS NOT NULL)
             SELECT DISTINCT up.ancestor, p.id, p.created_at, p.price
             FROM unnest($1) AS seeded(id)
             JOIN products p ON p.id = seeded.id
             CROSS JOIN LATERAL unnest(p.category_ids) AS filed(category_id)
             JOIN up ON up.category_id = filed.category_id",
        )
        .bind::<Array<Integer>, _>(product_ids)
        .execute(conn)
    };
    // Most products are listed under three or four categories.
    let there: i64 = category_listings::table.count().get_result(conn)?;
    if there > 4 * product_ids.len() as i64 {
        return insert(conn);
    }
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        definition: String,
        #[diesel(sql_type = Nullable<Text>)]
        comment: Option<String>,
    }
    // The constraints (primary key and foreign keys), then the indexes of none of them.
    let constraints: Vec<Definition> = diesel::sql_query(
        "SELECT conname::text AS name, pg_get_constraintdef(oid) AS definition,
                obj_description(oid, 'pg_constraint') AS comment
         FROM pg_constraint WHERE conrelid = 'category_listings'::regclass AND contype IN ('p', 'u', 'f')
         ORDER BY contype DESC, conname",
    )
    .load(conn)?;
    let indexes: Vec<Definition> = diesel::sql_query(
        "SELECT c.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition,
                obj_description(i.indexrelid, 'pg_class') AS comment
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = 'category_listings'::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                           AND k.conrelid = i.indrelid)
         ORDER BY c.relname",
    )
    .load(conn)?;
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let mut off = String::new();
    for index in &indexes {
        off += &format!("DROP INDEX {};\n", quote(&index.name));
    }
    for constraint in constraints.iter().rev() {
        off += &format!(
            "ALTER TABLE category_listings DROP CONSTRAINT {};\n",
            quote(&constraint.name)
        );
    }
    conn.batch_execute(&off)?;
    let inserted = insert(conn)?;
    let mut on = String::new();
    for constraint in &constraints {
        on += &format!(
            "ALTER TABLE category_listings ADD CONSTRAINT {} {};\n",
            quote(&constraint.name),
            constraint.definition
        );
        if let Some(comment) = &constraint.comment {
            on += &format!(
                "COMMENT ON CONSTRAINT {} ON category_listings IS {};\n",
                quote(&constraint.name),
                literal(comment)
            );
        }
    }
    for index in &indexes {
        on += &format!("{};\n", index.definition);
        if let Some(comment) = &index.comment {
            on += &format!(
                "COMMENT ON INDEX {} IS {};\n",
                quote(&index.name),
                literal(comment)
            );
        }
    }
    conn.batch_execute(&on)?;
    Ok(inserted)
}
