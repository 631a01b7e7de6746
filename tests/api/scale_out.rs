//! Several instances, a proxy in front, a replica behind (DESIGN §6): the client address
//! through trusted proxies only, throttles shared through the database, catalogue reads
//! routed to a replica and back to the primary when it fails.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use storefront::config::{DatabaseUrl, ReplicaConfig, TrustedProxies};

use crate::common::proxy::DbProxy;
use crate::common::{server_url, TestApp, TestDb};
use crate::helpers::expect_problem;

/// One login attempt, as if relayed by a proxy that wrote `forwarded_for`.
async fn log_in_via(
    app: &TestApp,
    forwarded_for: Option<&str>,
    login: &str,
    password: &str,
) -> StatusCode {
    let mut request = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "login": login, "password": password }));
    if let Some(value) = forwarded_for {
        request = request.header("x-forwarded-for", value);
    }
    request
        .send()
        .await
        .expect("request reaches the server")
        .status()
}

/// An app behind a trusted proxy on 127.0.0.1 (where the test client connects from),
/// allowing `per_address` failures per client address.
fn behind_proxy(per_address: u32) -> TestApp {
    TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.http.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        config.login_throttle.max_failures_per_address = per_address;
    })
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another() {
    let app = behind_proxy(4);
    app.customer("bob").await;
    // Client A fails with four different logins: its own address allowance is used up.
    for n in 0..4 {
        let status = log_in_via(&app, Some("198.51.100.1"), &format!("nobody{n}"), "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        log_in_via(&app, Some("198.51.100.1"), "bob", "correct horse").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Client B, behind the same proxy, is someone else.
    assert_eq!(
        log_in_via(&app, Some("198.51.100.2"), "bob", "correct horse").await,
        StatusCode::OK
    );
    // A forged entry to the left of what the proxy appended changes nothing: still A.
    assert_eq!(
        log_in_via(
            &app,
            Some("203.0.113.77, 198.51.100.1"),
            "bob",
            "correct horse"
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored() {
    // No trusted proxies: the peer (127.0.0.1) is the client, whatever the header says.
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.login_throttle.max_failures_per_address = 4;
    });
    app.customer("bob").await;
    for n in 0..4 {
        let forged = format!("198.51.100.{n}");
        let status = log_in_via(&app, Some(&forged), &format!("nobody{n}"), "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A fresh forged address does not buy a fresh allowance.
    let response = app
        .client
        .post(app.url("/api/v1/sessions"))
        .header("x-forwarded-for", "198.51.100.200")
        .json(&json!({ "login": "bob", "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_malformed_forwarded_for_is_never_an_error() {
    let app = behind_proxy(50);
    app.customer("bob").await;
    let malformed = [
        "garbage",
        "",
        ", ,",
        "1.2.3.4.5",
        "::ffff:zz",
        "198.51.100.1:99999",
    ];
    for (n, header) in malformed.iter().enumerate() {
        assert_eq!(
            log_in_via(&app, Some(header), &format!("nobody{n}"), "wrong horse").await,
            StatusCode::UNAUTHORIZED,
            "{header:?}"
        );
    }
    // Not even bytes that are not text.
    let response = app
        .client
        .post(app.url("/api/v1/sessions"))
        .header(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        )
        .json(&json!({ "login": "bob", "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn three_instances_allow_exactly_the_configured_failures_in_total() {
    // The harness allows 3 failures per login; 12 attempts at once, 4 per instance.
    let first = TestApp::spawn().await;
    first.customer("carol").await;
    let instances = [first.another_instance(), first.another_instance(), first];
    let attempts = instances
        .iter()
        .cycle()
        .take(12)
        .map(|app| async move { log_in_via(app, None, "carol", "wrong horse").await });
    let statuses = join_all(attempts).await;
    let failed = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((failed, throttled), (3, 9), "{statuses:?}");
    // And the account stays locked on every instance, the right password included.
    for app in &instances {
        assert_eq!(
            log_in_via(app, None, "carol", "correct horse").await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

#[tokio::test]
async fn a_successful_login_gives_its_address_the_attempt_back() {
    let app = behind_proxy(3);
    app.customer("dave").await;
    // Many successful logins from one address never use up its failure allowance.
    for _ in 0..6 {
        assert_eq!(
            log_in_via(&app, Some("198.51.100.9"), "dave", "correct horse").await,
            StatusCode::OK
        );
    }
    assert_eq!(
        log_in_via(&app, Some("198.51.100.9"), "nobody", "x").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn registrations_are_limited_per_client_address() {
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.http.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        config.registration_limit.max = 2;
    });
    let register = |n: u32, client: &'static str| {
        app.client
            .post(app.url("/api/v1/users"))
            .header("x-forwarded-for", client)
            .json(&json!({
                "username": format!("user{n}"),
                "email": format!("user{n}@example.com"),
                "password": "correct horse",
            }))
            .send()
    };
    for n in 0..2 {
        assert_eq!(register(n, "198.51.100.1").await.unwrap().status(), 201);
    }
    let refused = register(2, "198.51.100.1").await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Nothing was created for the refused one; another address still may register.
    let mut conn = app.db.connect();
    assert!(
        storefront::repository::users::find_for_login(&mut conn, "user2")
            .unwrap()
            .is_none()
    );
    assert_eq!(register(3, "198.51.100.2").await.unwrap().status(), 201);
}

/// The URL of `db` as the replica: the test database itself (a server not in recovery
/// counts as caught up). The real streaming replica is `scripts/cluster`'s.
fn with_replica_at(db: Arc<TestDb>, url: Option<DatabaseUrl>) -> TestApp {
    let replica_url = url.unwrap_or_else(|| db.url().clone());
    TestApp::spawn_configured(db, |config| {
        config.replica = Some(ReplicaConfig {
            url: replica_url,
            connection_timeout: Duration::from_millis(200),
            max_lag: Duration::from_secs(1),
        });
    })
}

async fn catalogue_reads(app: &TestApp, pool: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("db_catalogue_reads_total{{pool=\"{pool}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |n| n.parse().unwrap())
}

async fn ready_replica(app: &TestApp) -> String {
    let body: serde_json::Value = app.get("/health/ready").await.json().await.unwrap();
    body["replica"].as_str().unwrap().to_owned()
}

async fn wait_for_replica(app: &TestApp, state: &str) {
    for _ in 0..50 {
        if ready_replica(app).await == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("replica never became {state}: {}", ready_replica(app).await);
}

#[tokio::test]
async fn anonymous_catalogue_reads_go_to_a_healthy_replica_and_the_rest_to_the_primary() {
    let app = with_replica_at(Arc::new(TestDb::new()), None);
    wait_for_replica(&app, "up").await;
    let admin = app.admin("staff").await;
    let product = app.product(&admin, "Teapot", "", "19.99", 3).await;
    let path = format!("/api/v1/products/{}", product["id"]);

    let (replica_before, primary_before) = (
        catalogue_reads(&app, "replica").await,
        catalogue_reads(&app, "primary").await,
    );
    assert_eq!(app.get(&path).await.status(), 200);
    assert_eq!(app.get("/api/v1/products").await.status(), 200);
    assert_eq!(catalogue_reads(&app, "replica").await, replica_before + 2);
    // With credentials: the primary (staff see their own writes at once).
    assert_eq!(app.get_as(&path, &admin.token).await.status(), 200);
    assert_eq!(catalogue_reads(&app, "replica").await, replica_before + 2);
    assert_eq!(catalogue_reads(&app, "primary").await, primary_before);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"db_pool_max_size{pool="replica"} "#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_replica_that_goes_away_is_skipped_and_clients_see_no_error() {
    // The replica is the test database behind a proxy that can be cut.
    let db = Arc::new(TestDb::new());
    let proxy = DbProxy::start(server_url()).await;
    let replica_url = proxy.url_for(db.url());
    let app = with_replica_at(db, Some(replica_url));
    wait_for_replica(&app, "up").await;
    assert_eq!(app.get("/api/v1/products").await.status(), 200);
    assert_eq!(catalogue_reads(&app, "replica").await, 1);

    // Cut while it is believed up: the first read meets the dead connection and is
    // served by the primary; the following ones skip the replica.
    proxy.stop();
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/products").await.status(), 200);
    }
    assert_eq!(catalogue_reads(&app, "replica").await, 1);
    assert_eq!(catalogue_reads(&app, "primary").await, 5);
    assert_eq!(ready_replica(&app).await, "down");
    assert_eq!(app.get("/health/ready").await.status(), 200);

    // Back: reads return to it.
    proxy.resume();
    wait_for_replica(&app, "up").await;
    assert_eq!(app.get("/api/v1/products").await.status(), 200);
    assert_eq!(catalogue_reads(&app, "replica").await, 2);
}
