//! `storefront seed`: a realistic, reproducible data set for demos and benchmarks.
//!
//! Product names and descriptions are made of real words, so full-text search means
//! something; prices have cents; about one product in ten is out of stock. Products and
//! users appear over the past year (ids grow with creation time, as in a live shop), so
//! `sort=newest` has a real order to follow. About two users in five have past orders
//! (checked-out carts with frozen prices) and about a third an open cart. The price and
//! stock ledger tells the same story: about three products in ten had their price changed
//! (orders froze the price in force when they were placed), some were restocked or
//! written down, and every order line is a `checkout` movement by its buyer, so each
//! product's movements sum to its inventory_count. The catalogue has a structure: a
//! category tree of 8 departments, 54 sections and 281 leaves (made once, found again by
//! slug when seeding again), every product filed under one leaf or two (listed under
//! their ancestors too, in category_listings), one to three images each, and about one
//! product in 250 starting a variant group of 2 to 6 (sizes and colours of one style).
//! The same arguments and reference time on an empty database give the same rows (fixed
//! random seeds). Rows go in with binary COPY, their ids reserved from the tables'
//! sequences first, so 100,000 products take about 14 s (most of it PostgreSQL computing
//! the search vectors and filling the GIN index and the one-word search terms), and 2 to
//! 4 s more for their structure (most of it the categories' listings: a bulk load of
//! about 390,000 rows, see `structure::list_in_categories`).

mod shared;
mod structure;
mod tree;
mod words;

use bigdecimal::BigDecimal;
use bigdecimal::ToPrimitive;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use self::words::{ADJECTIVES, MATERIALS, NOUNS, QUALITIES, USES};

use crate::models::{CartStatus, PaymentStatus, StockReason};
use crate::repository::ledger;
use crate::schema::{cart_items, carts, orders, price_changes, products, stock_movements, users};

use self::shared::{capitalise, reserve_ids, BATCH, HISTORY_DAYS};
use self::structure::GroupPlan;

/// Every seeded user's password (they share one argon2 hash, computed once).
pub const SEED_PASSWORD: &str = "storefront-demo";

const MICROS_PER_DAY: i64 = 24 * 3_600 * 1_000_000;
/// Past orders were checked out within this span.
const ORDER_DAYS: i64 = 180;
/// Open carts were started within this span.
const OPEN_CART_DAYS: i64 = 14;

/// What a seed run inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub users: usize,
    pub products: usize,
    /// Open carts (at most one per user).
    pub carts: usize,
    /// Checked-out carts: past orders with frozen unit prices.
    pub orders: usize,
    /// Lines of carts and orders together.
    pub cart_items: usize,
    /// Rows of the price history.
    pub price_changes: usize,
    /// Rows of the stock ledger (opening balances, adjustments, checkouts).
    pub stock_movements: usize,
    /// Categories in the seeded tree (made by this run or found from an earlier one).
    pub categories: usize,
    /// Rows of category_listings for the seeded products: one per category each is
    /// listed under (its own and their ancestors).
    pub category_listings: usize,
    /// Variant groups, and the products that are their variants.
    pub product_groups: usize,
    pub variants: usize,
}

/// Inserts `user_count` users and `product_count` products (with carts and orders), all in
/// one transaction, with timestamps in the year before now. `password_hash` is the hash
/// every seeded user gets.
pub fn seed(
    conn: &mut PgConnection,
    user_count: usize,
    product_count: usize,
    password_hash: &str,
) -> QueryResult<SeedReport> {
    seed_as_of(conn, Utc::now(), user_count, product_count, password_hash)
}

/// [`seed`] with the reference time given, so two runs can produce identical rows,
/// timestamps included.
pub fn seed_as_of(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    user_count: usize,
    product_count: usize,
    password_hash: &str,
) -> QueryResult<SeedReport> {
    let mut rng = StdRng::seed_from_u64(0x5EED);
    // PostgreSQL keeps microseconds; computing in them means what is stored is exactly
    // what was computed (and ordered).
    let now = now.trunc_subsecs(6);
    let progress = progress_bar((user_count + product_count) as u64);
    conn.transaction(|conn| {
        let (leaves, categories) = structure::insert_tree(conn, now)?;
        let (products, groups) =
            insert_products(conn, &mut rng, now, product_count, &leaves, &progress)?;
        let users = insert_users(conn, &mut rng, now, user_count, password_hash, &progress)?;
        let plans = plan_carts(&mut rng, now, &users, &products);
        let (carts, orders, cart_items, cart_ids) = insert_carts(conn, &plans, &products)?;
        let price_changes = insert_price_changes(conn, &products)?;
        let stock_movements =
            insert_stock_movements(conn, &mut rng, now, &products, &plans, &cart_ids)?;
        // Last: it holds category_listings (and the tables it refers to) exclusively
        // until the commit.
        let ids: Vec<i32> = products.iter().map(|product| product.id).collect();
        let category_listings = structure::list_in_categories(conn, &ids)?;
        progress.finish_and_clear();
        Ok(SeedReport {
            users: users.len(),
            products: products.len(),
            carts,
            orders,
            cart_items,
            price_changes,
            stock_movements,
            categories,
            category_listings,
            product_groups: groups.len(),
            variants: groups.iter().map(|group| group.variants).sum(),
        })
    })
}

/// After a bulk load: merge the GIN index's pending list and refresh planner statistics,
/// so the first searches use the index at full speed (a fresh GIN pending list made a
/// common-word search ~15 ms slower here). Cannot run inside a transaction.
pub fn refresh_statistics(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    // The ledger too: lowest_price_30d reads price_changes by an index-only scan, which
    // needs the visibility map VACUUM sets.
    conn.batch_execute(
        "VACUUM ANALYZE products, users, carts, cart_items, price_changes, stock_movements, \
         categories, category_listings, product_groups",
    )
}

/// A progress bar on a terminal; nothing when output is redirected.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)") {
        bar.set_style(style);
    }
    bar
}

/// `count` distinct instants in the `days` before `now`, oldest first: one at a random
/// point of each of `count` equal slots, so they never collide and rows inserted in this
/// order get ids that grow with their creation time.
fn spread_over(
    rng: &mut StdRng,
    now: DateTime<Utc>,
    days: i64,
    count: usize,
) -> Vec<DateTime<Utc>> {
    let span = days * MICROS_PER_DAY;
    let slot = (span / count.max(1) as i64).max(1);
    (0..count as i64)
        .map(|i| now - TimeDelta::microseconds(span - (i + 1) * slot + rng.gen_range(0..slot)))
        .collect()
}

/// A random instant in `[from, to)`; `None` when that is empty.
fn between(rng: &mut StdRng, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let span = (to - from).num_seconds();
    (span > 0).then(|| from + TimeDelta::seconds(rng.gen_range(0..span)))
}

struct ProductRow {
    name: String,
    description: String,
    price: BigDecimal,
    inventory_count: i32,
}

/// A product's name, description, price and stock. A variant is named after its group
/// (its style's words and its options) and has its price; its own are drawn all the
/// same, so every other product is what it would be without groups.
fn product_row(rng: &mut StdRng, id: i32, variant: Option<(&GroupPlan, String)>) -> ProductRow {
    let pick = |rng: &mut StdRng, words: &[&'static str]| *words.choose(rng).unwrap_or(&"item");
    let drawn = (
        pick(rng, ADJECTIVES),
        pick(rng, MATERIALS),
        pick(rng, NOUNS),
    );
    let (adjective, material, noun) = variant.as_ref().map_or(drawn, |(group, _)| group.words);
    // The id in the name keeps names unique and easy to find again.
    let name = match &variant {
        None => format!("{} {material} {noun} no. {id}", capitalise(adjective)),
        Some((_, label)) => format!(
            "{} {material} {noun} ({label}) no. {id}",
            capitalise(adjective)
        ),
    };
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
    let drawn_cents: i64 = rng.gen_range(199..=49_999);
    // A style costs the same in every size and colour (until its prices change).
    let cents = variant
        .as_ref()
        .map_or(drawn_cents, |(group, _)| group.cents);
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

/// A seeded product, as later steps need it.
struct SeededProduct {
    id: i32,
    created_at: DateTime<Utc>,
    /// The current price: the new price of the last change, if any.
    price: BigDecimal,
    inventory_count: i32,
    /// Its price changes, oldest first: (when, old price, new price).
    price_changes: Vec<(DateTime<Utc>, BigDecimal, BigDecimal)>,
}

impl SeededProduct {
    /// The price in force at `at`: the old price of the first change after it, or the
    /// current price.
    fn price_at(&self, at: DateTime<Utc>) -> &BigDecimal {
        self.price_changes
            .iter()
            .find(|(when, _, _)| *when > at)
            .map_or(&self.price, |(_, old, _)| old)
    }
}

/// Inserts the products, filed under the `leaves` given, with their images, and their
/// variant groups; returns them oldest first, and the groups.
fn insert_products(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    now: DateTime<Utc>,
    count: usize,
    leaves: &[i32],
    progress: &ProgressBar,
) -> QueryResult<(Vec<SeededProduct>, Vec<GroupPlan>)> {
    let ids = reserve_ids(conn, "products", count)?;
    let created = spread_over(rng, now, HISTORY_DAYS, count);
    let mut shape = StdRng::seed_from_u64(structure::STRUCTURE_SEED);
    let (groups, filings) = structure::plan(&mut shape, &created, leaves);
    let group_ids = structure::insert_groups(conn, &groups)?;
    let mut seeded = Vec::with_capacity(count);
    for ((ids, times), filings) in ids
        .chunks(BATCH)
        .zip(created.chunks(BATCH))
        .zip(filings.chunks(BATCH))
    {
        let rows: Vec<ProductRow> = ids
            .iter()
            .zip(filings)
            .map(|(id, filing)| {
                let variant = filing.variant.as_ref().zip(filing.label(&groups));
                product_row(
                    rng,
                    *id,
                    variant.map(|((group, _), label)| (&groups[*group], label)),
                )
            })
            .collect();
        let structures: Vec<_> = rows
            .iter()
            .zip(ids)
            .zip(filings)
            .map(|((row, id), filing)| {
                let variant = filing.variant.as_ref();
                (
                    structure::images(&mut shape, *id, &row.name),
                    variant.map(|(group, _)| group_ids[*group]),
                    variant.map(|(_, options)| structure::stored_options(options)),
                )
            })
            .collect();
        let batch: Vec<SeededProduct> = rows
            .iter()
            .zip(ids.iter().zip(times))
            .map(|(row, (id, created_at))| SeededProduct {
                id: *id,
                created_at: *created_at,
                price: row.price.clone(),
                inventory_count: row.inventory_count,
                price_changes: price_history(rng, now, *created_at, &row.price),
            })
            .collect();
        let values: Vec<_> = rows
            .iter()
            .zip(&batch)
            .zip(filings.iter().zip(&structures))
            .map(|((row, product), (filing, (images, group_id, options)))| {
                // A price change is a change to the row, as the service's PATCH makes it.
                let price_changed_at = product.price_changes.last().map(|(at, _, _)| *at);
                // What a price change keeps beside the price.
                let low = ledger::kept_low_price(
                    product.price_changes.iter().map(|(at, old, _)| (*at, old)),
                    now,
                );
                (
                    products::id.eq(product.id),
                    products::name.eq(&row.name),
                    products::description.eq(Some(&row.description)),
                    products::price.eq(&row.price),
                    products::inventory_count.eq(row.inventory_count),
                    products::created_at.eq(product.created_at),
                    products::updated_at.eq(price_changed_at.unwrap_or(product.created_at)),
                    products::price_changed_at.eq(price_changed_at),
                    products::low_price.eq(low.map(|(price, _)| price)),
                    products::low_price_until.eq(low.map(|(_, until)| until)),
                    products::category_ids.eq(&filing.category_ids),
                    products::images.eq(images),
                    products::group_id.eq(group_id),
                    products::options.eq(options),
                )
            })
            .collect();
        diesel::copy_from(products::table)
            .from_insertable(&values)
            .execute(conn)?;
        seeded.extend(batch);
        progress.inc(times.len() as u64);
    }
    Ok((seeded, groups))
}

/// Inserts the users; returns (id, created_at) oldest first.
fn insert_users(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    now: DateTime<Utc>,
    count: usize,
    password_hash: &str,
    progress: &ProgressBar,
) -> QueryResult<Vec<(i32, DateTime<Utc>)>> {
    let ids = reserve_ids(conn, "users", count)?;
    let created = spread_over(rng, now, HISTORY_DAYS, count);
    let mut seeded = Vec::with_capacity(count);
    for (ids, times) in ids.chunks(BATCH).zip(created.chunks(BATCH)) {
        // Named after their ids, so seeding again continues rather than colliding.
        let names: Vec<(String, String)> = ids
            .iter()
            .map(|id| (format!("shopper{id}"), format!("shopper{id}@example.com")))
            .collect();
        let values: Vec<_> = names
            .iter()
            .zip(ids.iter().zip(times))
            .map(|((username, email), (id, created_at))| {
                (
                    users::id.eq(id),
                    users::username.eq(username),
                    users::email.eq(email),
                    users::password_hash.eq(password_hash),
                    users::created_at.eq(created_at),
                    users::updated_at.eq(created_at),
                )
            })
            .collect();
        diesel::copy_from(users::table)
            .from_insertable(&values)
            .execute(conn)?;
        seeded.extend(ids.iter().copied().zip(times.iter().copied()));
        progress.inc(times.len() as u64);
    }
    Ok(seeded)
}

/// One cart to insert: an order when `checked_out_at` is set, else the user's open cart.
struct CartPlan {
    user_id: i32,
    created_at: DateTime<Utc>,
    checked_out_at: Option<DateTime<Utc>>,
    idempotency_key: Option<String>,
    /// (index into the products, quantity)
    lines: Vec<(usize, i32)>,
}

/// Past orders for about two users in five (1 to 3 each, in the last six months) and an
/// open cart, started after the user's last order, for about a third; 1 to 4 distinct
/// products per cart, each created before the cart was. Sorted by creation time, so cart
/// ids grow with it.
fn plan_carts(
    rng: &mut StdRng,
    now: DateTime<Utc>,
    users: &[(i32, DateTime<Utc>)],
    products: &[SeededProduct],
) -> Vec<CartPlan> {
    let mut plans = Vec::new();
    if products.is_empty() {
        return plans;
    }
    let order_window = now - TimeDelta::days(ORDER_DAYS);
    let open_window = now - TimeDelta::days(OPEN_CART_DAYS);
    let pick_lines = |rng: &mut StdRng, created_at: DateTime<Utc>| {
        // Products are oldest first, so those that existed by then are a prefix.
        let available = products.partition_point(|p| p.created_at <= created_at);
        let count = rng.gen_range(1..=4).min(available);
        rand::seq::index::sample(rng, available, count)
            .into_iter()
            .map(|index| (index, rng.gen_range(1..=3)))
            .collect::<Vec<_>>()
    };
    for &(user_id, registered) in users {
        let mut last_order = registered;
        if rng.gen_ratio(2, 5) {
            let orders = rng.gen_range(1..=3);
            for n in 0..orders {
                let Some(checked_out_at) = between(rng, registered.max(order_window), now) else {
                    break;
                };
                // Shopping took between ten minutes and two days, not before registering.
                let started = checked_out_at - TimeDelta::minutes(rng.gen_range(10..=2_880));
                let created_at = started.max(registered);
                let lines = pick_lines(rng, created_at);
                if lines.is_empty() {
                    continue;
                }
                last_order = last_order.max(checked_out_at);
                plans.push(CartPlan {
                    user_id,
                    created_at,
                    checked_out_at: Some(checked_out_at),
                    // Half the orders came from clients that sent an Idempotency-Key;
                    // unique per user, as carts_user_id_idempotency_key_idx requires.
                    idempotency_key: rng.gen_bool(0.5).then(|| format!("seed-{user_id}-{n}")),
                    lines,
                });
            }
        }
        if rng.gen_ratio(1, 3) {
            let Some(created_at) = between(rng, last_order.max(open_window), now) else {
                continue;
            };
            let lines = pick_lines(rng, created_at);
            if !lines.is_empty() {
                plans.push(CartPlan {
                    user_id,
                    created_at,
                    checked_out_at: None,
                    idempotency_key: None,
                    lines,
                });
            }
        }
    }
    plans.sort_by_key(|plan| plan.created_at);
    plans
}

/// Inserts the planned carts and their lines; returns (open carts, orders, lines, the
/// carts' ids in plan order). Order lines carry the price in force when the order was
/// placed, frozen as checkout would have done.
fn insert_carts(
    conn: &mut PgConnection,
    plans: &[CartPlan],
    products: &[SeededProduct],
) -> QueryResult<(usize, usize, usize, Vec<i32>)> {
    let cart_ids = reserve_ids(conn, "carts", plans.len())?;
    for (chunk, ids) in plans.chunks(BATCH).zip(cart_ids.chunks(BATCH)) {
        let values: Vec<_> = chunk
            .iter()
            .zip(ids)
            .map(|(plan, id)| {
                let status = match plan.checked_out_at {
                    Some(_) => CartStatus::CheckedOut,
                    None => CartStatus::Open,
                };
                (
                    carts::id.eq(id),
                    carts::user_id.eq(plan.user_id),
                    carts::status.eq(status),
                    carts::checked_out_at.eq(plan.checked_out_at),
                    carts::idempotency_key.eq(plan.idempotency_key.as_deref()),
                    carts::created_at.eq(plan.created_at),
                    carts::updated_at.eq(plan.checked_out_at.unwrap_or(plan.created_at)),
                )
            })
            .collect();
        diesel::copy_from(carts::table)
            .from_insertable(&values)
            .execute(conn)?;
    }
    let items: Vec<_> = plans
        .iter()
        .zip(&cart_ids)
        .flat_map(|(plan, cart_id)| {
            plan.lines.iter().map(move |&(index, quantity)| {
                let product = &products[index];
                (
                    cart_items::cart_id.eq(*cart_id),
                    cart_items::product_id.eq(product.id),
                    cart_items::quantity.eq(quantity),
                    cart_items::unit_price.eq(plan.checked_out_at.map(|at| product.price_at(at))),
                )
            })
        })
        .collect();
    for chunk in items.chunks(BATCH) {
        diesel::copy_from(cart_items::table)
            .from_insertable(chunk)
            .execute(conn)?;
    }
    // Every seeded order was paid (outside the service, as orders from before payments
    // were); none is shipped yet, so staff have a queue to work through. Like the orders
    // from before checkout totals, they charged their lines: no shipping, no tax.
    let order_rows: Vec<_> = plans
        .iter()
        .zip(&cart_ids)
        .filter_map(|(plan, id)| {
            let at = plan.checked_out_at?;
            let total: BigDecimal = plan
                .lines
                .iter()
                .map(|&(index, quantity)| products[index].price_at(at) * BigDecimal::from(quantity))
                .sum();
            Some((
                orders::id.eq(*id),
                orders::payment_status.eq(PaymentStatus::Paid),
                orders::created_at.eq(at),
                orders::updated_at.eq(at),
                orders::subtotal.eq(total.clone()),
                orders::total.eq(total),
            ))
        })
        .collect();
    for chunk in order_rows.chunks(BATCH) {
        diesel::copy_from(orders::table)
            .from_insertable(chunk)
            .execute(conn)?;
    }
    let orders = order_rows.len();
    Ok((plans.len() - orders, orders, items.len(), cart_ids))
}

/// Past price changes for about three products in ten: one to three, at random times
/// since the product was added, each 5 to 25 % up or down from the price before it, the
/// last one arriving at the product's current price. Oldest first.
fn price_history(
    rng: &mut StdRng,
    now: DateTime<Utc>,
    created_at: DateTime<Utc>,
    price: &BigDecimal,
) -> Vec<(DateTime<Utc>, BigDecimal, BigDecimal)> {
    if !rng.gen_ratio(3, 10) {
        return Vec::new();
    }
    let count = rng.gen_range(1..=3);
    let mut times: Vec<DateTime<Utc>> = (0..count)
        .filter_map(|_| between(rng, created_at, now))
        .collect();
    times.sort_unstable();
    // Back from the current price: each change's old price is the one before it.
    let mut later = price.clone();
    let mut changes = Vec::with_capacity(times.len());
    for at in times.into_iter().rev() {
        let earlier = earlier_price(rng, &later);
        changes.push((at, earlier.clone(), later));
        later = earlier;
    }
    changes.reverse();
    changes
}

/// A price 5 to 25 % above or below `later` (at least a cent away, never below 1.00).
fn earlier_price(rng: &mut StdRng, later: &BigDecimal) -> BigDecimal {
    let cents = (later * BigDecimal::from(100))
        .with_scale(0)
        .to_i64()
        .unwrap_or(100);
    let step = (cents * rng.gen_range(5..=25) / 100).max(1);
    let earlier = if rng.gen_bool(0.5) || cents - step < 100 {
        cents + step
    } else {
        cents - step
    };
    BigDecimal::new(earlier.into(), 2)
}

/// Inserts the planned price changes (by no known user: the seed has no admin); returns
/// how many.
fn insert_price_changes(conn: &mut PgConnection, products: &[SeededProduct]) -> QueryResult<usize> {
    let rows: Vec<_> = products
        .iter()
        .flat_map(|product| {
            product.price_changes.iter().map(move |(at, old, new)| {
                (
                    price_changes::product_id.eq(product.id),
                    price_changes::old_price.eq(old),
                    price_changes::new_price.eq(new),
                    price_changes::at.eq(*at),
                )
            })
        })
        .collect();
    for chunk in rows.chunks(BATCH) {
        diesel::copy_from(price_changes::table)
            .from_insertable(chunk)
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// One movement of a seeded product's stock, before its running count is known.
struct Movement {
    at: DateTime<Utc>,
    delta: i64,
    reason: StockReason,
    /// (order id, buyer) of a checkout.
    order: Option<(i32, i32)>,
}

/// The stock ledger of every product, consistent with its orders and its current count:
/// an opening balance when it was added (`created`), for about one in three a restock or
/// two (`adjustment`, +10 to +200) and for one in ten a write-down (-1 to -5), and a
/// `checkout` movement per order line by its buyer. The opening balance is what makes
/// the deltas sum to the current count; when that would need a negative opening, or the
/// count would dip below zero on the way, the product gets no adjustments. Returns how
/// many movements.
fn insert_stock_movements(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    now: DateTime<Utc>,
    products: &[SeededProduct],
    plans: &[CartPlan],
    cart_ids: &[i32],
) -> QueryResult<usize> {
    let mut checkouts: Vec<Vec<Movement>> = products.iter().map(|_| Vec::new()).collect();
    for (plan, cart_id) in plans.iter().zip(cart_ids) {
        let Some(at) = plan.checked_out_at else {
            continue;
        };
        for &(index, quantity) in &plan.lines {
            checkouts[index].push(Movement {
                at,
                delta: -i64::from(quantity),
                reason: StockReason::Checkout,
                order: Some((*cart_id, plan.user_id)),
            });
        }
    }
    let mut rows = Vec::new();
    for (product, checkouts) in products.iter().zip(checkouts) {
        let mut adjustments = Vec::new();
        if rng.gen_ratio(1, 3) {
            for _ in 0..rng.gen_range(1..=2) {
                if let Some(at) = between(rng, product.created_at, now) {
                    adjustments.push((at, rng.gen_range(10..=200)));
                }
            }
        }
        if rng.gen_ratio(1, 10) {
            if let Some(at) = between(rng, product.created_at, now) {
                adjustments.push((at, -rng.gen_range(1..=5)));
            }
        }
        let movements = stock_story(product, checkouts, adjustments);
        let mut count = 0i64;
        for movement in movements {
            count += movement.delta;
            rows.push((
                stock_movements::product_id.eq(product.id),
                stock_movements::delta.eq(i32::try_from(movement.delta).unwrap_or_default()),
                stock_movements::resulting_count.eq(i32::try_from(count).unwrap_or_default()),
                stock_movements::reason.eq(movement.reason),
                stock_movements::order_id.eq(movement.order.map(|(order, _)| order)),
                stock_movements::by_user_id.eq(movement.order.map(|(_, buyer)| buyer)),
                stock_movements::at.eq(movement.at),
            ));
        }
    }
    for chunk in rows.chunks(BATCH) {
        diesel::copy_from(stock_movements::table)
            .from_insertable(chunk)
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// A product's movements in time order, opening balance first, summing to its current
/// count and never leaving the count below zero.
fn stock_story(
    product: &SeededProduct,
    mut checkouts: Vec<Movement>,
    adjustments: Vec<(DateTime<Utc>, i64)>,
) -> Vec<Movement> {
    let sold: i64 = checkouts.iter().map(|m| m.delta).sum();
    let adjusted: i64 = adjustments.iter().map(|(_, delta)| delta).sum();
    let current = i64::from(product.inventory_count);
    let opening_with = current - sold - adjusted;
    let mut with_adjustments: Vec<Movement> = adjustments
        .into_iter()
        .map(|(at, delta)| Movement {
            at,
            delta,
            reason: StockReason::Adjustment,
            order: None,
        })
        .collect();
    with_adjustments.append(&mut checkouts);
    with_adjustments.sort_by_key(|m| m.at);
    let stays_in_stock = opening_with >= 0
        && with_adjustments
            .iter()
            .scan(opening_with, |count, m| {
                *count += m.delta;
                Some(*count)
            })
            .all(|count| count >= 0);
    let (opening, rest) = if stays_in_stock {
        (opening_with, with_adjustments)
    } else {
        // Without adjustments the count only falls, from current + sold to current.
        let rest: Vec<Movement> = with_adjustments
            .into_iter()
            .filter(|m| m.reason == StockReason::Checkout)
            .collect();
        (current - sold, rest)
    };
    let mut story = Vec::with_capacity(rest.len() + 1);
    story.push(Movement {
        at: product.created_at,
        delta: opening,
        reason: StockReason::Created,
        order: None,
    });
    story.extend(rest);
    story
}
