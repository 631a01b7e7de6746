//! CORS for front ends on other origins: off unless configured; then listed origins get
//! their headers (on errors too) and a preflight answer, and other origins get none.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, TestDb};
use crate::helpers::{expect_json, expect_problem};

const SHOP: &str = "https://shop.example.com";

fn app_allowing(origins: &[&str]) -> TestApp {
    let origins: Vec<String> = origins.iter().map(|origin| origin.to_string()).collect();
    TestApp::spawn_configured(Arc::new(TestDb::new()), move |config| {
        config.http.cors_allowed_origins = origins;
    })
}

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/v1/cart/items"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .unwrap()
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Origin", origin)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let app = TestApp::spawn().await;
    let response = get_from(&app, "/api/v1/products", SHOP).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_listed_origin_gets_a_preflight_answer_and_headers_on_every_response() {
    let app = app_allowing(&[SHOP, "http://localhost:3000"]);

    let answer = preflight(
        &app,
        SHOP,
        "POST",
        "authorization,content-type,idempotency-key,if-match,x-cart-token",
    )
    .await;
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(SHOP));
    let methods = header(&answer, "access-control-allow-methods").unwrap();
    for method in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = header(&answer, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "x-cart-token",
    ] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert_eq!(header(&answer, "access-control-max-age"), Some("3600"));

    // A success and an error alike carry the origin and expose the headers a front end reads.
    let listed = get_from(&app, "/api/v1/products", SHOP).await;
    assert_eq!(header(&listed, "access-control-allow-origin"), Some(SHOP));
    assert!(header(&listed, "vary").unwrap().contains("Origin"));
    let exposed = header(&listed, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "etag",
        "location",
        "retry-after",
        "x-request-id",
        "idempotent-replayed",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
    let unauthorized = get_from(&app, "/api/v1/cart", "http://localhost:3000").await;
    assert_eq!(
        header(&unauthorized, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    expect_problem(unauthorized, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn other_origins_are_served_without_cors_headers_and_refused_preflights_are_problems() {
    let app = app_allowing(&[SHOP]);
    // Served as usual (curl and servers send any Origin they like); the browser refuses.
    let response = get_from(&app, "/api/v1/products", "https://evil.example").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    expect_json(response, StatusCode::OK).await;

    for refused in [
        preflight(&app, "https://evil.example", "POST", "content-type").await,
        preflight(&app, SHOP, "PUT", "content-type").await,
        preflight(&app, SHOP, "POST", "x-not-allowed").await,
    ] {
        assert_eq!(header(&refused, "access-control-allow-origin"), None);
        let problem = expect_problem(refused, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_wildcard_allows_any_origin() {
    let app = app_allowing(&["*"]);
    let created = app
        .client
        .post(app.url("/api/v1/users"))
        .header("Origin", "https://anywhere.example")
        .json(&json!({"username": "corsy", "email": "corsy@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let allowed = header(&created, "access-control-allow-origin").unwrap();
    assert!(
        allowed == "*" || allowed == "https://anywhere.example",
        "{allowed}"
    );
}
