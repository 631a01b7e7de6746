//! Variant groups and product images (DESIGN §12) over HTTP: a group's options, its
//! variants as products of their own (sold through the cart as any product), options
//! that must fit the group and differ between live variants, and images on products.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::helpers::{error_fields, expect_json, expect_problem, Customer};

/// Sent as text: `json!` would sort the options' keys, and their order is kept.
async fn group(app: &TestApp, admin: &Customer) -> Value {
    let created = app
        .client
        .post(app.url("/api/v1/product-groups"))
        .bearer_auth(&admin.token)
        .header("Content-Type", "application/json")
        .body(r#"{"name": "Linen shirt", "options": {"size": ["S", "M", "L"], "colour": ["white", "blue"]}}"#)
        .send()
        .await
        .unwrap();
    expect_json(created, StatusCode::CREATED).await
}

fn variant_body(group: &Value, size: &str, colour: &str, price: &str) -> Value {
    json!({
        "name": format!("Linen shirt {size} {colour}"),
        "price": price,
        "inventory_count": 3,
        "group_id": group["id"],
        "options": {"size": size, "colour": colour},
    })
}

#[tokio::test]
async fn a_group_shows_its_live_variants_each_a_product_of_its_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let shirt = group(&app, &admin).await;
    // The options keep the order they were given in (read from the raw text: a parsed
    // JSON object here sorts its keys).
    let raw = app
        .get(&format!("/api/v1/product-groups/{}", shirt["id"]))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        raw.find("\"size\"").unwrap() < raw.find("\"colour\"").unwrap(),
        "{raw}"
    );
    assert_eq!(shirt["variants"], json!([]));

    let mut variants = Vec::new();
    for (size, price) in [("S", "30.00"), ("M", "32.00")] {
        let created = app
            .post_json(
                "/api/v1/products",
                &variant_body(&shirt, size, "white", price),
                Some(&admin.token),
            )
            .await;
        variants.push(expect_json(created, StatusCode::CREATED).await);
    }
    assert_eq!(variants[1]["group_id"], shirt["id"]);
    assert_eq!(
        variants[1]["options"],
        json!({"size": "M", "colour": "white"})
    );

    let path = format!("/api/v1/product-groups/{}", shirt["id"]);
    let read = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(read["name"], "Linen shirt");
    let prices: Vec<&str> = read["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["price"].as_str().unwrap())
        .collect();
    assert_eq!(prices, ["30.00", "32.00"]);

    // A variant goes into the cart like any product, with its own price.
    let customer = app.customer("shopper").await;
    let added = app
        .post_json(
            "/api/v1/cart/items",
            &json!({"product_id": variants[1]["id"], "quantity": 2}),
            Some(&customer.token),
        )
        .await;
    let cart = expect_json(added, StatusCode::CREATED).await;
    assert_eq!(cart["total"], "64.00", "{cart}");

    // Archived: gone from the group, and its options free for a new variant.
    let archived = app
        .delete_as(
            &format!("/api/v1/products/{}", variants[0]["id"]),
            Some(&admin.token),
        )
        .await;
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    let read = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(read["variants"].as_array().unwrap().len(), 1);
    let again = app
        .post_json(
            "/api/v1/products",
            &variant_body(&shirt, "S", "white", "29.00"),
            Some(&admin.token),
        )
        .await;
    expect_json(again, StatusCode::CREATED).await;

    expect_problem(
        app.get("/api/v1/product-groups/999999").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn variants_must_fit_their_group_and_differ_from_each_other() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let shirt = group(&app, &admin).await;
    let first = app
        .post_json(
            "/api/v1/products",
            &variant_body(&shirt, "M", "blue", "30.00"),
            Some(&admin.token),
        )
        .await;
    let first = expect_json(first, StatusCode::CREATED).await;

    // The same options as a live variant: 409 on options.
    let twin = app
        .post_json(
            "/api/v1/products",
            &variant_body(&shirt, "M", "blue", "31.00"),
            Some(&admin.token),
        )
        .await;
    let problem = expect_problem(twin, StatusCode::CONFLICT, "already_exists").await;
    assert_eq!(error_fields(&problem), ["options"]);

    let cases = [
        (
            json!({"name": "x", "price": "1.00", "group_id": shirt["id"], "options": {"size": "M"}}),
            "options",
        ),
        (
            json!({"name": "x", "price": "1.00", "group_id": shirt["id"], "options": {"size": "XXL", "colour": "blue"}}),
            "options",
        ),
        (
            json!({"name": "x", "price": "1.00", "group_id": shirt["id"], "options": {"size": "S", "colour": "blue", "fit": "slim"}}),
            "options",
        ),
        (
            json!({"name": "x", "price": "1.00", "group_id": shirt["id"]}),
            "options",
        ),
        (
            json!({"name": "x", "price": "1.00", "options": {"size": "S"}}),
            "options",
        ),
        (
            json!({"name": "x", "price": "1.00", "group_id": 999_999, "options": {"size": "S"}}),
            "group_id",
        ),
    ];
    for (body, field) in cases {
        let refused = app
            .post_json("/api/v1/products", &body, Some(&admin.token))
            .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    // Moving a variant onto another's options by PATCH: 409 too, nothing changed.
    let second = app
        .post_json(
            "/api/v1/products",
            &variant_body(&shirt, "L", "blue", "30.00"),
            Some(&admin.token),
        )
        .await;
    let second = expect_json(second, StatusCode::CREATED).await;
    let clash = app
        .patch_json(
            &format!("/api/v1/products/{}", second["id"]),
            &json!({"options": {"size": "M", "colour": "blue"}}),
            Some(&admin.token),
        )
        .await;
    expect_problem(clash, StatusCode::CONFLICT, "already_exists").await;
    let unchanged = expect_json(
        app.get(&format!("/api/v1/products/{}", second["id"])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["options"]["size"], "L");

    // The group's options must keep admitting its live variants.
    let path = format!("/api/v1/product-groups/{}", shirt["id"]);
    let narrowed = app
        .patch_json(
            &path,
            &json!({"options": {"size": ["S"], "colour": ["blue"]}}),
            Some(&admin.token),
        )
        .await;
    expect_problem(narrowed, StatusCode::CONFLICT, "invalid_state").await;
    let widened = app
        .patch_json(&path, &json!({"options": {"size": ["S", "M", "L", "XL"], "colour": ["blue", "white", "red"]}}), Some(&admin.token))
        .await;
    assert_eq!(
        expect_json(widened, StatusCode::OK).await["variants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let refused = app.delete_as(&path, Some(&admin.token)).await;
    expect_problem(refused, StatusCode::CONFLICT, "invalid_state").await;
    // Out of the group: its options go with it.
    let left = app
        .patch_json(
            &format!("/api/v1/products/{}", first["id"]),
            &json!({"group_id": null}),
            Some(&admin.token),
        )
        .await;
    let left = expect_json(left, StatusCode::OK).await;
    assert_eq!(
        (left["group_id"].clone(), left["options"].clone()),
        (Value::Null, Value::Null)
    );

    let bad_groups = [
        json!({"name": "x", "options": {}}),
        json!({"name": "x", "options": {"size": []}}),
        json!({"name": "x", "options": {"size": ["S", "S"]}}),
        json!({"name": "x", "options": {"size": "S"}}),
    ];
    for body in bad_groups {
        let response = app
            .post_json("/api/v1/product-groups", &body, Some(&admin.token))
            .await;
        let status = response.status();
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status}"
        );
    }
}

#[tokio::test]
async fn products_carry_https_images_in_order_and_a_change_changes_the_etag() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let created = app
        .post_json(
            "/api/v1/products",
            &json!({"name": "Teapot", "price": "20.00", "images": [
                {"url": "https://cdn.example.com/back.jpg", "alt": "Back", "position": 2},
                {"url": "https://cdn.example.com/front.jpg", "alt": "Front", "position": 1},
            ]}),
            Some(&admin.token),
        )
        .await;
    let product = expect_json(created, StatusCode::CREATED).await;
    assert_eq!(
        product["images"],
        json!([
            {"url": "https://cdn.example.com/front.jpg", "alt": "Front", "position": 1},
            {"url": "https://cdn.example.com/back.jpg", "alt": "Back", "position": 2},
        ])
    );
    let path = format!("/api/v1/products/{}", product["id"]);
    let etag = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    let replaced = app
        .patch_json(
            &path,
            &json!({"images": [{"url": "https://cdn.example.com/side.jpg"}]}),
            Some(&admin.token),
        )
        .await;
    let replaced = expect_json(replaced, StatusCode::OK).await;
    assert_eq!(
        replaced["images"],
        json!([{"url": "https://cdn.example.com/side.jpg", "alt": "", "position": 0}])
    );
    let revalidated = app
        .client
        .get(app.url(&path))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        revalidated.status(),
        StatusCode::OK,
        "the old ETag no longer matches"
    );

    let many: Vec<Value> = (0..21)
        .map(|i| json!({"url": format!("https://cdn.example.com/{i}.jpg")}))
        .collect();
    let long = format!("https://cdn.example.com/{}.jpg", "a".repeat(2000));
    let cases = [
        (
            json!([{"url": "http://cdn.example.com/a.jpg"}]),
            "images[0].url",
        ),
        (
            json!([{"url": "https://cdn.example.com/a.jpg"}, {"url": "javascript:alert(1)"}]),
            "images[1].url",
        ),
        (json!([{"url": long}]), "images[0].url"),
        (
            json!([{"url": "https://cdn.example.com/a.jpg", "alt": "x".repeat(501)}]),
            "images[0].alt",
        ),
        (json!(many), "images"),
    ];
    for (images, field) in cases {
        let refused = app
            .patch_json(&path, &json!({"images": images}), Some(&admin.token))
            .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field]);
    }
    let unchanged = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(unchanged["images"], replaced["images"]);
}

/// Ten staff members create the same variant at once, on two instances: one is created,
/// the other nine are 409 (the database's unique index decides, not a read before the
/// write).
#[tokio::test]
async fn concurrent_creations_of_one_variant_make_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let shirt = group(&app, &admin).await;
    let other = app.another_instance();
    let body = variant_body(&shirt, "L", "blue", "30.00");
    let attempts = (0..10).map(|n| {
        let instance = if n % 2 == 0 { &app } else { &other };
        instance.post_json("/api/v1/products", &body, Some(&admin.token))
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    let read = expect_json(
        app.get(&format!("/api/v1/product-groups/{}", shirt["id"]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["variants"].as_array().unwrap().len(), 1);
}
