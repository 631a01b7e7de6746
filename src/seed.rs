//! `storefront seed`: a realistic, reproducible data set for demos and benchmarks.
//!
//! Product names and descriptions are made of real words, so full-text search means
//! something; prices have cents; about one product in ten is out of stock; about a third
//! of the users have an open cart with a few items. The same arguments on an empty
//! database give the same rows (a fixed random seed). Rows go in with multi-row INSERTs
//! of a few thousand rows each, so 100,000 products take seconds.

use bigdecimal::BigDecimal;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::models::{NewCartItem, NewProduct, NewUser};
use crate::schema::{cart_items, carts, products, users};

/// Every seeded user's password (they share one argon2 hash, computed once).
pub const SEED_PASSWORD: &str = "storefront-demo";

/// Rows per INSERT: well under PostgreSQL's 65,535 bind parameters.
const BATCH: usize = 5_000;

const ADJECTIVES: &[&str] = &[
    "classic",
    "compact",
    "rustic",
    "modern",
    "vintage",
    "elegant",
    "sturdy",
    "lightweight",
    "handmade",
    "organic",
    "waterproof",
    "ergonomic",
    "portable",
    "premium",
    "minimalist",
    "colourful",
    "cozy",
    "durable",
    "foldable",
    "wireless",
];
const MATERIALS: &[&str] = &[
    "ceramic",
    "oak",
    "bamboo",
    "steel",
    "copper",
    "linen",
    "wool",
    "leather",
    "glass",
    "cotton",
    "walnut",
    "porcelain",
    "cast-iron",
    "silicone",
    "marble",
];
const NOUNS: &[&str] = &[
    "teapot",
    "kettle",
    "mug",
    "lamp",
    "chair",
    "backpack",
    "blanket",
    "notebook",
    "skillet",
    "vase",
    "cutting board",
    "candle",
    "headphones",
    "umbrella",
    "scarf",
    "wallet",
    "bowl",
    "clock",
    "pillow",
    "jacket",
    "bicycle bell",
    "water bottle",
    "desk organizer",
    "plant pot",
    "coffee grinder",
];
const USES: &[&str] = &[
    "for everyday use",
    "for the kitchen",
    "for travel",
    "for the office",
    "for gifting",
    "for the garden",
    "for camping trips",
    "for small apartments",
    "for coffee lovers",
    "for reading nooks",
];
const QUALITIES: &[&str] = &[
    "Built to last for years.",
    "Easy to clean and dishwasher safe.",
    "Designed in a small studio.",
    "Ships in recyclable packaging.",
    "Backed by a two-year warranty.",
    "A customer favourite.",
    "Pairs well with the rest of the collection.",
    "Made from responsibly sourced materials.",
];

/// What a seed run inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub users: usize,
    pub products: usize,
    pub carts: usize,
    pub cart_items: usize,
}

/// Inserts `user_count` users and `product_count` products (and carts), all in one
/// transaction. `password_hash` is the hash every seeded user gets.
pub fn seed(
    conn: &mut PgConnection,
    user_count: usize,
    product_count: usize,
    password_hash: &str,
) -> QueryResult<SeedReport> {
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let progress = progress_bar((user_count + product_count) as u64);
    conn.transaction(|conn| {
        let product_ids = insert_products(conn, &mut rng, product_count, &progress)?;
        let user_ids = insert_users(conn, user_count, password_hash, &progress)?;
        let (carts, cart_items) = insert_carts(conn, &mut rng, &user_ids, &product_ids)?;
        progress.finish_and_clear();
        Ok(SeedReport {
            users: user_ids.len(),
            products: product_ids.len(),
            carts,
            cart_items,
        })
    })
}

/// After a bulk load: merge the GIN index's pending list and refresh planner statistics,
/// so the first searches use the index at full speed (a fresh GIN pending list made a
/// common-word search ~15 ms slower here). Cannot run inside a transaction.
pub fn refresh_statistics(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("VACUUM ANALYZE products, users, carts, cart_items")
}

/// A progress bar on a terminal; nothing when output is redirected.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)") {
        bar.set_style(style);
    }
    bar
}

struct ProductRow {
    name: String,
    description: String,
    price: BigDecimal,
    inventory_count: i32,
}

fn product_row(rng: &mut StdRng, n: usize) -> ProductRow {
    let pick = |rng: &mut StdRng, words: &[&'static str]| *words.choose(rng).unwrap_or(&"item");
    let (adjective, material, noun) = (
        pick(rng, ADJECTIVES),
        pick(rng, MATERIALS),
        pick(rng, NOUNS),
    );
    let name = format!("{} {material} {noun} no. {n}", capitalise(adjective));
    let description = format!(
        "{} {adjective} {noun} made of {material}, {}. {} {}",
        if adjective.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "An"
        } else {
            "A"
        },
        pick(rng, USES),
        pick(rng, QUALITIES),
        pick(rng, QUALITIES)
    );
    let cents: i64 = rng.gen_range(199..=49_999);
    let inventory_count = if rng.gen_ratio(1, 10) {
        0
    } else {
        rng.gen_range(1..=500)
    };
    ProductRow {
        name,
        description,
        price: BigDecimal::new(cents.into(), 2),
        inventory_count,
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn insert_products(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    count: usize,
    progress: &ProgressBar,
) -> QueryResult<Vec<i32>> {
    let mut ids = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let rows: Vec<ProductRow> = (next..count.min(next + BATCH))
            .map(|n| product_row(rng, n + 1))
            .collect();
        let new_products: Vec<NewProduct<'_>> = rows
            .iter()
            .map(|row| NewProduct {
                name: &row.name,
                description: Some(&row.description),
                price: &row.price,
                inventory_count: row.inventory_count,
            })
            .collect();
        ids.extend(
            diesel::insert_into(products::table)
                .values(&new_products)
                .returning(products::id)
                .get_results::<i32>(conn)?,
        );
        next += rows.len();
        progress.inc(rows.len() as u64);
    }
    Ok(ids)
}

fn insert_users(
    conn: &mut PgConnection,
    count: usize,
    password_hash: &str,
    progress: &ProgressBar,
) -> QueryResult<Vec<i32>> {
    // Continue numbering after existing users, so seeding twice does not collide.
    let first: i32 = users::table
        .select(diesel::dsl::max(users::id))
        .first::<Option<i32>>(conn)?
        .unwrap_or(0)
        + 1;
    let mut ids = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let names: Vec<(String, String)> = (next..count.min(next + BATCH))
            .map(|n| {
                let username = format!("shopper{}", first as usize + n);
                let email = format!("{username}@example.com");
                (username, email)
            })
            .collect();
        let new_users: Vec<NewUser<'_>> = names
            .iter()
            .map(|(username, email)| NewUser {
                username,
                email,
                password_hash,
            })
            .collect();
        ids.extend(
            diesel::insert_into(users::table)
                .values(&new_users)
                .returning(users::id)
                .get_results::<i32>(conn)?,
        );
        next += names.len();
        progress.inc(names.len() as u64);
    }
    Ok(ids)
}

/// Open carts for about a third of the users, with 1 to 4 distinct products each.
fn insert_carts(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    user_ids: &[i32],
    product_ids: &[i32],
) -> QueryResult<(usize, usize)> {
    if product_ids.is_empty() {
        return Ok((0, 0));
    }
    let shoppers: Vec<i32> = user_ids
        .iter()
        .copied()
        .filter(|_| rng.gen_ratio(1, 3))
        .collect();
    let mut cart_ids = Vec::with_capacity(shoppers.len());
    for chunk in shoppers.chunks(BATCH) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|user_id| carts::user_id.eq(*user_id))
            .collect();
        cart_ids.extend(
            diesel::insert_into(carts::table)
                .values(&rows)
                .returning(carts::id)
                .get_results::<i32>(conn)?,
        );
    }
    let items: Vec<NewCartItem> = cart_ids
        .iter()
        .flat_map(|cart_id| {
            let lines = rng.gen_range(1..=4).min(product_ids.len());
            product_ids
                .choose_multiple(rng, lines)
                .map(|product_id| NewCartItem {
                    cart_id: *cart_id,
                    product_id: *product_id,
                    quantity: rng.gen_range(1..=3),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for chunk in items.chunks(BATCH) {
        diesel::insert_into(cart_items::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok((cart_ids.len(), items.len()))
}
