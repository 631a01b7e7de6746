//! Webhooks to other systems (DESIGN §11) over HTTP: staff's endpoints, and the relay
//! delivering events to a receiver on port 0 as Standard Webhooks, retried with the same
//! `webhook-id`, signed with both secrets while a rotation overlaps, never before the
//! change commits, never to an address inside the network unless allowed.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use storefront::domain::{EventType, WebhookSecret};

use crate::common::{TestApp, TestDb};
use crate::helpers::{expect_json, expect_problem, Customer};
use crate::payment_gateway::{Received, Receiver};

/// Creates an endpoint for `events` at `url`; its JSON (with the secret).
async fn endpoint(app: &TestApp, admin: &Customer, url: &str, events: &[&str]) -> Value {
    let created = app
        .post_json(
            "/api/v1/webhook-endpoints",
            &json!({"url": url, "events": events, "description": "the ERP"}),
            Some(&admin.token),
        )
        .await;
    expect_json(created, StatusCode::CREATED).await
}

fn verifies(secret: &str, hook: &Received) -> bool {
    WebhookSecret::parse(secret)
        .unwrap()
        .verify(
            &hook.id,
            &hook.timestamp,
            &hook.signature,
            hook.body.as_bytes(),
            chrono::Utc::now().timestamp(),
        )
        .is_ok()
}

async fn deliveries(app: &TestApp, admin: &Customer, endpoint: &Value) -> Vec<Value> {
    let path = format!("/api/v1/webhook-endpoints/{}/deliveries", endpoint["id"]);
    let page = expect_json(app.get_as(&path, &admin.token).await, StatusCode::OK).await;
    page["items"].as_array().unwrap().clone()
}

/// Polls the endpoint's deliveries until `done` holds (20 s at most).
async fn deliveries_once(
    app: &TestApp,
    admin: &Customer,
    endpoint: &Value,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut items = Vec::new();
    for _ in 0..100 {
        items = deliveries(app, admin, endpoint).await;
        if done(&items) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    items
}

/// An endpoint answering 500, 500, then 200: three attempts of one delivery, each with
/// the same `webhook-id` and a signature that verifies with the secret shown at creation;
/// the body is the event, thin; the delivery reads delivered after three attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_gets_the_same_delivery_until_it_answers_2xx() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let receiver = Receiver::start(vec![500, 500]);
    let created = endpoint(&app, &admin, &receiver.url, &["product.created"]).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["events"], json!(["product.created"]));

    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let hooks = receiver.until(3).await;
    assert_eq!(hooks.len(), 3);
    assert!(
        hooks.iter().all(|hook| hook.id == hooks[0].id),
        "one webhook-id"
    );
    assert!(hooks.iter().all(|hook| verifies(&secret, hook)));
    let body: Value = serde_json::from_str(&hooks[0].body).unwrap();
    assert_eq!(body["id"], hooks[0].id.as_str());
    assert_eq!(body["type"], "product.created");
    assert_eq!(body["data"]["product_id"], teapot["id"]);

    let items = deliveries_once(&app, &admin, &created, |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["attempts"], 3);
    assert_eq!(items[0]["last_status_code"], 200);
    assert_eq!(items[0]["event_type"], "product.created");
    // Only what it asked for: the product's update is not sent.
    app.patch_json(
        &format!("/api/v1/products/{}", teapot["id"]),
        &json!({"price": "18.00"}),
        Some(&admin.token),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(receiver.received().len(), 3);
}

/// An event is sent only once its transaction commits: none while it is open, none if it
/// rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_before_commit_or_after_a_rollback() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let receiver = Receiver::start(Vec::new());
    endpoint(&app, &admin, &receiver.url, &[]).await;
    let mut conn = app.db.connect();

    let rolled_back: Result<(), diesel::result::Error> = conn.transaction(|conn| {
        storefront::repository::events::record(conn, EventType::StockLow, json!({"n": 1}))?;
        // Longer than the relay's interval.
        std::thread::sleep(Duration::from_millis(2_500));
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(rolled_back.is_err());
    assert!(receiver.received().is_empty(), "sent before commit");

    conn.transaction(|conn| {
        storefront::repository::events::record(conn, EventType::StockLow, json!({"n": 2}))
    })
    .unwrap();
    let hooks = receiver.until(1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "the rolled-back one never came"
    );
    let body: Value = serde_json::from_str(&hooks[0].body).unwrap();
    assert_eq!(body["data"], json!({"n": 2}));
}

/// During a rotation's overlap both secrets verify a delivery; after it only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_alongside_the_new_one_until_the_overlap_ends() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let receiver = Receiver::start(Vec::new());
    let created = endpoint(&app, &admin, &receiver.url, &["product.created"]).await;
    let old = created["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/webhook-endpoints/{}/rotate-secret", created["id"]);
    let rotated = expect_json(
        app.post_json(&path, &json!({}), Some(&admin.token)).await,
        StatusCode::OK,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());

    app.product(&admin, "Cup", "white", "4.50", 10).await;
    let hook = receiver.until(1).await.remove(0);
    assert_eq!(hook.signature.split(' ').count(), 2, "{}", hook.signature);
    assert!(verifies(&old, &hook) && verifies(&new, &hook));

    {
        use storefront::schema::webhook_endpoints;
        diesel::update(webhook_endpoints::table)
            .set(
                webhook_endpoints::previous_secret_until
                    .eq(chrono::Utc::now() - chrono::Duration::seconds(1)),
            )
            .execute(&mut app.db.connect())
            .unwrap();
    }
    app.product(&admin, "Mug", "red", "5.50", 10).await;
    let hook = receiver.until(2).await.remove(1);
    assert!(verifies(&new, &hook));
    assert!(!verifies(&old, &hook), "the old secret still signs");
}

/// An endpoint that answers 410 Gone is disabled; a failed delivery can be sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_and_a_failed_delivery_can_be_retried() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let gone = Receiver::start(vec![410]);
    let leaving = endpoint(&app, &admin, &gone.url, &["product.created"]).await;
    // Three 500s: the first attempt and two retries (the tests' schedule), then failed.
    let failing = Receiver::start(vec![500, 500, 500]);
    let flaky = endpoint(&app, &admin, &failing.url, &["product.created"]).await;

    app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let items = deliveries_once(&app, &admin, &leaving, |items| {
        items.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    assert_eq!(items[0]["last_status_code"], 410);
    let read = expect_json(
        app.get_as(
            &format!("/api/v1/webhook-endpoints/{}", leaving["id"]),
            &admin.token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["enabled"], false);
    assert!(read["disabled_reason"].as_str().unwrap().contains("410"));
    assert!(read.get("secret").is_none(), "the secret is shown once");

    let items = deliveries_once(&app, &admin, &flaky, |items| {
        items.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    assert_eq!(items[0]["attempts"], 3, "{items:?}");
    let retried = expect_json(
        app.post_json(
            &format!("/api/v1/webhook-deliveries/{}/retry", items[0]["id"]),
            &json!({}),
            Some(&admin.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried["status"], "pending");
    let items = deliveries_once(&app, &admin, &flaky, |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(items[0]["attempts"], 4);
    let hooks = failing.received();
    assert_eq!(hooks.len(), 4);
    assert!(hooks.iter().all(|hook| hook.id == hooks[0].id));
}

/// Without WEBHOOK_ALLOW_PRIVATE_TARGETS, a loopback or private target is refused when
/// the endpoint is created, and one that got in anyway is refused when the relay
/// connects: nothing reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_targets_are_refused_at_creation_and_at_connect_time() {
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.webhooks.allow_private_targets = false;
    });
    let admin = app.admin("staff").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let refused = app
            .post_json(
                "/api/v1/webhook-endpoints",
                &json!({"url": url}),
                Some(&admin.token),
            )
            .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }

    // In through the back door (a row written directly): the relay still refuses.
    let receiver = Receiver::start(Vec::new());
    {
        use storefront::schema::webhook_endpoints;
        diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::url.eq(&receiver.url),
                webhook_endpoints::secret.eq(WebhookSecret::random().to_text()),
            ))
            .execute(&mut app.db.connect())
            .unwrap();
    }
    app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let listed = expect_json(
        app.get_as("/api/v1/webhook-endpoints", &admin.token).await,
        StatusCode::OK,
    )
    .await;
    let smuggled = listed["items"][0].clone();
    let items = deliveries_once(&app, &admin, &smuggled, |items| {
        items
            .first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(1) && !d["last_error"].is_null())
    })
    .await;
    assert!(
        items[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{items:?}"
    );
    assert!(receiver.received().is_empty());
}

/// Staff's endpoint routes: bad input named, customers refused, deleted is gone.
#[tokio::test]
async fn endpoints_are_staff_only_and_validated() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    let refused = app
        .post_json(
            "/api/v1/webhook-endpoints",
            &json!({"url": "http://127.0.0.1:9/"}),
            Some(&alice.token),
        )
        .await;
    expect_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let bad = app
        .post_json(
            "/api/v1/webhook-endpoints",
            &json!({"url": "http://127.0.0.1:9/", "events": ["order.lost"]}),
            Some(&admin.token),
        )
        .await;
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "events");

    let created = endpoint(&app, &admin, "http://127.0.0.1:9/", &["order.paid"]).await;
    let path = format!("/api/v1/webhook-endpoints/{}", created["id"]);
    let paused = expect_json(
        app.patch_json(
            &path,
            &json!({"enabled": false, "events": ["order.placed", "order.paid"]}),
            Some(&admin.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paused["enabled"], false);
    assert_eq!(paused["events"], json!(["order.paid", "order.placed"]));
    assert!(paused.get("secret").is_none());
    let deleted = app.delete_as(&path, Some(&admin.token)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = app.get_as(&path, &admin.token).await;
    expect_problem(again, StatusCode::NOT_FOUND, "not_found").await;
}
