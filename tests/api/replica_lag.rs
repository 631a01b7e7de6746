//! The replica's staleness bound (DESIGN §6): an anonymous reader never sees the catalogue
//! as it was more than `DB_REPLICA_MAX_LAG_MS` ago, however the replica falls behind. Over
//! a real streaming replica (tests/common/streaming.rs), held back deterministically:
//! replay paused on the replica, or the primary's WAL writer stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use storefront::config::ReplicaConfig;

use crate::common::streaming::{StreamingPair, WalWriterStall};
use crate::common::{database_config, TestApp, TestDb};
use crate::helpers::Customer;

/// Small, so the tests are quick; the budgets below are many times it.
const MAX_LAG: Duration = Duration::from_millis(500);
/// How long a test waits for what must happen within about `MAX_LAG`: generous, for a
/// busy machine; an instance that keeps serving a stale replica never gets there.
const BUDGET: Duration = Duration::from_secs(20);

/// An instance whose primary and replica are `pair`'s.
fn instance_over(pair: &StreamingPair, max_lag: Duration) -> TestApp {
    TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.database = database_config(pair.primary_url());
        config.replica = Some(ReplicaConfig {
            url: pair.replica_url(),
            connection_timeout: Duration::from_secs(1),
            max_lag,
        });
    })
}

async fn admin(app: &TestApp, pair: &StreamingPair) -> Customer {
    let customer = app.customer("staff").await;
    storefront::repository::users::set_admin(&mut pair.primary(), "staff", true)
        .expect("promote")
        .expect("user exists");
    customer
}

async fn replica_health(app: &TestApp) -> String {
    let body: Value = app.get("/health/ready").await.json().await.unwrap();
    body["replica"].as_str().unwrap().to_owned()
}

async fn catalogue_reads(app: &TestApp, pool: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("db_catalogue_reads_total{{pool=\"{pool}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |n| n.parse().unwrap())
}

/// The product's name as an anonymous reader sees it (None while it is a 404).
async fn anonymous_name(app: &TestApp, path: &str) -> Option<String> {
    let response = app.get(path).await;
    if response.status() != StatusCode::OK {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    Some(body["name"].as_str().unwrap().to_owned())
}

/// Polls `check` until it holds or `BUDGET` is spent; whether it held.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + BUDGET;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The instance with a product the replica has, reads served by the replica: the path of
/// the product, and its admin.
async fn caught_up_with_a_product(app: &TestApp, pair: &StreamingPair) -> (String, Customer) {
    assert!(
        eventually(|| async { replica_health(app).await == "up" }).await,
        "the replica becomes up"
    );
    let admin = admin(app, pair).await;
    let product = app.product(&admin, "Teapot", "", "19.99", 3).await;
    let path = format!("/api/v1/products/{}", product["id"]);
    let before = catalogue_reads(app, "replica").await;
    assert!(
        eventually(|| async {
            anonymous_name(app, &path).await.as_deref() == Some("Teapot")
                && catalogue_reads(app, "replica").await > before
        })
        .await,
        "the replica serves the new product"
    );
    (path, admin)
}

async fn rename(app: &TestApp, path: &str, admin: &Customer, name: &str) {
    let response = app
        .patch_json(path, &json!({ "name": name }), Some(&admin.token))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "rename to {name}");
}

/// Once the replica has caught up, anonymous reads go back to it and see the write.
/// ("up" alone does not promise the write: only that the replica is within max_lag.)
async fn back_on_the_replica(app: &TestApp, path: &str, name: &str) {
    assert!(
        eventually(|| async {
            let before = catalogue_reads(app, "replica").await;
            anonymous_name(app, path).await.as_deref() == Some(name)
                && catalogue_reads(app, "replica").await > before
        })
        .await,
        "the replica serves the write once it has caught up (replica {})",
        replica_health(app).await
    );
}

#[tokio::test]
async fn a_replica_that_stops_replaying_serves_nothing_older_than_max_lag() {
    let Some(pair) = StreamingPair::start() else {
        return;
    };
    let app = instance_over(&pair, MAX_LAG);
    let (path, admin) = caught_up_with_a_product(&app, &pair).await;

    pair.pause_replay();
    rename(&app, &path, &admin, "Kettle").await;
    // The replica still says "Teapot" and will until replay resumes; within about MAX_LAG
    // the instance must stop trusting it and read from the primary.
    assert!(
        eventually(|| async {
            anonymous_name(&app, &path).await.as_deref() == Some("Kettle")
                && replica_health(&app).await == "lagging"
        })
        .await,
        "while replay is paused, an anonymous reader sees the rename and the replica is lagging"
    );
    let on_primary = catalogue_reads(&app, "primary").await;
    assert_eq!(anonymous_name(&app, &path).await.as_deref(), Some("Kettle"));
    assert_eq!(catalogue_reads(&app, "primary").await, on_primary + 1);

    pair.resume_replay();
    back_on_the_replica(&app, &path, "Kettle").await;
}

#[tokio::test]
async fn a_commit_whose_wal_the_replica_has_not_received_is_read_from_the_primary() {
    let Some(pair) = StreamingPair::start() else {
        return;
    };
    let app = instance_over(&pair, MAX_LAG);
    let (path, admin) = caught_up_with_a_product(&app, &pair).await;

    // Asynchronous commits on a machine too busy to run the WAL writer: the rename is
    // visible on the primary at once, but its WAL stays in the primary's buffers, so the
    // replica has replayed all the primary has written and still says "Teapot".
    let stall = WalWriterStall::start(&pair);
    rename(&app, &path, &admin, "Kettle").await;
    assert!(
        eventually(|| async {
            anonymous_name(&app, &path).await.as_deref() == Some("Kettle")
                && replica_health(&app).await == "lagging"
        })
        .await,
        "while its WAL is unwritten, an anonymous reader sees the rename and the replica is lagging"
    );

    drop(stall);
    back_on_the_replica(&app, &path, "Kettle").await;
}

/// Not a check: measures the staleness window an anonymous reader sees (a rename through
/// the API, then anonymous reads until they show it) and, for comparison, the replica's
/// own (an UPDATE on the primary, then SELECTs on the replica until they show it), with
/// `MEASURE_WRITERS` threads writing to the primary meanwhile to make the machine busy.
///   cargo test --locked --test api measure_the_staleness_window -- --ignored --nocapture
/// (MEASURE_MAX_LAG_MS=1000 MEASURE_ROUNDS=100 MEASURE_WRITERS=0)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_the_staleness_window() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    let setting = |name: &str, default: u64| {
        std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
    };
    let max_lag = Duration::from_millis(setting("MEASURE_MAX_LAG_MS", 1000));
    let rounds = setting("MEASURE_ROUNDS", 100);
    let writers = setting("MEASURE_WRITERS", 0);
    let Some(pair) = StreamingPair::start() else {
        return;
    };
    let app = instance_over(&pair, max_lag);
    let (path, admin) = caught_up_with_a_product(&app, &pair).await;
    let id: i32 = path.rsplit('/').next().unwrap().parse().unwrap();

    pair.primary()
        .batch_execute("CREATE TABLE load (id bigserial PRIMARY KEY, body text)")
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..writers)
        .map(|_| {
            let (stop, mut conn) = (stop.clone(), pair.primary());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    conn.batch_execute("INSERT INTO load (body) SELECT repeat('x', 200) FROM generate_series(1, 20)")
                        .unwrap();
                }
            })
        })
        .collect();

    let summary = |label: &str, mut ms: Vec<f64>| {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        let over = ms
            .iter()
            .filter(|&&m| m > max_lag.as_secs_f64() * 1e3)
            .count();
        println!(
            "{label}: n={} median {:.1} ms, p90 {:.1}, p99 {:.1}, max {:.1}; over max_lag ({} ms): {over}",
            ms.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0),
            max_lag.as_millis()
        );
    };

    let mut reader = Vec::new();
    for round in 0..rounds {
        let name = format!("Teapot {round}");
        rename(&app, &path, &admin, &name).await;
        let written = Instant::now();
        while anonymous_name(&app, &path).await.as_deref() != Some(name.as_str()) {}
        reader.push(written.elapsed().as_secs_f64() * 1e3);
    }
    let (primary_reads, replica_reads) = (
        catalogue_reads(&app, "primary").await,
        catalogue_reads(&app, "replica").await,
    );

    let (mut primary, mut replica) = (pair.primary(), pair.replica());
    let mut raw = Vec::new();
    for round in 0..rounds {
        let name = format!("Raw {round}");
        diesel::sql_query("UPDATE products SET name = $1 WHERE id = $2")
            .bind::<diesel::sql_types::Text, _>(&name)
            .bind::<diesel::sql_types::Integer, _>(id)
            .execute(&mut primary)
            .unwrap();
        let written = Instant::now();
        loop {
            let seen: String = diesel::sql_query("SELECT name FROM products WHERE id = $1")
                .bind::<diesel::sql_types::Integer, _>(id)
                .get_result::<NameRow>(&mut replica)
                .unwrap()
                .name;
            if seen == name {
                break;
            }
        }
        raw.push(written.elapsed().as_secs_f64() * 1e3);
    }
    stop.store(true, Ordering::Relaxed);
    for writer in load {
        writer.join().unwrap();
    }
    println!(
        "writers: {writers}; catalogue reads: primary {primary_reads}, replica {replica_reads}"
    );
    summary("anonymous reader through the instance", reader);
    summary("replica itself (SQL)", raw);

    #[derive(QueryableByName)]
    struct NameRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
}
