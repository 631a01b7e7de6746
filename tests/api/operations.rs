//! What an operator relies on: metrics, request ids, the OpenAPI document and the docs page.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;
use crate::helpers::expect_json;

#[tokio::test]
async fn metrics_count_requests_per_route_and_report_the_pool() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/products/12345").await;
    app.get("/api/v1/products/67890").await;
    app.get("/health/live").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/api/v1/products/{id}",status="4xx"} 2"#,
        r#"http_requests_total{method="GET",route="/health/live",status="2xx"} 1"#,
        r#"http_request_duration_seconds_count{method="GET",route="/api/v1/products/{id}",status="4xx"} 2"#,
        // Pool metrics carry the pool's name (DESIGN §6); no replica is configured here.
        r#"db_pool_max_size{pool="primary"} 4"#,
        r#"db_pool_connections{pool="primary"} "#,
        r#"db_pool_idle_connections{pool="primary"} "#,
        r#"db_pool_checkout_wait_seconds_count{pool="primary"} "#,
        r#"db_pool_timeouts_total{pool="primary"} 0"#,
        r#"db_catalogue_reads_total{pool="primary"} "#,
        "storefront_build_info{version=",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let generated = app.get("/health/live").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(
        app.get("/health/live").await.headers()["x-request-id"]
            .to_str()
            .unwrap(),
        id
    );

    let echoed = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "client-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), StatusCode::NOT_FOUND);
    assert_eq!(echoed.headers()["x-request-id"], "client-abc-123");

    let hostile = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "a b\"<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(
        hostile.headers()["x-request-id"],
        "a b\"<script>",
        "replaced, not echoed"
    );
}

/// Every operation the service serves.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/me"),
    ("patch", "/api/v1/users/me"),
    ("post", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/current"),
    ("post", "/api/v1/guest-carts"),
    ("get", "/api/v1/products"),
    ("post", "/api/v1/products"),
    ("get", "/api/v1/products/{id}"),
    ("patch", "/api/v1/products/{id}"),
    ("delete", "/api/v1/products/{id}"),
    ("get", "/api/v1/categories"),
    ("post", "/api/v1/categories"),
    ("get", "/api/v1/categories/{id}"),
    ("patch", "/api/v1/categories/{id}"),
    ("delete", "/api/v1/categories/{id}"),
    ("get", "/api/v1/product-groups"),
    ("post", "/api/v1/product-groups"),
    ("get", "/api/v1/product-groups/{id}"),
    ("patch", "/api/v1/product-groups/{id}"),
    ("delete", "/api/v1/product-groups/{id}"),
    ("get", "/api/v1/products/{id}/history"),
    ("get", "/api/v1/cart"),
    ("post", "/api/v1/cart/items"),
    ("patch", "/api/v1/cart/items/{item_id}"),
    ("delete", "/api/v1/cart/items/{item_id}"),
    ("post", "/api/v1/cart/quote"),
    ("post", "/api/v1/cart/checkout"),
    ("get", "/api/v1/users/me/addresses"),
    ("post", "/api/v1/users/me/addresses"),
    ("patch", "/api/v1/users/me/addresses/{id}"),
    ("delete", "/api/v1/users/me/addresses/{id}"),
    ("get", "/api/v1/shipping-methods"),
    ("post", "/api/v1/shipping-methods"),
    ("get", "/api/v1/shipping-methods/{id}"),
    ("patch", "/api/v1/shipping-methods/{id}"),
    ("delete", "/api/v1/shipping-methods/{id}"),
    ("get", "/api/v1/tax-rates"),
    ("post", "/api/v1/tax-rates"),
    ("get", "/api/v1/tax-rates/{country}"),
    ("patch", "/api/v1/tax-rates/{country}"),
    ("delete", "/api/v1/tax-rates/{country}"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{id}"),
    ("post", "/api/v1/orders/{id}/cancel"),
    ("post", "/api/v1/orders/{id}/fulfilments"),
    ("post", "/api/v1/orders/{id}/payments"),
    ("post", "/api/v1/orders/{id}/payments/{payment_id}/complete"),
    ("post", "/api/v1/orders/{id}/refunds"),
    ("post", "/api/v1/payments/webhooks/{provider}"),
    ("get", "/api/v1/webhook-endpoints"),
    ("post", "/api/v1/webhook-endpoints"),
    ("get", "/api/v1/webhook-endpoints/{id}"),
    ("patch", "/api/v1/webhook-endpoints/{id}"),
    ("delete", "/api/v1/webhook-endpoints/{id}"),
    ("post", "/api/v1/webhook-endpoints/{id}/rotate-secret"),
    ("get", "/api/v1/webhook-endpoints/{id}/deliveries"),
    ("post", "/api/v1/webhook-deliveries/{id}/retry"),
    ("get", "/api/v1/admin/orders"),
];

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let doc = expect_json(app.get("/openapi.json").await, StatusCode::OK).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    // HEAD is answered wherever GET is (tests/api/errors.rs), not documented.
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Problem",
        "ProductResponse",
        "CartResponse",
        "OrderResponse",
        "FulfilmentResponse",
        "UserResponse",
        "SessionResponse",
        "StockShortage",
        "GuestCartResponse",
        "CartMergeResponse",
        "HistoryPage",
        "HistoryItem",
        "PriceChange",
        "StockMovement",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    let user_fields = schemas["UserResponse"]["properties"].as_object().unwrap();
    assert!(!user_fields.contains_key("password_hash"));

    for (method, path) in OPERATIONS {
        let operation = &doc["paths"][path][method];
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .keys()
                .any(|status| status.starts_with('2') || status.starts_with('3')),
            "{method} {path} documents no success"
        );
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} is not documented as problem+json"
                );
            }
        }
        // Each route really exists: anything but 404/405 for an unauthenticated call
        // proves the path and method are routed.
        let url = app.url(&path.replace("{id}", "1").replace("{item_id}", "1"));
        let response = app
            .client
            .request(method.to_uppercase().parse().unwrap(), url)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let routed = status != StatusCode::METHOD_NOT_ALLOWED
            && (status != StatusCode::NOT_FOUND || path.contains('{'));
        assert!(routed, "{method} {path} answered {status}");
        // Public operations say `security: []`; the others name the bearer scheme.
        let secured = operation["security"]
            .as_array()
            .is_some_and(|requirements| !requirements.is_empty());
        if secured {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} should need a token"
            );
        }
    }
}

/// Chromium for the rendering test: Debian's, installed by .ci/run.
fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
}

#[tokio::test]
async fn the_docs_page_renders_every_operation_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (see .ci/run)"
        );
        eprintln!("skipped: no chromium on this machine (apt-get install chromium to run it)");
        return;
    };
    let app = TestApp::spawn().await;
    let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(
        redirect.status(),
        StatusCode::OK,
        "followed /docs -> /docs/"
    );

    let profile = std::env::temp_dir().join(format!("storefront-chromium-{}", std::process::id()));
    let page = app.url("/docs/");
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&page)
        .output()
        .await
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("swagger-ui"),
        "no Swagger UI in the page:\n{dom:.2000}"
    );
    for (_, path) in OPERATIONS {
        // Swagger UI renders each path, with zero-width breaks after slashes.
        let rendered = dom.replace('\u{200b}', "").replace("<wbr>", "");
        assert!(rendered.contains(path), "{path} not rendered");
    }
}

/// What generated clients need of the document: unique operation ids (duplicates make
/// generators reject it or mistype operations), a summary for each, security stated
/// even when none is needed, a server, and the headers the middleware adds.
#[tokio::test]
async fn every_operation_is_named_once_summarised_and_states_its_security() {
    let app = TestApp::spawn().await;
    let doc = expect_json(app.get("/openapi.json").await, StatusCode::OK).await;
    assert!(!doc["servers"].as_array().unwrap().is_empty());
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "operationId {id} used twice");
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            // Stated, or the document's (bearer or none: the cart's, for guests).
            assert!(
                operation["security"].is_array() || doc["security"].is_array(),
                "{method} {path} states no security"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("405"), "{method} {path}: no 405");
            for (status, response) in responses {
                assert!(
                    response["headers"]["X-Request-Id"].is_object(),
                    "{method} {path} {status}: X-Request-Id undeclared"
                );
            }
        }
    }
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    assert!(problem["code"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("insufficient_stock")));
    let cart = &doc["components"]["schemas"]["CartResponse"];
    assert_eq!(
        cart["properties"]["status"]["enum"],
        json!(["open", "checked_out"])
    );
    assert!(cart["required"]
        .as_array()
        .unwrap()
        .contains(&json!("checked_out_at")));
}
