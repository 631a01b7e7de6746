//! Faults: the database disappearing and returning, starting without it, a pool run dry,
//! several instances migrating one new database together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::StatusCode;

use crate::binary::{free_port, storefront};
use crate::common::proxy::DbProxy;
use crate::common::{server_url, TestApp, TestDb};
use crate::helpers::{expect_json, expect_problem, until_waiting_on_locks};

/// Polls `path` until it answers `status` or `limit` passes; returns how long it took.
async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    status: StatusCode,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(response) = client.get(url).send().await {
            if response.status() == status {
                return Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_database_gives_fast_503s_and_service_resumes_when_it_returns() {
    let proxy = DbProxy::start(server_url()).await;
    let db = Arc::new(TestDb::new());
    let proxied = proxy.url_for(db.url());
    let app = TestApp::spawn_configured(db, |config| config.database.url = proxied);
    let admin = app.admin("staff").await;
    let product = app.product(&admin, "Lamp", "bright", "10.00", 5).await;
    let path = format!("/api/v1/products/{}", product["id"]);
    expect_json(app.get(&path).await, StatusCode::OK).await;

    proxy.stop();
    let pool_timeout = Duration::from_millis(1_500);
    for _ in 0..3 {
        let started = Instant::now();
        let response = app.get(&path).await;
        let elapsed = started.elapsed();
        assert_eq!(response.headers()["retry-after"], "1");
        expect_problem(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        )
        .await;
        assert!(
            elapsed < pool_timeout + Duration::from_secs(3),
            "no hang: {elapsed:?}"
        );
    }
    expect_problem(
        app.get("/health/ready").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);

    proxy.resume();
    let recovered = wait_for(
        &app.client,
        &app.url(&path),
        StatusCode::OK,
        Duration::from_secs(15),
    )
    .await;
    assert!(recovered.is_some(), "served again without a restart");
    expect_json(app.get("/health/ready").await, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_without_its_database_it_waits_and_becomes_ready() {
    let proxy = DbProxy::start(server_url()).await;
    proxy.stop();
    let db = TestDb::not_yet_created();
    let port = free_port();
    let mut server = storefront()
        .env("DATABASE_URL", proxy.url_for(db.url()).expose())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("WORKERS", "1")
        .env("DB_POOL_TIMEOUT_MS", "500")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let live = wait_for(
        &client,
        &format!("{base}/health/live"),
        StatusCode::OK,
        Duration::from_secs(10),
    )
    .await;
    assert!(live.is_some(), "the process serves without its database");
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    expect_problem(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    let products = client
        .get(format!("{base}/api/v1/products"))
        .send()
        .await
        .unwrap();
    // Answered before any handler runs, yet logged and traceable like every response.
    assert!(products.headers().contains_key("x-request-id"));
    expect_problem(
        products,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert!(server.try_wait().unwrap().is_none(), "no crash");

    proxy.resume();
    let became_ready = wait_for(
        &client,
        &format!("{base}/health/ready"),
        StatusCode::OK,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        became_ready.is_some(),
        "ready once the database is reachable"
    );
    let products = client
        .get(format!("{base}/api/v1/products"))
        .send()
        .await
        .unwrap();
    expect_json(products, StatusCode::OK).await;

    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());
}

type Answer = (
    StatusCode,
    Option<reqwest::header::HeaderValue>,
    String,
    Duration,
);

/// The next answer reported on `answered`; fails the test after a minute without one.
async fn next_answer(answered: &mut tokio::sync::mpsc::UnboundedReceiver<Answer>) -> Answer {
    tokio::time::timeout(Duration::from_secs(60), answered.recv())
        .await
        .expect("an answer within a minute")
        .unwrap()
}

/// `db_pool_timeouts_total` of the primary pool, from `/metrics`.
async fn pool_timeouts(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(r#"db_pool_timeouts_total{pool="primary"} "#))
        .expect("db_pool_timeouts_total in /metrics")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_answers_503_in_time_while_liveness_answers() {
    let pool_timeout = Duration::from_secs(1);
    let db = Arc::new(TestDb::new());
    let app = TestApp::spawn_configured(db, |config| {
        config.database.pool_max_size = 2;
        config.database.pool_connection_timeout = pool_timeout;
        config.http.workers = 2;
    });
    let admin = app.admin("staff").await;
    let product = app.product(&admin, "Scarce", "hot", "1.00", 100).await;
    let mut buyers = Vec::new();
    for n in 0..6 {
        let buyer = app.customer(&format!("buyer{n}")).await;
        app.add_to_cart(&buyer, &product["id"], 1).await;
        buyers.push(buyer);
    }
    let timeouts_before = pool_timeouts(&app).await;
    // Hold the product row: every checkout blocks holding its pooled connection.
    let mut blocker = diesel::PgConnection::establish(app.db.url().expose()).unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM products WHERE id = {} FOR UPDATE",
            product["id"]
        ))
        .unwrap();

    // Each checkout reports its answer, and how long it took, as it comes.
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    for buyer in &buyers {
        let request = app
            .client
            .post(app.url("/api/v1/cart/checkout"))
            .bearer_auth(&buyer.token);
        let answers = answers.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let response = request.send().await.expect("an answer");
            let elapsed = started.elapsed();
            let retry_after = response.headers().get("retry-after").cloned();
            let status = response.status();
            let body = response.text().await.unwrap();
            let _ = answers.send((status, retry_after, body, elapsed));
        });
    }
    // Both connections are taken by checkouts waiting on the test's lock.
    until_waiting_on_locks(&app.db, 2).await;
    let started = Instant::now();
    assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);
    assert!(
        started.elapsed() < pool_timeout,
        "liveness never waits for the pool"
    );

    // The other four get no connection while the lock is held: each is a 503, answered
    // once the pool timeout has passed and not long after it (the margin is for a busy
    // machine; the point is that it comes while the lock is still held).
    for _ in 0..4 {
        let (status, retry_after, body, elapsed) = next_answer(&mut answered).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(retry_after.unwrap(), "1");
        assert!(body.contains(r#""code":"service_unavailable""#), "{body}");
        assert!(
            elapsed >= pool_timeout && elapsed < pool_timeout + Duration::from_secs(3),
            "a 503 after {elapsed:?}, pool timeout {pool_timeout:?}"
        );
    }
    assert_eq!(
        pool_timeouts(&app).await,
        timeouts_before + 4,
        "db_pool_timeouts_total counts each"
    );
    blocker.batch_execute("COMMIT").unwrap();
    for _ in 0..2 {
        let (status, _, body, _) = next_answer(&mut answered).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_started_together_migrate_a_new_database_once() {
    // Diesel's bookkeeping table exists (as Diesel creates it) and the test holds it
    // locked: every instance that reads it waits, so all three come to migrate at the same
    // moment, when the test lets go, instead of one after the other by luck of timing.
    let db = TestDb::empty();
    let mut gate = db.connect();
    gate.batch_execute(
        "CREATE TABLE __diesel_schema_migrations (
             version VARCHAR(50) PRIMARY KEY NOT NULL,
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .unwrap();
    gate.batch_execute("BEGIN; LOCK TABLE __diesel_schema_migrations IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut servers = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        servers.push(
            storefront()
                .env("DATABASE_URL", db.url().expose())
                .env("BIND_ADDR", format!("127.0.0.1:{port}"))
                .env("WORKERS", "1")
                .env("RUST_LOG", "info")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    until_waiting_on_locks(&db, 3).await;
    gate.batch_execute("COMMIT").unwrap();

    let client = reqwest::Client::new();
    for base in &bases {
        let ready = wait_for(
            &client,
            &format!("{base}/health/ready"),
            StatusCode::OK,
            Duration::from_secs(30),
        )
        .await;
        assert!(ready.is_some(), "{base} ready");
    }
    let mut logs = Vec::new();
    for server in servers {
        unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
        let output = server.wait_with_output().unwrap();
        assert!(output.status.success());
        logs.push(String::from_utf8_lossy(&output.stderr).into_owned());
    }

    // What each instance did, from its log: the versions it applied, and no failed attempt
    // (a failed start is retried, so the table alone would look right either way).
    let mut applied: Vec<String> = Vec::new();
    for log in &logs {
        assert!(
            !log.contains("database not ready"),
            "a failed start:\n{log}"
        );
        for line in log
            .lines()
            .filter(|line| line.contains("applied migrations"))
        {
            let list = line
                .split_once("applied=[")
                .and_then(|(_, rest)| rest.split_once(']'))
                .unwrap_or_else(|| panic!("no version list in {line}"))
                .0;
            applied.extend(list.split(", ").map(|v| v.trim_matches('"').to_owned()));
        }
    }
    applied.sort();
    let expected: Vec<String> = crate::common::migrations()
        .into_iter()
        .map(|(_, version)| version)
        .collect();
    assert_eq!(
        applied, expected,
        "each migration applied by exactly one instance"
    );
}

/// The database vanishing under the order lifecycle: a cancel answers 503 and changes
/// nothing, the admin listing 503s, and the expiry job, failing meanwhile, cancels the
/// order once the database returns. Then the ledger still balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_under_a_vanished_database_answer_503_and_expire_once_it_returns() {
    let proxy = DbProxy::start(server_url()).await;
    let db = Arc::new(TestDb::new());
    let proxied = proxy.url_for(db.url());
    let app = TestApp::spawn_configured(db.clone(), |config| {
        config.database.url = proxied;
        config.order_payment_window = Some(Duration::from_secs(2));
    });
    let admin = app.admin("staff").await;
    let buyer = app.customer("buyer").await;
    let product = app.product(&admin, "Lamp", "bright", "10.00", 5).await;
    let item = serde_json::json!({ "product_id": product["id"], "quantity": 2 });
    expect_json(
        app.post_json("/api/v1/cart/items", &item, Some(&buyer.token))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let order = expect_json(
        app.post_json(
            "/api/v1/cart/checkout",
            &serde_json::json!({}),
            Some(&buyer.token),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let cancel = format!("/api/v1/orders/{}/cancel", order["id"]);

    proxy.stop();
    let response = app
        .post_json(&cancel, &serde_json::json!({}), Some(&buyer.token))
        .await;
    assert_eq!(response.headers()["retry-after"], "1");
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    expect_problem(
        app.get_as("/api/v1/admin/orders", &admin.token).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    // The deadline passes while the database is away.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut conn = db.connect();
    let (status, stock): (String, i32) = order_and_stock(&mut conn, &order, &product);
    assert_eq!(
        (status.as_str(), stock),
        ("checked_out", 3),
        "nothing changed"
    );

    proxy.resume();
    let mut expired = false;
    for _ in 0..300 {
        let (status, stock) = order_and_stock(&mut conn, &order, &product);
        if status == "cancelled" {
            assert_eq!(stock, 5, "stock released");
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "the expiry job resumed with the database");
    let cancelled = expect_json(
        app.get_as(&format!("/api/v1/orders/{}", order["id"]), &buyer.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["cancel_reason"], "payment_expired");
    // The cancel that failed was not half-applied: the order expired, and a cancel now is
    // refused as for any cancelled order.
    expect_problem(
        app.post_json(&cancel, &serde_json::json!({}), Some(&buyer.token))
            .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    let releases: i64 = {
        use diesel::dsl::count_star;
        use diesel::prelude::*;
        use storefront::schema::stock_movements::dsl as m;
        m::stock_movements
            .filter(m::reason.eq("release"))
            .select(count_star())
            .first(&mut conn)
            .unwrap()
    };
    assert_eq!(releases, 1, "one release for the one line");
}

/// The order's status and its product's stock, read straight from the database.
fn order_and_stock(
    conn: &mut diesel::PgConnection,
    order: &serde_json::Value,
    product: &serde_json::Value,
) -> (String, i32) {
    use diesel::prelude::*;
    use storefront::schema::{orders, products};
    let order_id = order["id"].as_i64().unwrap() as i32;
    let product_id = product["id"].as_i64().unwrap() as i32;
    let status = orders::table
        .find(order_id)
        .select(orders::status)
        .first(conn)
        .unwrap();
    let stock = products::table
        .find(product_id)
        .select(products::inventory_count)
        .first(conn)
        .unwrap();
    (status, stock)
}
