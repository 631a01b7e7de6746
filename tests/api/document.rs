//! What generated clients (openapi-python-client, @hey-api/openapi-ts, orval) need of the
//! OpenAPI document beyond naming every route (DESIGN §13): the guest's `X-Cart-Token` as
//! a typed header, named alternatives with a discriminator, money shaped by a pattern,
//! every response header that is really sent, and no HEAD twins.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::expect_json;

async fn document(app: &TestApp) -> Value {
    expect_json(app.get("/openapi.json").await, StatusCode::OK).await
}

/// The operations that take a guest's cart token instead of a bearer token.
const CART_TOKEN_OPERATIONS: &[(&str, &str)] = &[
    ("get", "/api/v1/cart"),
    ("post", "/api/v1/cart/items"),
    ("patch", "/api/v1/cart/items/{item_id}"),
    ("delete", "/api/v1/cart/items/{item_id}"),
];

fn header_parameter<'a>(operation: &'a Value, name: &str) -> Option<&'a Value> {
    operation["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["in"] == "header" && p["name"] == name)
}

#[tokio::test]
async fn x_cart_token_is_a_header_parameter_wherever_it_is_accepted() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let with_login = CART_TOKEN_OPERATIONS
        .iter()
        .chain(&[("post", "/api/v1/sessions")]);
    for (method, path) in with_login {
        let operation = &doc["paths"][path][method];
        let parameter = header_parameter(operation, "X-Cart-Token")
            .unwrap_or_else(|| panic!("{method} {path}: no X-Cart-Token header parameter"));
        assert_eq!(parameter["required"], false, "{method} {path}");
        assert_eq!(parameter["schema"]["type"], "string", "{method} {path}");
    }
    // A guest calls the cart operations with no bearer token: their security must admit
    // that (`{}`), or generators demand an authenticated client of guests too.
    // openapi-python-client reads only an operation's own `security`, so the cart
    // operations inherit the document's instead of restating it.
    assert_eq!(doc["security"], json!([{ "bearer": [] }, {}]));
    for (method, path) in CART_TOKEN_OPERATIONS {
        let operation = &doc["paths"][path][method];
        assert!(
            operation.get("security").is_none(),
            "{method} {path} restates security"
        );
    }
    // One way to say it: no apiKey scheme competes with the parameter.
    for (name, scheme) in doc["components"]["securitySchemes"].as_object().unwrap() {
        assert_ne!(scheme["type"], "apiKey", "{name}");
    }
}

/// Every `oneOf` in the document: named alternatives (`$ref`) told apart by a
/// discriminator whose mapping covers each; the one exception is a nullable reference
/// (`[{"type": "null"}, {"$ref": ...}]`), which generators render as `T | None`.
#[tokio::test]
async fn every_one_of_has_named_alternatives_and_a_discriminator() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut found = Vec::new();
    collect_one_ofs(&doc, "#", &mut found);
    assert!(!found.is_empty(), "HistoryItem at least");
    for (at, schema) in found {
        let alternatives = schema["oneOf"].as_array().unwrap();
        let nullable_ref = alternatives.len() == 2
            && alternatives.iter().any(|a| a == &json!({ "type": "null" }))
            && alternatives.iter().any(|a| a["$ref"].is_string());
        if nullable_ref {
            continue;
        }
        let discriminator = &schema["discriminator"];
        let property = discriminator["propertyName"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: oneOf without a discriminator"));
        let mapping = discriminator["mapping"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}: discriminator without a mapping"));
        assert_eq!(mapping.len(), alternatives.len(), "{at}");
        for alternative in alternatives {
            let reference = alternative["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: an unnamed alternative {alternative}"));
            let (value, _) = mapping
                .iter()
                .find(|(_, target)| *target == reference)
                .unwrap_or_else(|| panic!("{at}: {reference} not in the mapping"));
            // The named schema itself says its discriminator value, and requires it.
            let name = reference.trim_start_matches("#/components/schemas/");
            let named = &doc["components"]["schemas"][name];
            assert_eq!(
                named["properties"][property]["enum"],
                json!([value]),
                "{name}.{property}"
            );
            assert!(
                named["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(property))),
                "{name} does not require {property}"
            );
        }
    }
    let history = &doc["components"]["schemas"]["HistoryItem"];
    assert_eq!(
        history["discriminator"],
        json!({
            "propertyName": "kind",
            "mapping": {
                "price": "#/components/schemas/PriceChange",
                "stock": "#/components/schemas/StockMovement",
            },
        })
    );
}

fn collect_one_ofs<'a>(value: &'a Value, at: &str, found: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("oneOf") {
                found.push((at.to_owned(), value));
            }
            for (key, child) in map {
                collect_one_ofs(child, &format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_one_ofs(child, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// An amount as the service writes it: digits, a point, two digits.
const AMOUNT: &str = r"^[0-9]{1,10}\.[0-9]{2}$";
/// A sum of amounts (a line, a cart): more digits before the point.
const SUM: &str = r"^[0-9]+\.[0-9]{2}$";

/// What the output patterns say, checked by hand (the test crate has no regex engine).
fn emitted_money(text: &str, max_whole: usize) -> bool {
    text.split_once('.').is_some_and(|(whole, cents)| {
        (1..=max_whole).contains(&whole.len())
            && whole.bytes().all(|b| b.is_ascii_digit())
            && cents.len() == 2
            && cents.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A schema's example, as `example` or the first of `examples`.
fn example_of(schema: &Value) -> Option<&str> {
    schema["example"]
        .as_str()
        .or_else(|| schema["examples"][0].as_str())
}

#[tokio::test]
async fn money_fields_carry_a_pattern_and_an_example() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let outputs = [
        ("ProductResponse", "price", AMOUNT),
        ("ProductResponse", "lowest_price_30d", AMOUNT),
        ("LineResponse", "unit_price", AMOUNT),
        ("LineResponse", "line_total", SUM),
        ("CartResponse", "total", SUM),
        ("PriceChange", "old_price", AMOUNT),
        ("PriceChange", "new_price", AMOUNT),
    ];
    for (schema, field, pattern) in outputs {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(property["pattern"], pattern, "{schema}.{field}");
        let example =
            example_of(property).unwrap_or_else(|| panic!("{schema}.{field}: no example"));
        let max_whole = if pattern == AMOUNT { 10 } else { 40 };
        assert!(
            emitted_money(example, max_whole),
            "{schema}.{field}: {example}"
        );
    }
    // Input: a decimal string or a plain JSON number, one schema (no oneOf to name).
    let create = &schemas["CreateProductRequest"]["properties"]["price"];
    let update = &doc["paths"]["/api/v1/products/{id}"]["patch"]["requestBody"]["content"]
        ["application/json"]["schema"];
    let update = match update["$ref"].as_str() {
        Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
        None => update,
    };
    for price in [create, &update["properties"]["price"]] {
        assert_eq!(price["type"], json!(["string", "number"]), "{price}");
        assert_eq!(price["pattern"], storefront::domain::Price::PATTERN);
        assert!(example_of(price).is_some(), "{price}");
    }

    // What the service really writes matches the output patterns.
    let admin = app.admin("money_admin").await;
    let product = app
        .product(&admin, "Blue teapot", "Porcelain", "1234567890.5", 5)
        .await;
    assert!(emitted_money(product["price"].as_str().unwrap(), 10));
    assert!(emitted_money(
        product["lowest_price_30d"].as_str().unwrap(),
        10
    ));
    let cart = expect_json(
        app.post_json(
            "/api/v1/cart/items",
            &json!({ "product_id": product["id"], "quantity": 3 }),
            Some(&admin.token),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let line = &cart["items"][0];
    assert!(emitted_money(line["unit_price"].as_str().unwrap(), 10));
    assert!(emitted_money(line["line_total"].as_str().unwrap(), 40));
    assert!(emitted_money(cart["total"].as_str().unwrap(), 40));
}

/// The response headers the document promises where they are sent.
const WATCHED_HEADERS: &[&str] = &[
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "Last-Modified",
    "Cache-Control",
    "WWW-Authenticate",
    "Allow",
];

/// Asserts that each watched header `response` carries is declared on the operation's
/// response of that status; returns the response for the caller's own checks.
fn declared(doc: &Value, method: &str, path: &str, response: &Response) {
    let status = response.status().as_u16().to_string();
    let documented = &doc["paths"][path][method]["responses"][&status];
    assert!(
        documented.is_object(),
        "{method} {path} {status} undocumented"
    );
    for name in WATCHED_HEADERS {
        if response.headers().contains_key(*name) {
            assert!(
                documented["headers"][name].is_object(),
                "{method} {path} {status} sends {name} but does not declare it"
            );
        }
    }
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request reaches the server")
}

#[tokio::test]
async fn every_response_header_sent_is_declared_on_that_response() {
    let db = Arc::new(TestDb::new());
    let app = TestApp::spawn_configured(db, |config| config.guest_cart_limit.max = 1);
    let doc = document(&app).await;
    // Redirects are answers too: seen, not followed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let call = |method: Method, path: &str| client.request(method, app.url(path));

    let docs = send(call(Method::GET, "/docs")).await;
    assert_eq!(docs.status(), StatusCode::PERMANENT_REDIRECT);
    declared(&doc, "get", "/docs", &docs);

    let registered = send(call(Method::POST, "/api/v1/users").json(&json!({
        "username": "headers", "email": "headers@example.com", "password": "correct horse",
    })))
    .await;
    declared(&doc, "post", "/api/v1/users", &registered);
    let login = json!({ "login": "headers", "password": "correct horse" });
    let session = send(call(Method::POST, "/api/v1/sessions").json(&login)).await;
    assert_eq!(session.status(), StatusCode::OK);
    declared(&doc, "post", "/api/v1/sessions", &session);
    let token = session.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut conn = app.db.connect();
    storefront::repository::users::set_admin(&mut conn, "headers", true)
        .unwrap()
        .unwrap();
    let as_user = |method: Method, path: &str| call(method, path).bearer_auth(&token);

    let created = send(as_user(Method::POST, "/api/v1/products").json(&json!({
        "name": "Blue teapot", "price": "19.90", "inventory_count": 10,
    })))
    .await;
    declared(&doc, "post", "/api/v1/products", &created);
    let product = created.json::<Value>().await.unwrap()["id"].clone();
    let product_path = format!("/api/v1/products/{product}");
    let changed =
        send(as_user(Method::PATCH, &product_path).json(&json!({ "price": "17.50" }))).await;
    declared(&doc, "patch", "/api/v1/products/{id}", &changed);

    for (path, template) in [
        ("/api/v1/products".to_owned(), "/api/v1/products"),
        (product_path.clone(), "/api/v1/products/{id}"),
    ] {
        let read = send(call(Method::GET, &path)).await;
        declared(&doc, "get", template, &read);
        let tag = read.headers()["etag"].clone();
        let again = send(call(Method::GET, &path).header("if-none-match", tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        declared(&doc, "get", template, &again);
    }
    let history = send(as_user(Method::GET, &format!("{product_path}/history"))).await;
    declared(&doc, "get", "/api/v1/products/{id}/history", &history);

    // A guest's cart, then the throttle on making another.
    let guest = send(call(Method::POST, "/api/v1/guest-carts")).await;
    declared(&doc, "post", "/api/v1/guest-carts", &guest);
    let cart_token = guest.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let throttled = send(call(Method::POST, "/api/v1/guest-carts")).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    declared(&doc, "post", "/api/v1/guest-carts", &throttled);
    let as_guest =
        |method: Method, path: &str| call(method, path).header("x-cart-token", &cart_token);
    let read = send(as_guest(Method::GET, "/api/v1/cart")).await;
    declared(&doc, "get", "/api/v1/cart", &read);
    let added = send(
        as_guest(Method::POST, "/api/v1/cart/items")
            .json(&json!({ "product_id": product, "quantity": 2 })),
    )
    .await;
    declared(&doc, "post", "/api/v1/cart/items", &added);
    let line = added.json::<Value>().await.unwrap()["items"][0]["id"].clone();
    let line_path = format!("/api/v1/cart/items/{line}");
    let set = send(as_guest(Method::PATCH, &line_path).json(&json!({ "quantity": 1 }))).await;
    declared(&doc, "patch", "/api/v1/cart/items/{item_id}", &set);
    let stale = send(
        as_guest(Method::PATCH, &line_path)
            .header("if-match", "\"stale\"")
            .json(&json!({ "quantity": 1 })),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    declared(&doc, "patch", "/api/v1/cart/items/{item_id}", &stale);
    let removed = send(as_guest(Method::DELETE, &line_path)).await;
    declared(&doc, "delete", "/api/v1/cart/items/{item_id}", &removed);
    let guest_checkout = send(as_guest(Method::POST, "/api/v1/cart/checkout")).await;
    assert_eq!(guest_checkout.status(), StatusCode::UNAUTHORIZED);
    declared(&doc, "post", "/api/v1/cart/checkout", &guest_checkout);

    // Checkout, and its replay.
    send(
        as_user(Method::POST, "/api/v1/cart/items")
            .json(&json!({ "product_id": product, "quantity": 1 })),
    )
    .await;
    for _ in 0..2 {
        let placed = send(
            as_user(Method::POST, "/api/v1/cart/checkout").header("idempotency-key", "headers-1"),
        )
        .await;
        assert_eq!(placed.status(), StatusCode::CREATED);
        declared(&doc, "post", "/api/v1/cart/checkout", &placed);
    }
    let orders = send(as_user(Method::GET, "/api/v1/orders")).await;
    declared(&doc, "get", "/api/v1/orders", &orders);
    let me = send(as_user(Method::GET, "/api/v1/users/me")).await;
    declared(&doc, "get", "/api/v1/users/me", &me);
    let wrong_method = send(call(Method::PUT, "/api/v1/users/me")).await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    declared(&doc, "get", "/api/v1/users/me", &wrong_method);
    let archived = send(as_user(Method::DELETE, &product_path)).await;
    declared(&doc, "delete", "/api/v1/products/{id}", &archived);
    let anonymous = send(call(Method::GET, "/api/v1/orders")).await;
    declared(&doc, "get", "/api/v1/orders", &anonymous);

    // Failed logins until the throttle answers.
    let wrong = json!({ "login": "headers", "password": "wrong horse" });
    let mut last = send(call(Method::POST, "/api/v1/sessions").json(&wrong)).await;
    while last.status() == StatusCode::UNAUTHORIZED {
        declared(&doc, "post", "/api/v1/sessions", &last);
        last = send(call(Method::POST, "/api/v1/sessions").json(&wrong)).await;
    }
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    declared(&doc, "post", "/api/v1/sessions", &last);
    let logged_out = send(as_user(Method::DELETE, "/api/v1/sessions/current")).await;
    declared(&doc, "delete", "/api/v1/sessions/current", &logged_out);

    // What no test run can provoke here, each status says wherever it is documented.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let expected: &[&str] = match status.as_str() {
                    "201" => &["Location"],
                    "304" => &["ETag"],
                    "308" => &["Location"],
                    "405" => &["Allow"],
                    "429" | "503" => &["Retry-After"],
                    _ => &[],
                };
                for name in expected {
                    assert!(
                        response["headers"][name].is_object(),
                        "{method} {path} {status}: {name} undeclared"
                    );
                }
            }
        }
    }
}

/// HEAD is answered wherever GET is (tests/api/errors.rs checks each), but it is not in
/// the document: generators would turn each into a function nobody calls.
#[tokio::test]
async fn the_document_has_no_head_twins_and_names_a_contact() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(item.get("head").is_none(), "HEAD {path} documented");
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(!id.ends_with("_head"), "{id}");
        }
    }
    let head = send(app.client.head(app.url("/api/v1/products"))).await;
    assert_eq!(head.status(), StatusCode::OK, "HEAD still answered");
    assert!(doc["info"]["contact"]["name"].is_string(), "info.contact");
}
