//! Checkout and orders: what an order freezes, idempotent retries, and the concurrency
//! guarantees (never oversell, never deadlock, same result across instances).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{
    expect_json, expect_problem, shoppers_with_one_unit, until_waiting_on_locks, Customer,
};

impl TestApp {
    async fn checkout(&self, customer: &Customer, key: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/api/v1/cart/checkout"))
            .bearer_auth(&customer.token);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("request reaches the server")
    }

    fn inventory(&self, product: &Value) -> i32 {
        use storefront::schema::products;
        products::table
            .find(product["id"].as_i64().unwrap() as i32)
            .select(products::inventory_count)
            .first(&mut self.db.connect())
            .unwrap()
    }
}

async fn shop() -> (TestApp, Customer, Customer) {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    (app, admin, alice)
}

#[tokio::test]
async fn checkout_places_an_order_with_frozen_prices_and_decrements_stock() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 10).await;
    app.add_to_cart(&alice, &teapot["id"], 3).await;
    app.add_to_cart(&alice, &cup["id"], 2).await;
    let cart_id = app.cart(&alice).await["id"].clone();

    let response = app.checkout(&alice, None).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().get("idempotent-replayed").is_none());
    let order = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(location, format!("/api/v1/orders/{}", order["id"]));
    assert_eq!(order["id"], cart_id, "the cart became the order");
    assert_eq!(order["status"], "checked_out");
    assert!(order["checked_out_at"].is_string());
    assert_eq!(order["total"], "68.97", "3 x 19.99 + 2 x 4.50");
    assert_eq!(order["item_count"], 5);
    assert_eq!(order["items"][0]["unit_price"], "19.99");
    assert_eq!(order["items"][0]["line_total"], "59.97");
    assert_eq!(app.inventory(&teapot), 7);
    assert_eq!(app.inventory(&cup), 8);

    // A later price change does not touch the order.
    app.patch_json(
        &format!("/api/v1/products/{}", teapot["id"]),
        &json!({"price": "99.00"}),
        Some(&admin.token),
    )
    .await;
    let stored = expect_json(app.get_as(&location, &alice.token).await, StatusCode::OK).await;
    assert_eq!(stored["items"][0]["unit_price"], "19.99");
    assert_eq!(stored["total"], "68.97");
    assert_eq!(stored["id"], order["id"]);

    // The user shops on in a fresh, empty cart.
    let next = app.cart(&alice).await;
    assert_ne!(next["id"], cart_id);
    assert_eq!(next["items"], json!([]));
}

#[tokio::test]
async fn an_empty_cart_cannot_be_checked_out() {
    let (app, _, alice) = shop().await;
    expect_problem(
        app.checkout(&alice, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty_cart",
    )
    .await;
    app.cart(&alice).await; // an open but empty cart
    expect_problem(
        app.checkout(&alice, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty_cart",
    )
    .await;
}

#[tokio::test]
async fn short_stock_lists_every_short_line_and_changes_nothing() {
    let (app, admin, alice) = shop().await;
    let plenty = app.product(&admin, "Plenty", "lots", "1.00", 100).await;
    let scarce = app.product(&admin, "Scarce", "few", "2.00", 5).await;
    let rare = app.product(&admin, "Rare", "fewer", "3.00", 5).await;
    app.add_to_cart(&alice, &plenty["id"], 10).await;
    app.add_to_cart(&alice, &scarce["id"], 4).await;
    app.add_to_cart(&alice, &rare["id"], 5).await;
    // Stock drops after the items were added.
    for (product, stock) in [(&scarce, 2), (&rare, 1)] {
        app.patch_json(
            &format!("/api/v1/products/{}", product["id"]),
            &json!({"inventory_count": stock}),
            Some(&admin.token),
        )
        .await;
    }
    let problem = expect_problem(
        app.checkout(&alice, None).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(
        problem["items"],
        json!([
            {"product_id": scarce["id"], "requested": 4, "available": 2},
            {"product_id": rare["id"], "requested": 5, "available": 1},
        ])
    );
    assert_eq!(app.inventory(&plenty), 100, "nothing decremented");
    let cart = app.cart(&alice).await;
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_retried_checkout_with_the_same_key_returns_the_first_order() {
    let (app, admin, alice) = shop().await;
    let product = app.product(&admin, "Teapot", "blue", "10.00", 10).await;
    app.add_to_cart(&alice, &product["id"], 2).await;

    let first = expect_json(
        app.checkout(&alice, Some("order-1")).await,
        StatusCode::CREATED,
    )
    .await;
    let retry = app.checkout(&alice, Some("order-1")).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let replayed = expect_json(retry, StatusCode::CREATED).await;
    assert_eq!(replayed, first);
    assert_eq!(app.inventory(&product), 8, "decremented once");

    // The same key with a new, different cart is a client error, and changes nothing.
    app.add_to_cart(&alice, &product["id"], 1).await;
    let problem = expect_problem(
        app.checkout(&alice, Some("order-1")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.inventory(&product), 8);
    // A new key places a new order.
    let second = expect_json(
        app.checkout(&alice, Some("order-2")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(app.inventory(&product), 7);

    // Keys are per user: bob's "order-1" is his own.
    let bob = app.customer("bob").await;
    app.add_to_cart(&bob, &product["id"], 1).await;
    let bobs = expect_json(
        app.checkout(&bob, Some("order-1")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(bobs["id"], first["id"]);

    let too_long = "k".repeat(256);
    expect_problem(
        app.checkout(&alice, Some(&too_long)).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn an_idempotency_key_is_1_to_255_characters() {
    let (app, admin, alice) = shop().await;
    let product = app.product(&admin, "Teapot", "blue", "10.00", 10).await;
    app.add_to_cart(&alice, &product["id"], 1).await;
    // Empty, and one over the limit: refused before anything is checked out.
    for key in [String::new(), "k".repeat(256)] {
        expect_problem(
            app.checkout(&alice, Some(&key)).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert_eq!(
            app.cart(&alice).await["item_count"],
            1,
            "{} chars",
            key.len()
        );
        assert_eq!(app.inventory(&product), 10);
    }
    // Exactly 255: accepted and stored whole; its retry is the same order.
    let longest = "k".repeat(254) + "!";
    let first = expect_json(
        app.checkout(&alice, Some(&longest)).await,
        StatusCode::CREATED,
    )
    .await;
    let retry = app.checkout(&alice, Some(&longest)).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(retry, StatusCode::CREATED).await, first);
    assert_eq!(app.inventory(&product), 9);
    let stored: Option<String> = {
        use storefront::schema::carts;
        carts::table
            .find(first["id"].as_i64().unwrap() as i32)
            .select(carts::idempotency_key)
            .first(&mut app.db.connect())
            .unwrap()
    };
    assert_eq!(stored.as_deref(), Some(longest.as_str()));
}

#[tokio::test]
async fn concurrent_retries_with_one_key_place_one_order() {
    let (app, admin, alice) = shop().await;
    let product = app.product(&admin, "Teapot", "blue", "10.00", 10).await;
    app.add_to_cart(&alice, &product["id"], 1).await;
    let responses = join_all((0..8).map(|_| app.checkout(&alice, Some("same-key")))).await;
    let mut ids = Vec::new();
    for response in responses {
        ids.push(expect_json(response, StatusCode::CREATED).await["id"].clone());
    }
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");
    assert_eq!(app.inventory(&product), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_add_racing_a_checkout_never_lands_in_the_placed_order() {
    use diesel::connection::SimpleConnection;

    let app = burst_server(Arc::new(TestDb::new()));
    let (admin, alice) = (app.admin("staff").await, app.customer("alice").await);
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 10).await;
    app.add_to_cart(&alice, &teapot["id"], 1).await;

    // The checkout locks the cart, then waits on the teapot row the test holds...
    let mut blocker = app.db.connect();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM products WHERE id = {} FOR UPDATE",
            teapot["id"]
        ))
        .unwrap();
    let checkout = tokio::spawn({
        let request = app
            .client
            .post(app.url("/api/v1/cart/checkout"))
            .bearer_auth(&alice.token);
        async move { request.send().await.unwrap() }
    });
    until_waiting_on_locks(&app.db, 1).await;
    // ... and the add arrives while the checkout is mid-transaction.
    let add = tokio::spawn({
        let request = app
            .client
            .post(app.url("/api/v1/cart/items"))
            .bearer_auth(&alice.token)
            .json(&json!({"product_id": cup["id"], "quantity": 1}));
        async move { request.send().await.unwrap() }
    });
    until_waiting_on_locks(&app.db, 2).await;
    blocker.batch_execute("COMMIT").unwrap();

    let order = expect_json(checkout.await.unwrap(), StatusCode::CREATED).await;
    let cart = expect_json(add.await.unwrap(), StatusCode::CREATED).await;
    // The add waited and went into the next cart; the order holds only the teapot, as
    // placed, and as read back afterwards.
    assert_ne!(cart["id"], order["id"]);
    assert_eq!(cart["status"], "open");
    let in_cart: Vec<&Value> = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| &line["product_id"])
        .collect();
    assert_eq!(in_cart, [&cup["id"]]);
    let placed = expect_json(
        app.get_as(&format!("/api/v1/orders/{}", order["id"]), &alice.token)
            .await,
        StatusCode::OK,
    )
    .await;
    for shown in [&order, &placed] {
        let lines: Vec<&Value> = shown["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| &line["product_id"])
            .collect();
        assert_eq!(lines, [&teapot["id"]], "{shown}");
        assert_eq!(shown["total"], "19.99");
    }
    assert_eq!(app.inventory(&cup), 10, "no cup was sold");
}

#[tokio::test]
async fn orders_are_listed_newest_first_and_only_to_their_owner() {
    let (app, admin, alice) = shop().await;
    let bob = app.customer("bob").await;
    let product = app.product(&admin, "Thing", "a thing", "1.00", 100).await;
    let mut placed = Vec::new();
    for quantity in 1..=5 {
        app.add_to_cart(&alice, &product["id"], quantity).await;
        placed.push(
            expect_json(app.checkout(&alice, None).await, StatusCode::CREATED).await["id"].clone(),
        );
    }
    app.add_to_cart(&alice, &product["id"], 1).await; // an open cart is not an order

    let mut listed = Vec::new();
    let mut path = "/api/v1/orders?limit=2".to_owned();
    loop {
        let page = expect_json(app.get_as(&path, &alice.token).await, StatusCode::OK).await;
        for order in page["items"].as_array().unwrap() {
            assert_eq!(order["status"], "checked_out");
            listed.push(order["id"].clone());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/orders?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    placed.reverse();
    assert_eq!(listed, placed, "newest first, each once");

    let bobs = expect_json(
        app.get_as("/api/v1/orders", &bob.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs["items"], json!([]));
    assert_eq!(bobs["next_cursor"], Value::Null);
    let alices_order = format!("/api/v1/orders/{}", placed[0]);
    expect_problem(
        app.get_as(&alices_order, &bob.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let open_cart = format!("/api/v1/orders/{}", app.cart(&alice).await["id"]);
    expect_problem(
        app.get_as(&open_cart, &alice.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get("/api/v1/orders").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    for (query, status, code) in [
        (
            "limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("limit=x", StatusCode::BAD_REQUEST, "bad_request"),
        ("cursor=nonsense", StatusCode::BAD_REQUEST, "bad_request"),
        (
            "cursor=AAAAAAAAAAAAAAAAAAAAAAAA",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        expect_problem(
            app.get_as(&format!("/api/v1/orders?{query}"), &alice.token)
                .await,
            status,
            code,
        )
        .await;
    }
}

// ------------------------------------------------------------------ concurrency

/// A server for the burst tests: two workers, a pool that waits long enough for every
/// checkout queued behind one hot row.
fn burst_server(db: Arc<TestDb>) -> TestApp {
    TestApp::spawn_configured(db, |config| {
        config.http.workers = 2;
        config.database.pool_max_size = 8;
        config.database.pool_connection_timeout = Duration::from_secs(30);
    })
}

/// Tallies a burst: (201s, 409s, anything else).
async fn tally(responses: Vec<reqwest::Response>) -> (usize, usize, Vec<String>) {
    let (mut placed, mut short, mut other) = (0, 0, Vec::new());
    for response in responses {
        match response.status() {
            StatusCode::CREATED => placed += 1,
            StatusCode::CONFLICT => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["code"], "insufficient_stock");
                assert_eq!(body["items"][0]["requested"], 1);
                short += 1;
            }
            status => other.push(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            )),
        }
    }
    (placed, short, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_checkouts_of_fifty_units_sell_exactly_fifty() {
    let started = Instant::now();
    let app = burst_server(Arc::new(TestDb::new()));
    let admin = app.admin("staff").await;
    let product = app
        .product(&admin, "Hot item", "limited run", "25.00", 50)
        .await;
    let buyers = shoppers_with_one_unit(
        &app.db,
        200,
        product["id"].as_i64().unwrap() as i32,
        "buyer",
    );

    let burst = Instant::now();
    let responses = join_all(buyers.iter().map(|buyer| app.checkout(buyer, None))).await;
    let burst_time = burst.elapsed();
    let (placed, short, other) = tally(responses).await;
    let inventory = app.inventory(&product);
    println!(
        "200 concurrent checkouts of 50 units: {placed} placed, {short} x 409, {} other, \
         inventory left {inventory}; burst {burst_time:?}, whole test {:?}",
        other.len(),
        started.elapsed()
    );
    assert!(other.is_empty(), "no 5xx, no other status: {other:?}");
    assert_eq!((placed, short, inventory), (50, 150, 0));
    assert_checkouts_recorded(&app.db, product["id"].as_i64().unwrap() as i32, 50);
}

/// The stock ledger after a burst: every placed order took one unit in a `checkout`
/// movement of its own, by its buyer, the counts after them 49 down to 0 (each once, so
/// no two checkouts saw the same stock), and every product's movements sum to its count.
fn assert_checkouts_recorded(db: &TestDb, product_id: i32, sold: i64) {
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Tally {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        movements: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        units: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        distinct_counts: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        of_their_orders: i64,
    }
    let tally: Tally = diesel::sql_query(
        "SELECT count(*) AS movements, -sum(m.delta)::bigint AS units,
                count(DISTINCT m.resulting_count) AS distinct_counts,
                count(c.id) FILTER (WHERE c.status = 'checked_out' AND c.user_id = m.by_user_id)
                    AS of_their_orders
         FROM stock_movements m LEFT JOIN carts c ON c.id = m.order_id
         WHERE m.product_id = $1 AND m.reason = 'checkout'",
    )
    .bind::<diesel::sql_types::Integer, _>(product_id)
    .get_result(&mut db.connect())
    .unwrap();
    assert_eq!(
        tally,
        Tally {
            movements: sold,
            units: sold,
            distinct_counts: sold,
            of_their_orders: sold
        }
    );
    crate::ledger::assert_ledger_balanced(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_sell_exactly_fifty() {
    let first = burst_server(Arc::new(TestDb::new()));
    let second = burst_server(first.db.clone());
    let admin = first.admin("staff").await;
    let product = first
        .product(&admin, "Hot item", "limited run", "25.00", 50)
        .await;
    let buyers = shoppers_with_one_unit(
        &first.db,
        200,
        product["id"].as_i64().unwrap() as i32,
        "buyer",
    );

    let responses = join_all(buyers.iter().enumerate().map(|(n, buyer)| {
        let instance = if n % 2 == 0 { &first } else { &second };
        instance.checkout(buyer, None)
    }))
    .await;
    let (placed, short, other) = tally(responses).await;
    assert!(other.is_empty(), "{other:?}");
    assert_eq!((placed, short, first.inventory(&product)), (50, 150, 0));
    assert_checkouts_recorded(&first.db, product["id"].as_i64().unwrap() as i32, 50);
}

/// Deadlocks PostgreSQL detected in `db`. A backend reports its statistics when it goes
/// idle (at most once a second) or exits; so every other connection to `db` (the
/// server's) is ended first, and its counts read once they have all gone.
fn deadlocks_detected(db: &TestDb) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = db.connect();
    let others =
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    diesel::sql_query(format!(
        "SELECT count(pg_terminate_backend(pid)) AS n {others}"
    ))
    .get_result::<Count>(&mut conn)
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while diesel::sql_query(format!("SELECT count(*) AS n {others}"))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the server's connections never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    diesel::sql_query(
        "SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()",
    )
    .get_result::<Count>(&mut db.connect())
    .unwrap()
    .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_carts_never_deadlock() {
    use diesel::connection::SimpleConnection;

    let app = burst_server(Arc::new(TestDb::new()));
    let admin = app.admin("staff").await;
    let a = app.product(&admin, "A", "first", "1.00", 1_000).await;
    let b = app.product(&admin, "B", "second", "1.00", 1_000).await;
    let alice = app.customer("alice").await;
    let bob = app.customer("bob").await;
    let mut gate = app.db.connect();
    for round in 0..10 {
        // Alice adds A then B, Bob B then A: their carts hold the rows in opposite order.
        expect_json(
            app.add_to_cart(&alice, &a["id"], 1).await,
            StatusCode::CREATED,
        )
        .await;
        expect_json(
            app.add_to_cart(&alice, &b["id"], 1).await,
            StatusCode::CREATED,
        )
        .await;
        expect_json(
            app.add_to_cart(&bob, &b["id"], 1).await,
            StatusCode::CREATED,
        )
        .await;
        expect_json(
            app.add_to_cart(&bob, &a["id"], 1).await,
            StatusCode::CREATED,
        )
        .await;
        // Both checkouts queue behind the test's locks on A and B and are let go at
        // once, so every round is a real race for the two rows.
        gate.batch_execute(&format!(
            "BEGIN; SELECT 1 FROM products WHERE id IN ({}, {}) FOR UPDATE",
            a["id"], b["id"]
        ))
        .unwrap();
        let (for_alice, for_bob, ()) = tokio::join!(
            app.checkout(&alice, None),
            app.checkout(&bob, None),
            async {
                until_waiting_on_locks(&app.db, 2).await;
                gate.batch_execute("COMMIT").unwrap();
            }
        );
        assert_eq!(for_alice.status(), StatusCode::CREATED, "round {round}");
        assert_eq!(for_bob.status(), StatusCode::CREATED, "round {round}");
    }
    assert_eq!(app.inventory(&a), 980);
    assert_eq!(app.inventory(&b), 980);
    // Checkout retries a deadlock, so the answers alone would not show one.
    assert_eq!(deadlocks_detected(&app.db), 0, "PostgreSQL broke deadlocks");
}
