//! Order changes racing each other (DESIGN.md §9): cancels of one order, a cancel and a
//! checkout of the stock it gives back, a cancel and the payment deadline on several
//! instances, a cancel and a shipment. Each race ends in one outcome, the stock ledger
//! balanced, and PostgreSQL never having had to break a deadlock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer};
use futures_util::future::join_all;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{eventually, shoppers_with_one_unit, until_waiting_on_locks, Customer};
use crate::ledger::assert_ledger_balanced;
use crate::orders::{expected_releases, is_cancelled, mark_paid, parcel, releases, Release};

/// An instance for races: two workers, a pool with room for every racer, waiting long
/// enough for all of them to queue behind one row; `window` as its payment window.
fn race_instance(db: Arc<TestDb>, window: Option<Duration>) -> TestApp {
    TestApp::spawn_configured(db, |config| {
        config.http.workers = 2;
        config.database.pool_max_size = 12;
        config.database.pool_connection_timeout = Duration::from_secs(30);
        config.order_payment_window = window;
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deadlocks PostgreSQL has counted in `db` so far, as its statistics stand.
fn deadlocks(db: &TestDb) -> i64 {
    diesel::sql_query(
        "SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()",
    )
    .get_result::<Count>(&mut db.connect())
    .unwrap()
    .n
}

/// [`deadlocks`] once every connection open now has reported its own: a backend reports
/// when idle (at most once a second) or at exit, so they are ended first. The instances
/// reconnect as they need (the expiry job does at once), so this waits for those
/// connections to end, not for none to be left.
fn deadlocks_reported(db: &TestDb) -> i64 {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let mut conn = db.connect();
    let pids: Vec<i32> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load::<Pid>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|row| row.pid)
    .collect();
    diesel::sql_query("SELECT count(pg_terminate_backend(pid)) AS n FROM unnest($1) AS pid")
        .bind::<Array<Integer>, _>(&pids)
        .get_result::<Count>(&mut conn)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while diesel::sql_query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1)")
        .bind::<Array<Integer>, _>(&pids)
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
        > 0
    {
        assert!(Instant::now() < deadline, "the connections never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    deadlocks(db)
}

/// Holds `FOR UPDATE` locks on `table` rows `ids` until committed, so requests queue.
fn gate(db: &TestDb, table: &str, ids: &[&Value]) -> PgConnection {
    let mut conn = db.connect();
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    conn.batch_execute(&format!(
        "BEGIN; SELECT 1 FROM {table} WHERE id IN ({}) FOR UPDATE",
        ids.join(", ")
    ))
    .unwrap();
    conn
}

/// Sends `request` from a task of its own.
fn send(request: RequestBuilder) -> tokio::task::JoinHandle<Response> {
    tokio::spawn(async move { request.send().await.expect("request reaches the server") })
}

fn cancel_request(app: &TestApp, caller: &Customer, order: &Value, reason: &str) -> RequestBuilder {
    app.client
        .post(app.url(&format!("/api/v1/orders/{}/cancel", order["id"])))
        .bearer_auth(&caller.token)
        .json(&json!({ "reason": reason }))
}

/// A status and body, read whole.
async fn outcome(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    (status, body)
}

fn assert_refused(outcome: &(StatusCode, Value), code: &str) {
    assert_eq!(outcome.0, StatusCode::CONFLICT, "{}", outcome.1);
    assert_eq!(outcome.1["code"], code, "{}", outcome.1);
}

/// (product, units) of each `release` movement of the order, whoever cancelled it.
fn released(db: &TestDb, order: &Value) -> Vec<(i32, i32)> {
    units(releases(db, order))
}

/// (product, units) of each line of the order: what its cancellation releases.
fn lines(order: &Value) -> Vec<(i32, i32)> {
    units(expected_releases(order, None))
}

fn units(releases: Vec<Release>) -> Vec<(i32, i32)> {
    releases
        .into_iter()
        .map(|release| (release.product_id, release.delta))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_cancels_of_one_order_cancel_it_once() {
    let app = race_instance(Arc::new(TestDb::new()), None);
    let before = deadlocks(&app.db);
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let cup = app.product(&admin, "Cup", "White", "4.50", 10).await;
    let order = app.place_order(&alice, &[(&teapot, 2), (&cup, 3)]).await;

    // The first cancel to lock the order waits on the products; the other nine wait on
    // the order. All ten are in flight when the gate opens.
    let mut products = gate(&app.db, "products", &[&teapot["id"], &cup["id"]]);
    let racers: Vec<_> = (0..10)
        .map(|n| {
            let caller = if n % 2 == 0 { &alice } else { &admin };
            send(cancel_request(&app, caller, &order, &format!("cancel {n}")))
        })
        .collect();
    until_waiting_on_locks(&app.db, 10).await;
    products.batch_execute("COMMIT").unwrap();

    let mut cancelled = Vec::new();
    for racer in join_all(racers).await {
        let outcome = outcome(racer.unwrap()).await;
        match outcome.0 {
            StatusCode::OK => cancelled.push(outcome.1),
            _ => assert_refused(&outcome, "invalid_state"),
        }
    }
    assert_eq!(cancelled.len(), 1, "exactly one cancel: {cancelled:?}");
    let now = app.order_now(&alice, &order).await;
    assert_eq!(now, cancelled[0]);
    assert_eq!(now["status"], "cancelled");
    assert!(now["cancel_reason"]
        .as_str()
        .is_some_and(|reason| reason.starts_with("cancel ")));
    assert_eq!(released(&app.db, &order), lines(&order));
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (10, 10)
    );
    assert_ledger_balanced(&app.db);
    assert_eq!(
        deadlocks_reported(&app.db),
        before,
        "PostgreSQL broke deadlocks"
    );
}

/// Alice's order holds every unit of two products; Bob wants them all. Her cancel and his
/// checkout queue behind the test's lock on the first product, in one order or the
/// other: the cancel always succeeds; Bob gets the units only if the cancel went first.
/// Only the first is held, so a release locking the products in another order than
/// checkout takes the second and deadlocks once the first comes free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_a_checkout_of_its_stock_leaves_the_ledger_whole() {
    const UNITS: i64 = 3;
    let app = race_instance(Arc::new(TestDb::new()), None);
    let before = deadlocks(&app.db);
    let admin = app.admin("staff").await;
    let mut seen = (0, 0); // (Bob's checkouts placed, refused)
    for round in 0..6 {
        let first = app
            .product(&admin, "First", "a", "5.00", UNITS as i32)
            .await;
        let second = app
            .product(&admin, "Second", "b", "7.00", UNITS as i32)
            .await;
        let id = |product: &Value| product["id"].as_i64().unwrap() as i32;
        let people = shoppers_with_one_unit(&app.db, 2, id(&first), &format!("round{round}_"));
        let (alice, bob) = (&people[0], &people[1]);
        // Both carts are filled while the stock is there; Alice's checkout then takes it.
        for shopper in [alice, bob] {
            for (product, quantity) in [(&first, UNITS - 1), (&second, UNITS)] {
                let added = app.add_to_cart(shopper, &product["id"], quantity).await;
                assert_eq!(added.status(), StatusCode::CREATED);
            }
        }
        let held = app.place_order(alice, &[]).await;
        assert_eq!(app.stock_of(&first).await, 0);

        let mut products = gate(&app.db, "products", &[&first["id"]]);
        let cancel = || send(cancel_request(&app, alice, &held, "changed my mind"));
        let checkout = || {
            send(
                app.client
                    .post(app.url("/api/v1/cart/checkout"))
                    .bearer_auth(&bob.token),
            )
        };
        let (cancelled, placed) = if round % 2 == 0 {
            let cancelled = cancel();
            until_waiting_on_locks(&app.db, 1).await;
            (cancelled, checkout())
        } else {
            let placed = checkout();
            until_waiting_on_locks(&app.db, 1).await;
            (cancel(), placed)
        };
        until_waiting_on_locks(&app.db, 2).await;
        products.batch_execute("COMMIT").unwrap();

        let cancelled = outcome(cancelled.await.unwrap()).await;
        assert_eq!(
            cancelled.0,
            StatusCode::OK,
            "round {round}: {}",
            cancelled.1
        );
        assert_eq!(released(&app.db, &held), lines(&held), "round {round}");
        let placed = outcome(placed.await.unwrap()).await;
        let left = if placed.0 == StatusCode::CREATED {
            seen.0 += 1;
            assert_eq!(placed.1["item_count"], 2 * UNITS, "{}", placed.1);
            0
        } else {
            seen.1 += 1;
            assert_refused(&placed, "insufficient_stock");
            assert_eq!(
                app.cart(bob).await["item_count"],
                2 * UNITS,
                "his cart stays"
            );
            UNITS
        };
        assert_eq!(
            (app.stock_of(&first).await, app.stock_of(&second).await),
            (left, left),
            "round {round}: Bob's checkout {}",
            placed.0
        );
        assert_ledger_balanced(&app.db);
    }
    assert_eq!(
        deadlocks_reported(&app.db),
        before,
        "PostgreSQL broke deadlocks"
    );
    // Row locks are granted in the order they were asked for, so both orders happened.
    assert_eq!(seen, (3, 3), "(placed, refused)");
}

/// The value of the Prometheus sample whose line starts with `series`, or 0.
async fn sample(app: &TestApp, series: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Three instances, each running the expiry job with a one-second window, and the owner
/// cancelling each order about at its deadline: every order is cancelled once, by the
/// owner or by the deadline, and its stock comes back once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_the_deadline_on_three_instances_cancels_once() {
    let window = Some(Duration::from_secs(1));
    let first = race_instance(Arc::new(TestDb::new()), window);
    let instances = [
        race_instance(first.db.clone(), window),
        race_instance(first.db.clone(), window),
        first,
    ];
    let app = &instances[0];
    let before = deadlocks(&app.db);
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 100).await;
    let cup = app.product(&admin, "Cup", "White", "4.50", 100).await;

    // Cancels sent from just before the deadline to after every instance's job has had
    // a round past it (each looks once a second).
    let offsets_ms: [i64; 9] = [-200, -50, 0, 100, 250, 500, 750, 1_000, 1_500];
    let mut racers = Vec::new();
    for (n, offset) in offsets_ms.into_iter().enumerate() {
        let instance = &instances[n % instances.len()];
        let order = instance
            .place_order(&alice, &[(&teapot, 1), (&cup, 2)])
            .await;
        let due: chrono::DateTime<chrono::Utc> =
            order["payment_due_at"].as_str().unwrap().parse().unwrap();
        let at = due + chrono::Duration::milliseconds(offset);
        let request = cancel_request(instance, &alice, &order, "found it cheaper");
        racers.push((
            order,
            tokio::spawn(async move {
                if let Ok(wait) = (at - chrono::Utc::now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
                request.send().await.expect("request reaches the server")
            }),
        ));
    }

    let mut by_owner = 0;
    for (order, racer) in racers {
        let cancel = outcome(racer.await.unwrap()).await;
        eventually("the order is cancelled", || is_cancelled(&app.db, &order)).await;
        let now = app.order_now(&alice, &order).await;
        let by = if cancel.0 == StatusCode::OK {
            by_owner += 1;
            assert_eq!(now, cancel.1);
            assert_eq!(now["cancel_reason"], "found it cheaper", "{now}");
            Some(alice.id)
        } else {
            assert_refused(&cancel, "invalid_state");
            assert_eq!(now["cancel_reason"], "payment_expired", "{now}");
            None
        };
        assert_eq!(now["status"], "cancelled", "{now}");
        assert_eq!(releases(&app.db, &order), expected_releases(&order, by));
    }
    println!(
        "{by_owner} of {} orders cancelled by their owner, the rest by the deadline",
        offsets_ms.len()
    );
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (100, 100)
    );
    assert_ledger_balanced(&app.db);
    for instance in &instances {
        let failed = sample(
            instance,
            "background_job_rounds_total{job=\"expire_unpaid_orders\",outcome=\"error\"}",
        )
        .await;
        assert_eq!(failed, 0, "no expiry round failed");
    }
    assert_eq!(
        deadlocks_reported(&app.db),
        before,
        "PostgreSQL broke deadlocks"
    );
}

/// Staff cancel a paid order while (other) staff ship it: the two queue behind the test's
/// lock on the order, in one order or the other, and the first one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_a_shipment_ends_one_way_or_the_other() {
    let app = race_instance(Arc::new(TestDb::new()), None);
    let before = deadlocks(&app.db);
    let admin = app.admin("staff").await;
    let clerk = app.admin("clerk").await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 100).await;
    let mut seen = (0, 0); // (cancelled, shipped)
    for round in 0..6 {
        let order = app.place_order(&alice, &[(&teapot, 2)]).await;
        // Payments come later; until then a paid order is arranged in the database.
        mark_paid(&app.db, &order);
        let stock = app.stock_of(&teapot).await;

        let mut locked = gate(&app.db, "orders", &[&order["id"]]);
        let cancel = || send(cancel_request(&app, &admin, &order, "fraud suspected"));
        let ship = || {
            send(
                app.client
                    .post(app.url(&format!("/api/v1/orders/{}/fulfilments", order["id"])))
                    .bearer_auth(&clerk.token)
                    .json(&parcel()),
            )
        };
        let (cancelled, shipped) = if round % 2 == 0 {
            let cancelled = cancel();
            until_waiting_on_locks(&app.db, 1).await;
            (cancelled, ship())
        } else {
            let shipped = ship();
            until_waiting_on_locks(&app.db, 1).await;
            (cancel(), shipped)
        };
        until_waiting_on_locks(&app.db, 2).await;
        locked.batch_execute("COMMIT").unwrap();

        let cancelled = outcome(cancelled.await.unwrap()).await;
        let shipped = outcome(shipped.await.unwrap()).await;
        let now = app.order_now(&alice, &order).await;
        if cancelled.0 == StatusCode::OK {
            seen.0 += 1;
            assert_refused(&shipped, "invalid_state");
            assert_eq!(now, cancelled.1);
            assert_eq!(now["fulfilments"], json!([]), "{now}");
            assert_eq!(releases(&app.db, &order).len(), 1);
            assert_eq!(app.stock_of(&teapot).await, stock + 2, "round {round}");
        } else {
            seen.1 += 1;
            assert_refused(&cancelled, "invalid_state");
            assert_eq!(shipped.0, StatusCode::CREATED, "{}", shipped.1);
            assert_eq!(now, shipped.1);
            assert_eq!(now["status"], "completed", "{now}");
            assert!(releases(&app.db, &order).is_empty(), "round {round}");
            assert_eq!(app.stock_of(&teapot).await, stock, "round {round}");
        }
        assert_ledger_balanced(&app.db);
    }
    assert_eq!(
        deadlocks_reported(&app.db),
        before,
        "PostgreSQL broke deadlocks"
    );
    assert_eq!(seen, (3, 3), "(cancelled, shipped): whoever asked first");
}
