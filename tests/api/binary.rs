//! The `storefront` binary itself: configuration errors and the migrate subcommand.

use std::process::Command;

use crate::common::TestDb;
use crate::helpers::{product_in_db, shoppers_with_one_unit, until_waiting_on_locks};

pub fn storefront() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_storefront"));
    // Run where no .env exists, with nothing inherited that could set configuration.
    command.current_dir(std::env::temp_dir()).env_clear();
    command
}

#[test]
fn a_bad_setting_stops_the_start_with_a_message_naming_it() {
    let output = storefront()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1/x")
        .env("DB_POOL_MAX_SIZE", "many")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DB_POOL_MAX_SIZE"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");

    let output = storefront().output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"));
}

#[test]
fn migrate_creates_runs_and_reports_status() {
    let db = TestDb::not_yet_created();
    let run = |args: &[&str]| run_ok(&db, args);
    // Before the database exists: everything pending, and a word on how to create it.
    let status = storefront()
        .env("DATABASE_URL", db.url().expose())
        .args(["migrate", "status"])
        .output()
        .unwrap();
    assert!(status.status.success());
    let stdout = String::from_utf8(status.stdout).unwrap();
    let migrations = crate::common::migrations();
    let [.., (_, second_last), (last_name, last)] = migrations.as_slice() else {
        panic!("fewer than two migrations");
    };
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("pending")).count(),
        migrations.len(),
        "{stdout}"
    );
    let stderr = String::from_utf8(status.stderr).unwrap();
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("storefront migrate run"), "{stderr}");
    let applied = run(&["migrate", "run"]);
    assert_eq!(applied.lines().count(), migrations.len(), "{applied}");
    let status = run(&["migrate", "status"]);
    assert_eq!(
        status.lines().filter(|l| l.starts_with("applied")).count(),
        migrations.len(),
        "{status}"
    );
    assert!(run(&["migrate", "revert"]).contains(last.as_str()));
    let status = run(&["migrate", "status"]);
    assert!(
        status.contains(&format!("pending  {last_name}")),
        "{status}"
    );
    assert!(run(&["migrate", "redo"]).contains(second_last.as_str()));
    assert!(run(&["migrate", "run"]).contains(last.as_str()));
    assert!(run(&["migrate", "run"]).contains("Nothing to do"));
}

#[test]
fn admin_promote_makes_an_existing_user_an_admin() {
    let db = TestDb::new();
    let user = storefront::repository::users::insert(
        &mut db.connect(),
        &storefront::models::NewUser {
            username: "dana",
            email: "dana@example.com",
            password_hash: "x",
            name: None,
        },
    )
    .unwrap();
    assert!(!user.is_admin);
    assert!(run_ok(&db, &["admin", "promote", "dana"]).contains("dana"));
    let promoted = storefront::repository::users::find_profile(&mut db.connect(), user.id).unwrap();
    assert!(promoted.is_admin);

    let output = storefront()
        .env("DATABASE_URL", db.url().expose())
        .args(["admin", "promote", "nobody"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody"));
}

/// A free port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_checkout_finish_and_exits_0() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let db = TestDb::new();
    // Arrange a customer with one item in the cart, directly in the database.
    let product_id = product_in_db(&db, "Slow seller", "9.99", 5);
    let token = shoppers_with_one_unit(&db, 1, product_id, "erin")
        .remove(0)
        .token;
    // The checkout waits on the test's lock for as long as the test takes. No drain
    // period (tests/api/drain.rs covers it): this is about what happens at the stop.
    let (mut server, base) = start_binary(
        &db,
        &[
            ("DB_STATEMENT_TIMEOUT_MS", "120000"),
            ("SHUTDOWN_DRAIN_SECS", "0"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let client = reqwest::Client::new();

    // Hold the product's row lock, so the checkout blocks mid-transaction.
    let mut blocker = diesel::PgConnection::establish(db.url().expose()).unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM products WHERE id = {product_id} FOR UPDATE"
        ))
        .unwrap();
    let checkout = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/api/v1/cart/checkout");
        async move { client.post(url).bearer_auth(token).send().await }
    });
    until_waiting_on_locks(&db, 1).await;
    assert!(!checkout.is_finished(), "checkout is in flight");

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    until_refusing_connections(&base).await;
    stays_up_while_draining(&mut server).await;
    blocker.batch_execute("COMMIT").unwrap();

    let response = checkout
        .await
        .unwrap()
        .expect("the in-flight request got its answer");
    assert_eq!(response.status(), 201);
    response.bytes().await.expect("the whole body");
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let left: i32 = {
        use diesel::prelude::*;
        storefront::schema::products::table
            .find(product_id)
            .select(storefront::schema::products::inventory_count)
            .first(&mut db.connect())
            .unwrap()
    };
    assert_eq!(left, 4, "the checkout completed, not half-written");
}

/// After SIGTERM, with a request held in flight: the process stays up. Draining is not a
/// moment but as long as the request takes (up to 30 s), so this watches for 2 s, longer
/// than actix's 1 s shutdown check, at which a server without a drain period would stop.
async fn stays_up_while_draining(server: &mut std::process::Child) {
    let watched = std::time::Instant::now();
    while watched.elapsed() < std::time::Duration::from_secs(2) {
        assert!(
            server.try_wait().unwrap().is_none(),
            "exited with a request in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until nothing accepts connections at `base` any more (after SIGTERM: the server
/// has closed its listener and is draining, or has exited): polling, with a deadline.
pub async fn until_refusing_connections(base: &str) {
    let address = base.trim_start_matches("http://");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match tokio::net::TcpStream::connect(address).await {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{base} still accepts connections"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Starts the binary on a fresh database with extra settings; waits until it is ready.
pub async fn start_binary(db: &TestDb, settings: &[(&str, &str)]) -> (std::process::Child, String) {
    let port = free_port();
    let mut command = storefront();
    command
        .env("DATABASE_URL", db.url().expose())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("WORKERS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (name, value) in settings {
        command.env(name, value);
    }
    let mut server = command.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{base}/health/ready")).send().await {
            if response.status() == 200 {
                return (server, base);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    panic!("server never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_request_ids_and_slow_queries_but_never_secrets() {
    let db = TestDb::new();
    // Every query counts as slow, so the log shows each one.
    let (server, base) = start_binary(&db, &[("SLOW_QUERY_MS", "1"), ("RUST_LOG", "info")]).await;
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/api/v1/users"))
        .header("x-request-id", "trace-me-42")
        .json(&serde_json::json!({"username": "logan", "email": "logan@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login = client
        .post(format!("{base}/api/v1/sessions"))
        .json(&serde_json::json!({"login": "logan", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    client
        .get(format!("{base}/api/v1/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let output = tokio::task::spawn_blocking(move || server.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    let request_line = log
        .lines()
        .find(|line| line.contains("trace-me-42"))
        .unwrap_or_else(|| panic!("no request line with the request id in:\n{log}"));
    for field in ["POST", "/api/v1/users", "status=201", "latency_ms"] {
        assert!(
            request_line.contains(field),
            "{field} missing from {request_line}"
        );
    }
    assert!(log.contains("slow query"), "{log}");
    assert!(log.contains("INSERT INTO"), "the SQL text is logged: {log}");
    for secret in ["$argon2", "correct horse", token.as_str()] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_header_is_a_400_logged_below_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let db = TestDb::new();
    let (server, base) = start_binary(&db, &[("RUST_LOG", "info")]).await;
    let address = base.trim_start_matches("http://");
    // A space in a header name: httparse refuses it, before there is a request to route.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let output = tokio::task::spawn_blocking(move || server.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        !log.lines().any(|line| line.contains("ERROR")),
        "a client's mistake logged as a server error:\n{log}"
    );
    let line = log
        .lines()
        .find(|line| line.contains("invalid Header provided"))
        .unwrap_or_else(|| panic!("the parse error is not logged at all:\n{log}"));
    assert!(line.contains("INFO"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_what_it_accepted_and_half_writes_nothing() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use storefront::schema::{cart_items, carts, products};

    const SHOPPERS: usize = 24;
    const STOCK: i32 = 12;
    let db = TestDb::new();
    let product_id = product_in_db(&db, "Rush item", "5.00", STOCK);
    let tokens: Vec<String> = shoppers_with_one_unit(&db, SHOPPERS, product_id, "rush")
        .into_iter()
        .map(|shopper| shopper.token)
        .collect();
    // A connection and a blocking thread for every checkout, and no timeout while they
    // wait on the test's lock: all of them are in flight at once.
    let (mut server, base) = start_binary(
        &db,
        &[
            ("DB_POOL_MAX_SIZE", "24"),
            ("BLOCKING_THREADS_PER_WORKER", "32"),
            ("DB_POOL_TIMEOUT_MS", "120000"),
            ("DB_STATEMENT_TIMEOUT_MS", "120000"),
            // No drain period: this is about what happens at the stop.
            ("SHUTDOWN_DRAIN_SECS", "0"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let mut blocker = PgConnection::establish(db.url().expose()).unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM products WHERE id = {product_id} FOR UPDATE"
        ))
        .unwrap();
    let client = reqwest::Client::new();
    let requests = tokens.iter().map(|token| {
        client
            .post(format!("{base}/api/v1/cart/checkout"))
            .bearer_auth(token)
            .send()
    });
    let burst = tokio::spawn(futures_util::future::join_all(requests));
    // Every checkout is mid-transaction, waiting on the product row.
    until_waiting_on_locks(&db, SHOPPERS as i64).await;

    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    until_refusing_connections(&base).await;
    // A request after shutdown began is refused cleanly, at connect.
    let late = reqwest::Client::new()
        .post(format!("{base}/api/v1/cart/checkout"))
        .bearer_auth(&tokens[0])
        .send()
        .await;
    assert!(
        late.as_ref().is_err_and(reqwest::Error::is_connect),
        "{late:?}"
    );
    stays_up_while_draining(&mut server).await;
    blocker.batch_execute("COMMIT").unwrap();

    let results = burst.await.unwrap();
    let output = tokio::task::spawn_blocking(move || server.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "exit {:?}", output.status);

    // Every request it had accepted got a whole answer: none cut off, none a 5xx.
    let mut placed = 0;
    for result in results {
        let response = result.expect("an accepted request is answered");
        let status = response.status();
        assert!(status == 201 || status == 409, "{status}");
        response.bytes().await.expect("complete body");
        if status == 201 {
            placed += 1;
        }
    }
    assert_eq!(
        placed,
        i64::from(STOCK),
        "the stock sold out while draining"
    );
    let mut conn = db.connect();
    let left: i32 = products::table
        .find(product_id)
        .select(products::inventory_count)
        .first(&mut conn)
        .unwrap();
    let orders: i64 = carts::table
        .filter(carts::status.eq(storefront::models::CartStatus::CheckedOut))
        .count()
        .get_result(&mut conn)
        .unwrap();
    let unpriced_order_lines: i64 = cart_items::table
        .inner_join(carts::table)
        .filter(carts::status.eq(storefront::models::CartStatus::CheckedOut))
        .filter(cart_items::unit_price.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(
        orders, placed,
        "every 201 is an order and every order got its 201"
    );
    assert_eq!(
        i64::from(STOCK - left),
        orders,
        "stock moved exactly with the orders"
    );
    assert_eq!(unpriced_order_lines, 0, "no order without frozen prices");
}

/// Runs the binary against `db` and returns its stdout; fails the test, showing stderr,
/// when it exits unsuccessfully.
pub fn run_ok(db: &TestDb, args: &[&str]) -> String {
    let output = storefront()
        .env("DATABASE_URL", db.url().expose())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The number just before `label` in `text` ("… 12 orders …" -> 12).
fn count_before(text: &str, label: &str) -> i64 {
    let before = &text[..text
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} in {text}"))];
    before
        .split_whitespace()
        .last()
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("a number before {label:?} in {text}"))
}

#[test]
fn seed_creates_and_migrates_the_database_and_loads_what_it_reports() {
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    use storefront::models::CartStatus;
    use storefront::schema::{cart_items, carts, products, users};

    let db = TestDb::not_yet_created();
    let stdout = run_ok(&db, &["seed", "--users", "25", "--products", "60"]);

    assert!(stdout.contains("Seeded 25 users, 60 products"), "{stdout}");
    let mut conn = db.connect();
    let count = |query: Result<i64, diesel::result::Error>| query.unwrap();
    assert_eq!(
        count(users::table.select(count_star()).first(&mut conn)),
        25
    );
    assert_eq!(
        count(products::table.select(count_star()).first(&mut conn)),
        60
    );
    let carts_with = |conn: &mut PgConnection, status| {
        carts::table
            .filter(carts::status.eq(status))
            .select(count_star())
            .first::<i64>(conn)
            .unwrap()
    };
    let (open, orders) = (
        carts_with(&mut conn, CartStatus::Open),
        carts_with(&mut conn, CartStatus::CheckedOut),
    );
    assert_eq!(open, count_before(&stdout, "open carts"), "{stdout}");
    assert_eq!(orders, count_before(&stdout, "orders"), "{stdout}");
    assert!(open > 0 && orders > 0, "{stdout}");
    assert_eq!(
        count(cart_items::table.select(count_star()).first(&mut conn)),
        count_before(&stdout, "items"),
        "{stdout}"
    );
    // The database it created is fully migrated.
    assert!(storefront::db::migration_status(&mut conn)
        .unwrap()
        .iter()
        .all(|migration| migration.applied));
}

#[test]
fn schema_doc_writes_the_committed_docs_schema_md_for_a_fresh_database() {
    let db = TestDb::new();
    let path = std::env::temp_dir().join(format!("{}-schema.md", db.name()));
    let stdout = run_ok(&db, &["schema-doc", "-o", path.to_str().unwrap()]);
    let written = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    let written = written.expect("schema-doc -o wrote the file");
    assert!(stdout.is_empty(), "the document goes to the file: {stdout}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md")).unwrap();
    assert!(
        written == committed,
        "`storefront schema-doc -o` differs from docs/schema.md"
    );
}

#[test]
fn migrate_status_lists_every_migration_pending_before_run_and_applied_after() {
    let db = TestDb::empty();
    let mut names: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
    names.sort();
    let listing = |state: &str| -> String {
        names
            .iter()
            .map(|name| format!("{state:<8} {name}\n"))
            .collect()
    };

    assert_eq!(run_ok(&db, &["migrate", "status"]), listing("pending"));
    // Nothing to revert yet: our own message, naming our command, not diesel_cli's.
    for action in ["revert", "redo"] {
        let output = storefront()
            .env("DATABASE_URL", db.url().expose())
            .args(["migrate", action])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{action} with nothing applied");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("storefront migrate run"), "{stderr}");
        assert!(!stderr.contains("diesel migration run"), "{stderr}");
    }
    assert_eq!(run_ok(&db, &["migrate", "status"]), listing("pending"));

    run_ok(&db, &["migrate", "run"]);
    assert_eq!(run_ok(&db, &["migrate", "status"]), listing("applied"));
}
