//! Errors outside any handler: unknown paths and wrong methods answer problem+json too.

use reqwest::StatusCode;

use crate::common::TestApp;
use crate::helpers::{error_fields, expect_problem};

#[tokio::test]
async fn unknown_paths_are_404_problem_json() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/api/v1/nope", "/health"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["type"], "/problems/not_found");
        assert!(body["title"].is_string() && body["detail"].is_string());
    }
}

#[tokio::test]
async fn wrong_methods_are_405_problem_json() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
}

/// Every documented path, with `{params}` filled in, and the methods it answers.
async fn documented_paths(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let document: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let concrete = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let mut methods: Vec<String> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|method| method.to_uppercase())
                .collect();
            // HEAD is answered wherever GET is, documented or not.
            if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                methods.push("HEAD".into());
            }
            (concrete, methods)
        })
        .collect()
}

/// What each documented operation answers an anonymous request without a body, on an
/// empty database, with every `{id}` = 1: 401 where a token is needed, 400 where a JSON
/// body is (there is none), 404 for a product that does not exist, otherwise 200.
const ANONYMOUS_BODYLESS: &[(&str, &str, u16)] = &[
    ("GET", "/api/v1/cart", 401),
    ("HEAD", "/api/v1/cart", 401),
    ("POST", "/api/v1/cart/checkout", 401),
    ("POST", "/api/v1/cart/quote", 401),
    ("GET", "/api/v1/users/me/addresses", 401),
    ("HEAD", "/api/v1/users/me/addresses", 401),
    ("POST", "/api/v1/users/me/addresses", 401),
    ("PATCH", "/api/v1/users/me/addresses/1", 401),
    ("DELETE", "/api/v1/users/me/addresses/1", 401),
    // Public reads; the method and the rate "1" do not exist; staff writes.
    ("GET", "/api/v1/shipping-methods", 200),
    ("HEAD", "/api/v1/shipping-methods", 200),
    ("POST", "/api/v1/shipping-methods", 401),
    ("GET", "/api/v1/shipping-methods/1", 404),
    ("HEAD", "/api/v1/shipping-methods/1", 404),
    ("PATCH", "/api/v1/shipping-methods/1", 401),
    ("DELETE", "/api/v1/shipping-methods/1", 401),
    ("GET", "/api/v1/categories", 200),
    ("HEAD", "/api/v1/categories", 200),
    ("POST", "/api/v1/categories", 401),
    ("GET", "/api/v1/categories/1", 404),
    ("HEAD", "/api/v1/categories/1", 404),
    ("PATCH", "/api/v1/categories/1", 401),
    ("DELETE", "/api/v1/categories/1", 401),
    ("GET", "/api/v1/product-groups", 401),
    ("HEAD", "/api/v1/product-groups", 401),
    ("POST", "/api/v1/product-groups", 401),
    ("GET", "/api/v1/product-groups/1", 404),
    ("HEAD", "/api/v1/product-groups/1", 404),
    ("PATCH", "/api/v1/product-groups/1", 401),
    ("DELETE", "/api/v1/product-groups/1", 401),
    ("GET", "/api/v1/tax-rates", 200),
    ("HEAD", "/api/v1/tax-rates", 200),
    ("POST", "/api/v1/tax-rates", 401),
    ("GET", "/api/v1/tax-rates/1", 404),
    ("HEAD", "/api/v1/tax-rates/1", 404),
    ("PATCH", "/api/v1/tax-rates/1", 401),
    ("DELETE", "/api/v1/tax-rates/1", 401),
    ("POST", "/api/v1/cart/items", 401),
    ("PATCH", "/api/v1/cart/items/1", 401),
    ("DELETE", "/api/v1/cart/items/1", 401),
    ("GET", "/api/v1/orders", 401),
    ("HEAD", "/api/v1/orders", 401),
    ("GET", "/api/v1/orders/1", 401),
    ("HEAD", "/api/v1/orders/1", 401),
    ("POST", "/api/v1/orders/1/cancel", 401),
    ("POST", "/api/v1/orders/1/fulfilments", 401),
    ("POST", "/api/v1/orders/1/payments", 401),
    ("POST", "/api/v1/orders/1/payments/1/complete", 401),
    ("POST", "/api/v1/orders/1/refunds", 401),
    // No webhook headers: refused before anything else.
    ("POST", "/api/v1/payments/webhooks/1", 400),
    ("GET", "/api/v1/webhook-endpoints", 401),
    ("HEAD", "/api/v1/webhook-endpoints", 401),
    ("POST", "/api/v1/webhook-endpoints", 401),
    ("GET", "/api/v1/webhook-endpoints/1", 401),
    ("HEAD", "/api/v1/webhook-endpoints/1", 401),
    ("PATCH", "/api/v1/webhook-endpoints/1", 401),
    ("DELETE", "/api/v1/webhook-endpoints/1", 401),
    ("POST", "/api/v1/webhook-endpoints/1/rotate-secret", 401),
    ("GET", "/api/v1/webhook-endpoints/1/deliveries", 401),
    ("HEAD", "/api/v1/webhook-endpoints/1/deliveries", 401),
    ("POST", "/api/v1/webhook-deliveries/1/retry", 401),
    ("GET", "/api/v1/admin/orders", 401),
    ("HEAD", "/api/v1/admin/orders", 401),
    ("GET", "/api/v1/products", 200),
    ("HEAD", "/api/v1/products", 200),
    ("POST", "/api/v1/products", 401),
    ("GET", "/api/v1/products/1", 404),
    ("HEAD", "/api/v1/products/1", 404),
    ("PATCH", "/api/v1/products/1", 401),
    ("DELETE", "/api/v1/products/1", 401),
    ("GET", "/api/v1/products/1/history", 401),
    ("HEAD", "/api/v1/products/1/history", 401),
    ("POST", "/api/v1/sessions", 400),
    // Anyone may create a guest cart: 201 with no body.
    ("POST", "/api/v1/guest-carts", 201),
    ("DELETE", "/api/v1/sessions/current", 401),
    ("POST", "/api/v1/users", 400),
    ("GET", "/api/v1/users/me", 401),
    ("HEAD", "/api/v1/users/me", 401),
    ("PATCH", "/api/v1/users/me", 401),
    // /docs redirects to /docs/ (followed).
    ("GET", "/docs", 200),
    ("HEAD", "/docs", 200),
    ("GET", "/health/live", 200),
    ("HEAD", "/health/live", 200),
    ("GET", "/health/ready", 200),
    ("HEAD", "/health/ready", 200),
    ("GET", "/metrics", 200),
    ("HEAD", "/metrics", 200),
    ("GET", "/openapi.json", 200),
    ("HEAD", "/openapi.json", 200),
];

#[tokio::test]
async fn a_405_says_which_methods_the_document_lists_and_the_router_serves_them() {
    let app = TestApp::spawn().await;
    let all = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"];
    let mut answered = Vec::new();
    for (path, documented) in documented_paths(&app).await {
        for method in all {
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(&path))
                .send()
                .await
                .unwrap();
            let status = response.status();
            if documented.iter().any(|m| m == method) {
                let expected = ANONYMOUS_BODYLESS
                    .iter()
                    .find(|(m, p, _)| *m == method && *p == path)
                    .unwrap_or_else(|| panic!("{method} {path}: add it to ANONYMOUS_BODYLESS"))
                    .2;
                assert_eq!(status.as_u16(), expected, "{method} {path}");
                answered.push((method, path.clone()));
                continue;
            }
            assert_eq!(status, 405, "{method} {path}");
            let allow = response.headers()["allow"].to_str().unwrap().to_owned();
            let mut allowed: Vec<&str> = allow.split(", ").collect();
            allowed.sort_unstable();
            let mut expected: Vec<&str> = documented.iter().map(String::as_str).collect();
            expected.sort_unstable();
            assert_eq!(allowed, expected, "Allow of {path}");
            if method != "HEAD" {
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
            }
        }
    }
    // And nothing in the table has left the document.
    assert_eq!(answered.len(), ANONYMOUS_BODYLESS.len(), "{answered:?}");
}

#[tokio::test]
async fn head_is_get_without_the_body() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/api/v1/products", "/openapi.json"] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers()["content-type"],
            get.headers()["content-type"],
            "{path}"
        );
        let length = get.bytes().await.unwrap().len();
        assert!(length > 0);
        assert_eq!(
            head.headers()["content-length"].to_str().unwrap(),
            length.to_string(),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    // A route that needs a token still needs one; an unknown product is still 404.
    for (path, status) in [
        ("/api/v1/users/me", StatusCode::UNAUTHORIZED),
        ("/api/v1/products/999999", StatusCode::NOT_FOUND),
    ] {
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), status, "{path}");
    }
}

#[tokio::test]
async fn missing_docs_files_are_404_problem_json_and_the_page_is_served() {
    let app = TestApp::spawn().await;
    let response = app.get("/docs/nonexistent").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}

/// Posts `body` verbatim as JSON.
async fn post_raw(app: &TestApp, path: &str, body: &'static str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn body_shape_errors_name_the_field() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        // Wrong type: the field, not "body".
        (
            r#"{"username":5,"email":"a@b.co","password":"12345678"}"#,
            "username",
        ),
        (
            r#"{"username":"alice","email":["a@b.co"],"password":"12345678"}"#,
            "email",
        ),
        // A key twice is ambiguous: refused, never last-wins.
        (
            r#"{"username":"alice","username":"mallory","email":"a@b.co","password":"12345678"}"#,
            "username",
        ),
        (r#"{"username":"alice","email":"a@b.co"}"#, "password"),
        (
            r#"{"username":"alice","email":"a@b.co","password":"12345678","is_admin":true}"#,
            "is_admin",
        ),
        (r#"["alice"]"#, "body"),
    ] {
        let problem = expect_problem(
            post_raw(&app, "/api/v1/users", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }
    // Nothing was registered by the duplicate-key body: neither the first name (alice)
    // nor the last (mallory, what a last-wins parser would have kept).
    for login in ["alice", "mallory"] {
        expect_problem(
            app.post_json(
                "/api/v1/sessions",
                &serde_json::json!({"login": login, "password": "12345678"}),
                None,
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    let mut conn = app.db.connect();
    for name in ["alice", "mallory"] {
        assert!(
            storefront::repository::users::find_for_login(&mut conn, name)
                .unwrap()
                .is_none(),
            "{name} was registered"
        );
    }
}

#[tokio::test]
async fn an_unreadable_body_is_a_400_that_shows_no_internals() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(r#"{"username":"alice","email":"a@b.co","password":"12345678"}"#)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let detail = problem["detail"].as_str().unwrap();
    for internal in ["Some(", "Custom", "kind", "Eof", "gzip header"] {
        assert!(!detail.contains(internal), "{detail}");
    }
}
