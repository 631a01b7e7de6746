//! The abuse matrix: hostile or broken requests against every route always get a 4xx
//! problem+json, never a 5xx, and change nothing.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use storefront::auth::new_token;
use storefront::models::NewSession;

use crate::common::{TestApp, TestDb};
use crate::helpers::{error_fields, expect_json, expect_problem, Customer};

/// Routes that need a token, with a body that would otherwise be acceptable.
fn secured_routes(
    product_id: &Value,
    item_id: &Value,
    order_id: &Value,
) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/users/me".into(), None),
        (Method::DELETE, "/api/v1/sessions/current".into(), None),
        (
            Method::POST,
            "/api/v1/products".into(),
            Some(json!({"name": "X", "price": "1.00"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/products/{product_id}"),
            Some(json!({"price": "2.00"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/products/{product_id}"),
            None,
        ),
        (Method::GET, "/api/v1/cart".into(), None),
        (
            Method::POST,
            "/api/v1/cart/items".into(),
            Some(json!({"product_id": product_id, "quantity": 1})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/cart/items/{item_id}"),
            Some(json!({"quantity": 2})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/cart/items/{item_id}"),
            None,
        ),
        (Method::POST, "/api/v1/cart/checkout".into(), None),
        (Method::GET, "/api/v1/orders".into(), None),
        (Method::GET, format!("/api/v1/orders/{order_id}"), None),
    ]
}

async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Asserts a 4xx problem+json with the given status.
async fn assert_problem(response: reqwest::Response, status: StatusCode, what: &str) {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    assert_eq!(actual, status, "{what}: {body}");
    assert_eq!(content_type, "application/problem+json", "{what}");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], status.as_u16(), "{what}");
}

/// A snapshot of every row that matters, to show a request changed nothing.
fn snapshot(app: &TestApp) -> String {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Dump {
        #[diesel(sql_type = diesel::sql_types::Text)]
        dump: String,
    }
    let mut conn = app.db.connect();
    conn.batch_execute("SELECT 1").unwrap();
    diesel::sql_query(
        "SELECT concat_ws(' | ',
            (SELECT string_agg(concat_ws(',', id, username, email, is_admin, name), ';' ORDER BY id) FROM users),
            (SELECT string_agg(concat_ws(',', id, name, price, inventory_count, archived_at), ';' ORDER BY id) FROM products),
            (SELECT string_agg(concat_ws(',', id, user_id, status), ';' ORDER BY id) FROM carts),
            (SELECT string_agg(concat_ws(',', id, cart_id, product_id, quantity, unit_price), ';' ORDER BY id) FROM cart_items),
            (SELECT count(*)::text FROM sessions)) AS dump",
    )
    .get_result::<Dump>(&mut conn)
    .unwrap()
    .dump
}

struct World {
    app: TestApp,
    admin: Customer,
    alice: Customer,
    mallory: Customer,
    product: Value,
    alice_item: Value,
    alice_order: Value,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    let mallory = app.customer("mallory").await;
    let product = app.product(&admin, "Lamp", "bright", "10.00", 50).await;
    app.add_to_cart(&alice, &product["id"], 1).await;
    let order = expect_json(
        app.post_json("/api/v1/cart/checkout", &json!({}), Some(&alice.token))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let cart = expect_json(
        app.add_to_cart(&alice, &product["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;
    World {
        alice_item: cart["items"][0]["id"].clone(),
        alice_order: order["id"].clone(),
        app,
        admin,
        alice,
        mallory,
        product,
    }
}

#[tokio::test]
async fn bad_tokens_are_401_on_every_secured_route_and_change_nothing() {
    let w = world().await;
    let before = snapshot(&w.app);
    // A revoked session and an expired one, for alice (in that order: a login sweeps the
    // user's expired sessions).
    let revoked = w.app.customer_token_revoked("alice").await;
    let (expired, expired_hash) = new_token();
    storefront::repository::sessions::insert(
        &mut w.app.db.connect(),
        &NewSession {
            user_id: w.alice.id as i32,
            token_hash: &expired_hash,
            expires_at: Utc::now() - chrono::Duration::minutes(1),
        },
    )
    .unwrap();
    let before_with_sessions = snapshot(&w.app);
    assert_ne!(before, before_with_sessions);

    let garbage = [
        "",
        "garbage",
        "Bearer",
        &"x".repeat(43),
        &"é".repeat(20),
        &"A".repeat(10_000),
    ];
    for (method, path, body) in secured_routes(&w.product["id"], &w.alice_item, &w.alice_order) {
        let what = format!("{method} {path}");
        assert_problem(
            send(&w.app, &method, &path, body.as_ref(), None).await,
            StatusCode::UNAUTHORIZED,
            &what,
        )
        .await;
        for token in [expired.as_str(), revoked.as_str()]
            .into_iter()
            .chain(garbage)
        {
            let response = send(&w.app, &method, &path, body.as_ref(), Some(token)).await;
            assert_problem(
                response,
                StatusCode::UNAUTHORIZED,
                &format!("{what} with {token:.20}"),
            )
            .await;
        }
    }
    assert_eq!(snapshot(&w.app), before_with_sessions);
}

#[tokio::test]
async fn another_users_ids_are_404_and_change_nothing() {
    let w = world().await;
    let before = snapshot(&w.app);
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/cart/items/{}", w.alice_item),
            Some(json!({"quantity": 5})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/cart/items/{}", w.alice_item),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/orders/{}", w.alice_order),
            None,
        ),
    ] {
        let response = send(
            &w.app,
            &method,
            &path,
            body.as_ref(),
            Some(&w.mallory.token),
        )
        .await;
        assert_problem(response, StatusCode::NOT_FOUND, &format!("{method} {path}")).await;
    }
    assert_eq!(snapshot(&w.app), before, "the 404s changed nothing");
    // Mallory's own cart never shows alice's lines; her orders are hers only.
    let cart = expect_json(
        w.app.get_as("/api/v1/cart", &w.mallory.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cart["items"], json!([]));
    let orders = expect_json(
        w.app.get_as("/api/v1/orders", &w.mallory.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(orders["items"], json!([]));
}

#[tokio::test]
async fn mass_assignment_and_malformed_bodies_are_rejected_without_effect() {
    let w = world().await;
    let before = snapshot(&w.app);
    let two_63 = serde_json::from_str::<Value>("9223372036854775808").unwrap();
    let cases: Vec<(Method, &str, Option<&str>, Value, StatusCode)> = vec![
        (
            Method::POST,
            "/api/v1/users",
            None,
            json!({"username": "eve", "email": "e@x.io", "password": "correct horse", "is_admin": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            None,
            json!({"username": "eve", "email": "e@x.io", "password": "correct horse", "id": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            None,
            json!({"username": "e".repeat(60_000), "email": "e@x.io", "password": "correct horse"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            None,
            json!(["eve", "e@x.io"]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            None,
            json!(null),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            None,
            json!({"username": vec!["a"; 10_000]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/sessions",
            None,
            json!({"login": "alice", "password": "correct horse", "user_id": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": w.product["id"], "quantity": 1, "price": "0.01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": w.product["id"], "quantity": 1, "user_id": w.mallory.id}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": w.product["id"], "quantity": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": w.product["id"], "quantity": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": w.product["id"], "quantity": 2_147_483_648_i64}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": w.product["id"], "quantity": two_63}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/cart/items",
            Some(&w.alice.token),
            json!({"product_id": two_63, "quantity": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            "/api/v1/products/1",
            Some(&w.admin.token),
            json!({"price": "1.00", "archived_at": "2020-01-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            "/api/v1/products/1",
            Some(&w.admin.token),
            json!({"inventory_count": two_63}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            "/api/v1/products/1",
            Some(&w.admin.token),
            json!({"name": "n".repeat(1_000)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (method, path, token, body, status) in cases {
        let what = format!("{method} {path} {:.80}", body.to_string());
        assert_problem(
            send(&w.app, &method, path, Some(&body), token).await,
            status,
            &what,
        )
        .await;
    }
    // Bodies over the limit, wrong content types, broken JSON.
    let huge = "x".repeat(200_000);
    for (path, token) in [
        ("/api/v1/users", None),
        ("/api/v1/sessions", None),
        ("/api/v1/cart/items", Some(w.alice.token.as_str())),
        ("/api/v1/products", Some(w.admin.token.as_str())),
    ] {
        let oversized = json!({ "username": huge, "login": huge, "name": huge });
        assert_problem(
            send(&w.app, &Method::POST, path, Some(&oversized), token).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            path,
        )
        .await;
        for (content_type, body) in [
            ("text/plain", r#"{"a":1}"#),
            ("application/x-www-form-urlencoded", "a=1"),
            ("application/json", "{\"username\": "),
            ("application/json", "\u{0}"),
        ] {
            let mut request = w
                .app
                .client
                .post(w.app.url(path))
                .header("content-type", content_type)
                .body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_problem(
                response,
                StatusCode::BAD_REQUEST,
                &format!("{path} {content_type} {body:?}"),
            )
            .await;
        }
    }
    assert_eq!(snapshot(&w.app), before, "nothing changed");
}

/// Method, path, bearer token, cart token, and the route's fields as an array.
type BodyRoute<'a> = (Method, String, Option<&'a str>, Option<&'a str>, Value);

#[tokio::test]
async fn a_body_that_is_not_an_object_is_422_naming_body_on_every_route_and_changes_nothing() {
    let w = world().await;
    let guest: Value = expect_json(
        w.app
            .post_json("/api/v1/guest-carts", &json!({}), None)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let guest = guest["token"].as_str().unwrap().to_owned();
    let before = snapshot(&w.app);
    let (product, item) = (&w.product["id"], &w.alice_item);
    // Each route with the fields it takes, in declaration order: as an array serde would
    // read them as the struct (a login, a registration, a cart line...).
    let routes: Vec<BodyRoute> = vec![
        (
            Method::POST,
            "/api/v1/users".into(),
            None,
            None,
            json!(["eve", "eve@example.com", "correct horse", "Eve"]),
        ),
        (
            Method::PATCH,
            "/api/v1/users/me".into(),
            Some(&w.alice.token),
            None,
            json!(["Alice Renamed"]),
        ),
        (
            Method::POST,
            "/api/v1/sessions".into(),
            None,
            None,
            json!(["alice", "correct horse"]),
        ),
        (
            Method::POST,
            "/api/v1/sessions".into(),
            None,
            Some(&guest),
            json!(["alice", "correct horse"]),
        ),
        (
            Method::POST,
            "/api/v1/products".into(),
            Some(&w.admin.token),
            None,
            json!(["Kettle", "steel", "9.99", 3]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/products/{product}"),
            Some(&w.admin.token),
            None,
            json!(["Renamed", null, "1.00", 1]),
        ),
        (
            Method::POST,
            "/api/v1/cart/items".into(),
            Some(&w.alice.token),
            None,
            json!([product, 1]),
        ),
        (
            Method::POST,
            "/api/v1/cart/items".into(),
            None,
            Some(&guest),
            json!([product, 1]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/cart/items/{item}"),
            Some(&w.alice.token),
            None,
            json!([5]),
        ),
        // The body is refused before the order is looked up: no order is needed.
        (
            Method::POST,
            "/api/v1/orders/999999/cancel".into(),
            Some(&w.alice.token),
            None,
            json!(["changed my mind"]),
        ),
        (
            Method::POST,
            "/api/v1/orders/999999/fulfilments".into(),
            Some(&w.admin.token),
            None,
            json!(["DHL", "123"]),
        ),
        (
            Method::POST,
            "/api/v1/orders/999999/payments".into(),
            Some(&w.alice.token),
            None,
            json!(["test"]),
        ),
        (
            Method::POST,
            "/api/v1/webhook-endpoints".into(),
            Some(&w.admin.token),
            None,
            json!(["http://127.0.0.1:9/", [], "x"]),
        ),
        (
            Method::PATCH,
            "/api/v1/webhook-endpoints/999999".into(),
            Some(&w.admin.token),
            None,
            json!([false]),
        ),
        (
            Method::POST,
            "/api/v1/orders/999999/refunds".into(),
            Some(&w.admin.token),
            None,
            json!(["5.00", "damaged"]),
        ),
        (
            Method::POST,
            "/api/v1/users/me/addresses".into(),
            Some(&w.alice.token),
            None,
            json!([
                "Alice",
                "Main St 1",
                null,
                "Town",
                null,
                null,
                "DE",
                null,
                true
            ]),
        ),
        (
            Method::PATCH,
            "/api/v1/users/me/addresses/999999".into(),
            Some(&w.alice.token),
            None,
            json!(["Alice"]),
        ),
        (
            Method::POST,
            "/api/v1/shipping-methods".into(),
            Some(&w.admin.token),
            None,
            json!(["DHL", "4.90", ["DE"], null]),
        ),
        (
            Method::PATCH,
            "/api/v1/shipping-methods/999999".into(),
            Some(&w.admin.token),
            None,
            json!(["DHL"]),
        ),
        (
            Method::POST,
            "/api/v1/tax-rates".into(),
            Some(&w.admin.token),
            None,
            json!(["DE", "19"]),
        ),
        (
            Method::POST,
            "/api/v1/categories".into(),
            Some(&w.admin.token),
            None,
            json!(["Shirts", "shirts", null, 0]),
        ),
        (
            Method::PATCH,
            "/api/v1/categories/999999".into(),
            Some(&w.admin.token),
            None,
            json!(["Shirts"]),
        ),
        (
            Method::POST,
            "/api/v1/product-groups".into(),
            Some(&w.admin.token),
            None,
            json!(["Shirt", {"size": ["S"]}]),
        ),
        (
            Method::PATCH,
            "/api/v1/product-groups/999999".into(),
            Some(&w.admin.token),
            None,
            json!(["Shirt"]),
        ),
        (
            Method::PATCH,
            "/api/v1/tax-rates/DE".into(),
            Some(&w.admin.token),
            None,
            json!(["19"]),
        ),
        (
            Method::POST,
            "/api/v1/cart/quote".into(),
            Some(&w.alice.token),
            None,
            json!([null, null, null]),
        ),
        (
            Method::POST,
            "/api/v1/cart/quote".into(),
            None,
            Some(&guest),
            json!([null, null, null]),
        ),
        (
            Method::POST,
            "/api/v1/cart/checkout".into(),
            Some(&w.alice.token),
            None,
            json!([null, null, null, "1.00"]),
        ),
    ];
    for (method, path, token, cart_token, fields) in &routes {
        for body in [
            fields.clone(),
            json!("text"),
            json!(1),
            json!(true),
            json!(null),
        ] {
            let mut request = w.app.client.request(method.clone(), w.app.url(path));
            request = request.json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(cart_token) = cart_token {
                request = request.header("x-cart-token", *cart_token);
            }
            let what = format!("{method} {path} {body}");
            let response = request.send().await.unwrap();
            let problem = expect_problem(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(error_fields(&problem), ["body"], "{what}: {problem}");
        }
    }
    assert_eq!(snapshot(&w.app), before, "nothing changed");
}

/// The routes that take a JSON body, as the OpenAPI document names them: the table of
/// the test above covers each but the payment webhook, whose body is checked as signed
/// bytes before it is read (an array there, signed, is a 400: tests/api/payments.rs).
const BODY_ROUTES: [&str; 26] = [
    "POST /api/v1/categories",
    "PATCH /api/v1/categories/{id}",
    "POST /api/v1/product-groups",
    "PATCH /api/v1/product-groups/{id}",
    "PATCH /api/v1/cart/items/{item_id}",
    "POST /api/v1/cart/items",
    "POST /api/v1/cart/quote",
    "POST /api/v1/cart/checkout",
    "POST /api/v1/users/me/addresses",
    "PATCH /api/v1/users/me/addresses/{id}",
    "POST /api/v1/shipping-methods",
    "PATCH /api/v1/shipping-methods/{id}",
    "POST /api/v1/tax-rates",
    "PATCH /api/v1/tax-rates/{country}",
    "POST /api/v1/orders/{id}/cancel",
    "POST /api/v1/orders/{id}/fulfilments",
    "POST /api/v1/orders/{id}/payments",
    "POST /api/v1/orders/{id}/refunds",
    "POST /api/v1/payments/webhooks/{provider}",
    "POST /api/v1/webhook-endpoints",
    "PATCH /api/v1/webhook-endpoints/{id}",
    "PATCH /api/v1/products/{id}",
    "POST /api/v1/products",
    "POST /api/v1/sessions",
    "PATCH /api/v1/users/me",
    "POST /api/v1/users",
];

/// The fields that hold more than a flat value, each read so that only its own shape is
/// taken: the inline address through `JsonObject` (an array there is refused, as the
/// test below shows), the country list as a list of strings (an object is no list), and
/// the payment webhook's `data` (read only once the signature holds); a product's
/// category ids (a list of numbers), images (each read through `JsonObject`) and variant
/// options (a map, which an array is not), and a group's options (the same).
const NESTED_FIELDS: [(&str, &str); 15] = [
    ("POST /api/v1/products", "category_ids"),
    ("POST /api/v1/products", "images"),
    ("POST /api/v1/products", "options"),
    ("PATCH /api/v1/products/{id}", "category_ids"),
    ("PATCH /api/v1/products/{id}", "images"),
    ("PATCH /api/v1/products/{id}", "options"),
    ("POST /api/v1/product-groups", "options"),
    ("PATCH /api/v1/product-groups/{id}", "options"),
    ("POST /api/v1/webhook-endpoints", "events"),
    ("PATCH /api/v1/webhook-endpoints/{id}", "events"),
    ("POST /api/v1/payments/webhooks/{provider}", "data"),
    ("POST /api/v1/cart/quote", "shipping_address"),
    ("POST /api/v1/cart/checkout", "shipping_address"),
    ("POST /api/v1/shipping-methods", "countries"),
    ("PATCH /api/v1/shipping-methods/{id}", "countries"),
];

/// An inline address sent as an array (its fields in order) is refused naming the field,
/// on the quote and at checkout, and changes nothing.
#[tokio::test]
async fn a_nested_address_that_is_not_an_object_is_422_naming_it() {
    let w = world().await;
    let before = snapshot(&w.app);
    for path in ["/api/v1/cart/quote", "/api/v1/cart/checkout"] {
        for address in [
            json!(["Alice", "Main St 1", null, "Town", null, null, "DE", null]),
            json!("Main St 1, Town"),
            json!(7),
        ] {
            let response = w
                .app
                .post_json(
                    path,
                    &json!({"shipping_address": address}),
                    Some(&w.alice.token),
                )
                .await;
            let problem = expect_problem(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(
                error_fields(&problem),
                ["shipping_address"],
                "{path} {address}"
            );
        }
    }
    assert_eq!(snapshot(&w.app), before, "nothing changed");
}

/// A schema for a string, number, boolean or null (or a choice of them), nothing nested.
fn is_flat(document: &Value, schema: &Value) -> bool {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        return is_flat(document, &document["components"]["schemas"][name]);
    }
    let choices = ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|key| schema[key].as_array())
        .flatten()
        .all(|choice| is_flat(document, choice));
    let types = match &schema["type"] {
        Value::Array(types) => types.clone(),
        one => vec![one.clone()],
    };
    choices
        && schema.get("properties").is_none()
        && schema.get("items").is_none()
        && !types.iter().any(|t| t == "object" || t == "array")
}

#[tokio::test]
async fn every_request_body_is_a_flat_object_so_the_object_rule_covers_every_field() {
    let app = TestApp::spawn().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(body) = operation.get("requestBody") else {
                continue;
            };
            let route = format!("{} {path}", method.to_uppercase());
            let schema = &body["content"]["application/json"]["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(name) => {
                    &document["components"]["schemas"]
                        [name.trim_start_matches("#/components/schemas/")]
                }
                None => schema,
            };
            assert_eq!(schema["type"], "object", "{route}: {schema}");
            // A nested object (or a list) would be a struct serde could read from an
            // array: ApiJson checks the top level only.
            for (field, property) in schema["properties"].as_object().unwrap() {
                if NESTED_FIELDS.contains(&(route.as_str(), field.as_str())) {
                    continue;
                }
                assert!(
                    is_flat(&document, property),
                    "{route}: {field} is not a flat value: {property}"
                );
            }
            routes.push(route);
        }
    }
    routes.sort();
    let mut expected = BODY_ROUTES.to_vec();
    expected.sort();
    assert_eq!(routes, expected);
}

/// Path, bearer token, and each bad query with the parameter it must name.
type QueryRoute<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);

#[tokio::test]
async fn a_bad_query_parameter_is_400_naming_it_on_every_route_with_a_query() {
    let w = world().await;
    let history = format!("/api/v1/products/{}/history", w.product["id"]);
    let routes: [QueryRoute; 4] = [
        (
            "/api/v1/products",
            None,
            &[
                ("limit=ten", "limit"),
                ("limit=99999999999999999999", "limit"),
                ("limit=1&limit=2", "limit"),
                ("in_stock=maybe", "in_stock"),
                ("min_price=abc", "min_price"),
                ("max_price=1e3", "max_price"),
                ("cursor=garbage", "cursor"),
            ],
        ),
        (
            &history,
            Some(&w.admin.token),
            &[
                ("limit=ten", "limit"),
                ("limit=1&limit=2", "limit"),
                ("cursor=garbage", "cursor"),
            ],
        ),
        (
            "/api/v1/orders",
            Some(&w.alice.token),
            &[
                ("limit=ten", "limit"),
                ("limit=1&limit=2", "limit"),
                ("cursor=garbage", "cursor"),
            ],
        ),
        (
            "/api/v1/admin/orders",
            Some(&w.admin.token),
            &[
                ("limit=ten", "limit"),
                ("cursor=garbage", "cursor"),
                ("status=lost", "status"),
                ("payment_status=free", "payment_status"),
                ("fulfilment_status=partly", "fulfilment_status"),
            ],
        ),
    ];
    for (path, token, cases) in routes {
        for (query, field) in cases {
            let mut request = w.app.client.get(w.app.url(&format!("{path}?{query}")));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let problem = expect_problem(
                request.send().await.unwrap(),
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
            assert_eq!(
                error_fields(&problem),
                [*field],
                "{path}?{query}: {problem}"
            );
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(field), "{path}?{query}: {detail}");
        }
    }
}

#[tokio::test]
async fn hostile_paths_and_queries_are_4xx() {
    let w = world().await;
    let not_found = (StatusCode::NOT_FOUND, "not_found");
    let bad_request = (StatusCode::BAD_REQUEST, "bad_request");
    for (path, (status, code)) in [
        // docs/api.md: an id that names no product, or is not a 32-bit integer, is a 404.
        ("/api/v1/products/-1", not_found),
        ("/api/v1/products/2147483648", not_found),
        ("/api/v1/products/1.5", not_found),
        ("/api/v1/products/%00", not_found),
        ("/api/v1/products/1;DROP TABLE products", not_found),
        // docs/api.md: a query value that does not parse as its type is a 400.
        ("/api/v1/products?limit=1e3", bad_request),
        ("/api/v1/products?min_price=NaN", bad_request),
        ("/api/v1/products?max_price=1e400", bad_request),
        ("/api/v1/products?cursor=%FF%FE", bad_request),
        // A value of the right type that is not allowed is a 422.
        (
            "/api/v1/products?q=%00",
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ),
    ] {
        let response = w.app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{path}: {problem}");
    }
    let _ = &w.admin;
}

impl TestApp {
    /// Logs `username` in and out again; returns the now revoked token.
    async fn customer_token_revoked(&self, username: &str) -> String {
        let token = self.log_in(username).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = self
            .delete_as("/api/v1/sessions/current", Some(&token))
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        token
    }
}

#[tokio::test]
async fn without_a_valid_token_a_bad_body_is_still_just_401_and_without_admin_403() {
    let w = world().await;
    let before = snapshot(&w.app);
    let (unknown, _) = new_token();
    let item = format!("/api/v1/cart/items/{}", w.alice_item);
    let cases = [
        (Method::POST, "/api/v1/cart/items", "{not json"),
        (
            Method::POST,
            "/api/v1/cart/items",
            r#"{"product_id": 1, "quantity": 0}"#,
        ),
        (Method::PATCH, item.as_str(), r#"{"quantity": -1}"#),
        (Method::PATCH, item.as_str(), "[]"),
    ];
    for (method, path, body) in cases {
        let response = w
            .app
            .client
            .request(method.clone(), w.app.url(path))
            .bearer_auth(&unknown)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(
            response,
            StatusCode::UNAUTHORIZED,
            &format!("{method} {path} {body}"),
        )
        .await;
    }
    let checkout = w
        .app
        .client
        .post(w.app.url("/api/v1/cart/checkout"))
        .bearer_auth(&unknown)
        .header("idempotency-key", "has spaces in it")
        .send()
        .await
        .unwrap();
    assert_problem(
        checkout,
        StatusCode::UNAUTHORIZED,
        "checkout with a bad key",
    )
    .await;

    // A customer (valid token, not an admin) learns 403 whatever the body looks like.
    let product = format!("/api/v1/products/{}", w.product["id"]);
    for (method, path) in [
        (Method::POST, "/api/v1/products"),
        (Method::PATCH, product.as_str()),
    ] {
        let response = w
            .app
            .client
            .request(method.clone(), w.app.url(path))
            .bearer_auth(&w.mallory.token)
            .header("content-type", "text/plain")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::FORBIDDEN, &format!("{method} {path}")).await;
    }
    // With a valid token the body's own problem is reported.
    let response = w
        .app
        .post_json(
            "/api/v1/cart/items",
            &json!({"product_id": w.product["id"], "quantity": 0}),
            Some(&w.alice.token),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "valid token, bad quantity",
    )
    .await;
    let response = w
        .app
        .client
        .post(w.app.url("/api/v1/cart/checkout"))
        .bearer_auth(&w.alice.token)
        .header("idempotency-key", "has spaces in it")
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::BAD_REQUEST,
        "valid token, key with spaces",
    )
    .await;
    assert_eq!(snapshot(&w.app), before);
}

/// `{"username":…,"email":…,"password":…}` padded with spaces (still the same JSON) to
/// exactly `size` bytes.
fn registration_of_size(username: &str, size: usize) -> String {
    let body = format!(
        r#"{{"username":"{username}","email":"{username}@example.com","password":"correct horse""#
    );
    let padding = size - body.len() - 1;
    format!("{body}{}}}", " ".repeat(padding))
}

#[tokio::test]
async fn a_body_of_64_kib_is_read_and_one_byte_more_is_413() {
    let app = TestApp::spawn().await;
    let post = |body: String| {
        app.client
            .post(app.url("/api/v1/users"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let at_limit = registration_of_size("edge", 64 * 1024);
    assert_eq!(at_limit.len(), 65_536);
    let created = post(at_limit).await.unwrap();
    let status = created.status();
    let body = created.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "65,536 bytes: {body}");
    assert!(body.contains(r#""username":"edge""#), "{body}");

    let over = registration_of_size("over", 64 * 1024 + 1);
    assert_eq!(over.len(), 65_537);
    assert_problem(
        post(over).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "65,537 bytes",
    )
    .await;
    let mut conn = app.db.connect();
    assert!(
        storefront::repository::users::find_for_login(&mut conn, "over")
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let head_timeout = std::time::Duration::from_millis(500);
    let app = TestApp::spawn_configured(std::sync::Arc::new(TestDb::new()), |config| {
        config.http.client_request_timeout = head_timeout;
    });
    let address = app.address.trim_start_matches("http://").to_owned();
    // Read everything until the server closes; fail if it has not within 10 s.
    let read_to_close = |mut stream: tokio::net::TcpStream| async move {
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await
        .expect("the server closed the connection")
        .ok();
        String::from_utf8_lossy(&answer).into_owned()
    };

    // A head sent in one go is answered (the raw client works).
    let mut prompt = tokio::net::TcpStream::connect(&address).await.unwrap();
    prompt
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_to_close(prompt).await.starts_with("HTTP/1.1 200"));

    // A head that never ends (a slowloris client): answered 408 Request Timeout and
    // closed. (Not timed: actix measures the timeout on a clock it refreshes every half
    // second, so the close may come earlier than the setting; the 408 says why it came.)
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: shop\r\n")
        .await
        .unwrap();
    let answer = read_to_close(slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let w = world().await;
    for path in ["/api/v1/products?sort=price_asc", "/api/v1/orders?limit=5"] {
        let with_extras = format!("{path}&utm_source=newsletter&fbclid=abc123&_=1700000000");
        let plain = w.app.get_as(path, &w.alice.token).await;
        let extra = w.app.get_as(&with_extras, &w.alice.token).await;
        assert_eq!(extra.status(), StatusCode::OK, "{with_extras}");
        let (extra, plain) = (
            extra.json::<Value>().await.unwrap(),
            plain.json::<Value>().await.unwrap(),
        );
        assert_eq!(plain["items"].as_array().unwrap().len(), 1, "{plain}");
        assert_eq!(extra, plain, "{with_extras}");
    }
}
