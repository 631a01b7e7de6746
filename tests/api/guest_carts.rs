//! Guest carts (DESIGN.md §7): a cart token from `POST /guest-carts`, the cart routes
//! with `X-Cart-Token`, and the merge into the user's cart when they log in with it.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use storefront::config::TrustedProxies;

use crate::common::{TestApp, TestDb};
use crate::helpers::{eventually, expect_json, expect_problem, until_waiting_on_locks, Customer};

const CART_TOKEN: &str = "X-Cart-Token";

impl TestApp {
    /// A new guest cart's token.
    pub async fn guest(&self) -> String {
        let created = expect_json(self.create_guest_cart().await, StatusCode::CREATED).await;
        created["token"].as_str().expect("token").to_owned()
    }

    async fn create_guest_cart(&self) -> Response {
        self.client
            .post(self.url("/api/v1/guest-carts"))
            .send()
            .await
            .expect("request reaches the server")
    }

    fn as_guest(&self, request: RequestBuilder, token: &str) -> RequestBuilder {
        request.header(CART_TOKEN, token)
    }

    async fn guest_cart(&self, token: &str) -> Response {
        self.as_guest(self.client.get(self.url("/api/v1/cart")), token)
            .send()
            .await
            .unwrap()
    }

    pub async fn guest_add(&self, token: &str, product_id: &Value, quantity: i64) -> Response {
        self.as_guest(self.client.post(self.url("/api/v1/cart/items")), token)
            .json(&json!({"product_id": product_id, "quantity": quantity}))
            .send()
            .await
            .unwrap()
    }

    /// Logs `username` in (password "correct horse") with the guest's cart token.
    async fn log_in_with_cart(&self, username: &str, password: &str, token: &str) -> Response {
        self.as_guest(self.client.post(self.url("/api/v1/sessions")), token)
            .json(&json!({"login": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    fn guest_carts_in_db(&self) -> i64 {
        use storefront::schema::carts;
        carts::table
            .filter(carts::user_id.is_null())
            .count()
            .get_result(&mut self.db.connect())
            .unwrap()
    }
}

/// product id -> quantity of a cart's lines.
fn quantities(cart: &Value) -> Vec<(i64, i64)> {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["product_id"].as_i64().unwrap(),
                line["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn shop() -> (TestApp, Customer, Customer) {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    (app, admin, alice)
}

#[tokio::test]
async fn a_guest_fills_a_cart_and_logging_in_merges_it_and_kills_the_token() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 10).await;
    expect_json(
        app.add_to_cart(&alice, &teapot["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;

    // Create: 201, the token (shown once), its expiry, an empty open cart.
    let created = app.create_guest_cart().await;
    assert_eq!(created.headers()["cache-control"], "no-store");
    assert_eq!(created.headers()["location"], "/api/v1/cart");
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let created = expect_json(created, StatusCode::CREATED).await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43, "{created}");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    let in_a_day = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(
        (expires_at.timestamp() - in_a_day.timestamp()).abs() < 60,
        "{created}"
    );
    assert_eq!(created["cart"]["status"], "open");
    assert_eq!(created["cart"]["items"], json!([]));
    // Only the token's SHA-256 is stored.
    let stored: Vec<u8> = {
        use storefront::schema::carts;
        carts::table
            .filter(carts::user_id.is_null())
            .select(carts::guest_token_hash.assume_not_null())
            .first(&mut app.db.connect())
            .unwrap()
    };
    assert_eq!(
        Some(stored.as_slice()),
        storefront::auth::hash_token(&token)
            .as_ref()
            .map(|h| &h[..])
    );

    // Add with the cart token (If-Match with the creation's tag holds), then read it.
    let added = app
        .as_guest(app.client.post(app.url("/api/v1/cart/items")), &token)
        .header("If-Match", &etag)
        .json(&json!({"product_id": teapot["id"], "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert!(added.headers().contains_key("etag"));
    expect_json(added, StatusCode::CREATED).await;
    expect_json(
        app.guest_add(&token, &cup["id"], 3).await,
        StatusCode::CREATED,
    )
    .await;
    let read = app.guest_cart(&token).await;
    assert!(read.headers().contains_key("etag"));
    let guest_cart = expect_json(read, StatusCode::OK).await;
    let teapot_id = teapot["id"].as_i64().unwrap();
    let cup_id = cup["id"].as_i64().unwrap();
    assert_eq!(quantities(&guest_cart), [(teapot_id, 2), (cup_id, 3)]);
    assert_eq!(guest_cart["total"], "53.48");
    assert_eq!(guest_cart["id"], created["cart"]["id"]);

    // Logging in with it merges: same product adds up, the new one joins.
    let session = expect_json(
        app.log_in_with_cart("alice", "correct horse", &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        session["cart_merge"],
        json!({"merged_lines": 2, "capped": [], "dropped": []})
    );
    let new_token = session["token"].as_str().unwrap();
    let merged = expect_json(app.get_as("/api/v1/cart", new_token).await, StatusCode::OK).await;
    assert_eq!(quantities(&merged), [(teapot_id, 3), (cup_id, 3)]);
    assert_eq!(app.cart(&alice).await["id"], merged["id"]);

    // The token is dead: every cart route says 401, and the guest cart is gone.
    let dead = expect_problem(
        app.guest_cart(&token).await,
        StatusCode::UNAUTHORIZED,
        "cart_token_invalid",
    )
    .await;
    assert!(
        dead["detail"].as_str().unwrap().contains("cart token"),
        "{dead}"
    );
    expect_problem(
        app.guest_add(&token, &cup["id"], 1).await,
        StatusCode::UNAUTHORIZED,
        "cart_token_invalid",
    )
    .await;
    assert_eq!(app.guest_carts_in_db(), 0);

    // A retried login with the same token merges nothing and still logs in.
    let again = expect_json(
        app.log_in_with_cart("alice", "correct horse", &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        again["cart_merge"],
        json!({"merged_lines": 0, "capped": [], "dropped": []})
    );
    assert_eq!(
        quantities(&app.cart(&alice).await),
        [(teapot_id, 3), (cup_id, 3)]
    );

    // Without the header: null.
    assert_eq!(app.log_in("alice").await["cart_merge"], Value::Null);
}

#[tokio::test]
async fn merging_caps_at_stock_and_999_and_drops_archived_products() {
    let (app, admin, alice) = shop().await;
    let scarce = app.product(&admin, "Scarce", "five left", "1.00", 5).await;
    let plenty = app.product(&admin, "Plenty", "lots", "1.00", 5_000).await;
    let retired = app
        .product(&admin, "Retired", "soon archived", "1.00", 10)
        .await;
    let sold_out = app
        .product(&admin, "Sold out", "soon none", "1.00", 10)
        .await;
    let fresh = app
        .product(&admin, "Fresh", "only the guest", "1.00", 10)
        .await;
    expect_json(
        app.add_to_cart(&alice, &scarce["id"], 3).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.add_to_cart(&alice, &plenty["id"], 5).await,
        StatusCode::CREATED,
    )
    .await;

    let token = app.guest().await;
    for (product, quantity) in [
        (&scarce, 4),
        (&plenty, 999),
        (&retired, 2),
        (&sold_out, 2),
        (&fresh, 1),
    ] {
        expect_json(
            app.guest_add(&token, &product["id"], quantity).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let archived = app
        .delete_as(
            &format!("/api/v1/products/{}", retired["id"]),
            Some(&admin.token),
        )
        .await;
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    expect_json(
        app.patch_json(
            &format!("/api/v1/products/{}", sold_out["id"]),
            &json!({"inventory_count": 0}),
            Some(&admin.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let session = expect_json(
        app.log_in_with_cart("alice", "correct horse", &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        session["cart_merge"],
        json!({
            "merged_lines": 3,
            "capped": [
                {"product_id": scarce["id"], "requested": 7, "kept": 5},
                {"product_id": plenty["id"], "requested": 1004, "kept": 999},
                {"product_id": sold_out["id"], "requested": 2, "kept": 0},
            ],
            "dropped": [retired["id"]],
        })
    );
    let id = |product: &Value| product["id"].as_i64().unwrap();
    assert_eq!(
        quantities(&app.cart(&alice).await),
        [(id(&scarce), 5), (id(&plenty), 999), (id(&fresh), 1)]
    );
    assert_eq!(app.guest_carts_in_db(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_logins_with_one_cart_token_merge_once() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let token = app.guest().await;
    let guest_cart = expect_json(
        app.guest_add(&token, &teapot["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;

    // Both logins queue on the guest cart's row, held by the test, and are let go at once.
    let mut gate = app.db.connect();
    gate.batch_execute(&format!(
        "BEGIN; SELECT 1 FROM carts WHERE id = {} FOR UPDATE",
        guest_cart["id"]
    ))
    .unwrap();
    let logins: Vec<_> = (0..2)
        .map(|_| {
            let request = app
                .as_guest(app.client.post(app.url("/api/v1/sessions")), &token)
                .json(&json!({"login": "alice", "password": "correct horse"}));
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    until_waiting_on_locks(&app.db, 2).await;
    gate.batch_execute("COMMIT").unwrap();

    let mut merged_lines = 0;
    for login in logins {
        let session = expect_json(login.await.unwrap(), StatusCode::OK).await;
        merged_lines += session["cart_merge"]["merged_lines"].as_i64().unwrap();
    }
    assert_eq!(merged_lines, 1);
    assert_eq!(
        quantities(&app.cart(&alice).await),
        [(teapot["id"].as_i64().unwrap(), 2)]
    );
}

#[tokio::test]
async fn a_guest_and_a_user_never_reach_each_others_lines() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 10).await;
    let alices = expect_json(
        app.add_to_cart(&alice, &teapot["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    let alices_line = alices["items"][0]["id"].as_i64().unwrap();
    let token = app.guest().await;
    let guests = expect_json(
        app.guest_add(&token, &cup["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;
    let guests_line = guests["items"][0]["id"].as_i64().unwrap();
    let other_token = app.guest().await;

    // The guest cannot change the user's line, nor another guest the guest's.
    for (token, line) in [(&token, alices_line), (&other_token, guests_line)] {
        let path = app.url(&format!("/api/v1/cart/items/{line}"));
        let patched = app
            .as_guest(app.client.patch(&path), token)
            .json(&json!({"quantity": 5}))
            .send()
            .await
            .unwrap();
        expect_problem(patched, StatusCode::NOT_FOUND, "not_found").await;
        let deleted = app
            .as_guest(app.client.delete(&path), token)
            .send()
            .await
            .unwrap();
        expect_problem(deleted, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Nor the user the guest's.
    let path = format!("/api/v1/cart/items/{guests_line}");
    expect_problem(
        app.patch_json(&path, &json!({"quantity": 5}), Some(&alice.token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.delete_as(&path, Some(&alice.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Each cart is as it was; another guest's cart is its own (empty).
    let teapot_id = teapot["id"].as_i64().unwrap();
    let cup_id = cup["id"].as_i64().unwrap();
    assert_eq!(quantities(&app.cart(&alice).await), [(teapot_id, 1)]);
    let guest_view = expect_json(app.guest_cart(&token).await, StatusCode::OK).await;
    assert_eq!(quantities(&guest_view), [(cup_id, 2)]);
    let other_view = expect_json(app.guest_cart(&other_token).await, StatusCode::OK).await;
    assert_eq!(quantities(&other_view), []);

    // With both headers, Authorization wins: the user's cart; a bad bearer token is a 401
    // even beside a good cart token.
    let both = app
        .as_guest(app.client.get(app.url("/api/v1/cart")), &token)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        quantities(&expect_json(both, StatusCode::OK).await),
        [(teapot_id, 1)]
    );
    let bad_bearer = app
        .as_guest(app.client.get(app.url("/api/v1/cart")), &token)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    expect_problem(bad_bearer, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // A token of the right shape that names no cart, and garbage: 401.
    let unknown = "A".repeat(43);
    for token in [unknown.as_str(), "garbage"] {
        expect_problem(
            app.guest_cart(token).await,
            StatusCode::UNAUTHORIZED,
            "cart_token_invalid",
        )
        .await;
    }
}

#[tokio::test]
async fn a_guest_cannot_check_out_and_is_told_to_log_in() {
    let (app, admin, _) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let token = app.guest().await;
    expect_json(
        app.guest_add(&token, &teapot["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;

    let checkout = app
        .as_guest(app.client.post(app.url("/api/v1/cart/checkout")), &token)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(checkout, StatusCode::UNAUTHORIZED, "login_required").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("log in"),
        "{problem}"
    );
    // Nothing was sold; the guest's cart is untouched.
    let stock: i32 = {
        use storefront::schema::products;
        products::table
            .find(teapot["id"].as_i64().unwrap() as i32)
            .select(products::inventory_count)
            .first(&mut app.db.connect())
            .unwrap()
    };
    assert_eq!(stock, 10);
    let cart = expect_json(app.guest_cart(&token).await, StatusCode::OK).await;
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["item_count"], 1);
}

#[tokio::test]
async fn each_401_code_says_what_to_do() {
    let (app, admin, _) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let token = app.guest().await;
    let history = format!("/api/v1/products/{}/history", teapot["id"]);
    let needs_account = [
        (reqwest::Method::GET, "/api/v1/users/me"),
        (reqwest::Method::PATCH, "/api/v1/users/me"),
        (reqwest::Method::DELETE, "/api/v1/sessions/current"),
        (reqwest::Method::GET, "/api/v1/orders"),
        (reqwest::Method::GET, "/api/v1/orders/1"),
        (reqwest::Method::POST, "/api/v1/cart/checkout"),
        (reqwest::Method::POST, "/api/v1/products"),
        (reqwest::Method::GET, history.as_str()),
    ];
    for (method, path) in &needs_account {
        let request = || app.client.request(method.clone(), app.url(path));
        // A guest, even one whose cart token is good: log in.
        let guest = app.as_guest(request(), &token).send().await.unwrap();
        assert_eq!(
            guest.headers()["www-authenticate"],
            "Bearer",
            "{method} {path}"
        );
        let problem = expect_problem(guest, StatusCode::UNAUTHORIZED, "login_required").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("log in"),
            "{problem}"
        );
        // No credential, or a bad bearer token beside the cart token: a token problem.
        for response in [
            request().send().await.unwrap(),
            app.as_guest(request(), &token)
                .bearer_auth("not-a-token")
                .send()
                .await
                .unwrap(),
        ] {
            expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }
    // At the cart routes the cart token is the credential: one that names no cart.
    let unknown = "A".repeat(43);
    for response in [
        app.guest_cart(&unknown).await,
        app.guest_add(&unknown, &teapot["id"], 1).await,
    ] {
        expect_problem(response, StatusCode::UNAUTHORIZED, "cart_token_invalid").await;
    }
    expect_problem(
        app.get("/api/v1/cart").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_failed_login_never_merges() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let token = app.guest().await;
    expect_json(
        app.guest_add(&token, &teapot["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;

    expect_problem(
        app.log_in_with_cart("alice", "wrong horse", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(quantities(&app.cart(&alice).await), []);
    let cart = expect_json(app.guest_cart(&token).await, StatusCode::OK).await;
    assert_eq!(quantities(&cart), [(teapot["id"].as_i64().unwrap(), 2)]);
}

#[tokio::test]
async fn an_expired_cart_token_is_refused_merges_nothing_and_its_cart_is_swept() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
    let token = app.guest().await;
    expect_json(
        app.guest_add(&token, &teapot["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;
    app.db
        .connect()
        .batch_execute(
            "UPDATE carts SET guest_expires_at = now() - interval '1 second'
             WHERE user_id IS NULL",
        )
        .unwrap();

    expect_problem(
        app.guest_cart(&token).await,
        StatusCode::UNAUTHORIZED,
        "cart_token_invalid",
    )
    .await;
    expect_problem(
        app.guest_add(&token, &teapot["id"], 1).await,
        StatusCode::UNAUTHORIZED,
        "cart_token_invalid",
    )
    .await;
    let session = expect_json(
        app.log_in_with_cart("alice", "correct horse", &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session["cart_merge"]["merged_lines"], 0);
    assert_eq!(quantities(&app.cart(&alice).await), []);

    // The sweep job of any instance deletes it, lines and all.
    assert_eq!(app.guest_carts_in_db(), 1);
    let _sweeper = TestApp::spawn_configured(app.db.clone(), |config| {
        config.sweep_interval = Duration::from_millis(100);
    });
    eventually("the expired guest cart is swept", || {
        app.guest_carts_in_db() == 0
    })
    .await;
    let lines: i64 = {
        use storefront::schema::cart_items;
        cart_items::table
            .count()
            .get_result(&mut app.db.connect())
            .unwrap()
    };
    assert_eq!(lines, 0);
}

#[tokio::test]
async fn guest_carts_are_limited_per_client_address() {
    // Behind a trusted proxy, as registrations: the address is the forwarded client's.
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.http.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        config.guest_cart_limit.max = 2;
    });
    let create_from = |client: &'static str| {
        app.client
            .post(app.url("/api/v1/guest-carts"))
            .header("x-forwarded-for", client)
            .send()
    };
    for _ in 0..2 {
        expect_json(
            create_from("198.51.100.1").await.unwrap(),
            StatusCode::CREATED,
        )
        .await;
    }
    let refused = create_from("198.51.100.1").await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(app.guest_carts_in_db(), 2);
    // Another shopper behind the same proxy is not held back.
    expect_json(
        create_from("198.51.100.2").await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(app.guest_carts_in_db(), 3);
}
