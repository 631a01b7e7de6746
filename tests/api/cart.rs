//! The cart: reading it, adding, changing and removing lines, and who may touch what.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{error_fields, expect_json, expect_problem, until_waiting_on_locks, Customer};

async fn shop() -> (TestApp, Customer, Customer) {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    (app, admin, alice)
}

impl TestApp {
    pub async fn add_to_cart(
        &self,
        customer: &Customer,
        product_id: &Value,
        quantity: i64,
    ) -> reqwest::Response {
        self.post_json(
            "/api/v1/cart/items",
            &json!({"product_id": product_id, "quantity": quantity}),
            Some(&customer.token),
        )
        .await
    }

    pub async fn cart(&self, customer: &Customer) -> Value {
        expect_json(
            self.get_as("/api/v1/cart", &customer.token).await,
            StatusCode::OK,
        )
        .await
    }
}

#[tokio::test]
async fn a_new_cart_is_empty_and_open() {
    let (app, _, alice) = shop().await;
    let cart = app.cart(&alice).await;
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["item_count"], 0);
    assert_eq!(cart["total"], "0.00");
    assert_eq!(cart["checked_out_at"], Value::Null);
    let fields: Vec<&String> = cart.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "checked_out_at",
            "created_at",
            "id",
            "item_count",
            "items",
            "status",
            "total",
            "updated_at"
        ]
    );
    // The same cart every time.
    assert_eq!(app.cart(&alice).await["id"], cart["id"]);
    expect_problem(
        app.get("/api/v1/cart").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn adding_a_product_twice_sums_one_line_with_exact_totals() {
    let (app, admin, alice) = shop().await;
    let dime = app.product(&admin, "Dime", "ten cents", "0.10", 100).await;
    let twenty = app
        .product(&admin, "Twenty", "twenty cents", "0.20", 100)
        .await;

    let cart = expect_json(
        app.add_to_cart(&alice, &dime["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(cart["items"][0]["quantity"], 1);
    let cart = expect_json(
        app.add_to_cart(&alice, &twenty["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(cart["total"], "0.30", "0.10 + 0.20 is exactly 0.30");
    let cart = expect_json(
        app.add_to_cart(&alice, &dime["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;

    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "one line per product");
    let line = &items[0];
    assert_eq!(line["product_id"], dime["id"]);
    assert_eq!(line["name"], "Dime");
    assert_eq!(line["unit_price"], "0.10");
    assert_eq!(line["quantity"], 3);
    assert_eq!(line["line_total"], "0.30");
    assert_eq!(line["available"], true);
    assert_eq!(cart["item_count"], 4);
    assert_eq!(cart["total"], "0.50");
    assert_eq!(app.cart(&alice).await, cart);
}

#[tokio::test]
async fn adding_validates_the_request() {
    let (app, admin, alice) = shop().await;
    let product = app.product(&admin, "Lamp", "bright", "12.00", 5).await;
    for quantity in [
        json!(0),
        json!(-1),
        json!(1000),
        json!(2_147_483_648_i64),
        json!(i64::MAX),
    ] {
        let problem = expect_problem(
            app.post_json(
                "/api/v1/cart/items",
                &json!({"product_id": product["id"], "quantity": quantity}),
                Some(&alice.token),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["quantity"], "{quantity}");
    }
    for body in [
        json!({"product_id": product["id"], "quantity": 1.5}),
        json!({"product_id": product["id"], "quantity": "1"}),
        json!({"product_id": product["id"], "quantity": 9_223_372_036_854_775_808_u64}),
        json!({"product_id": product["id"]}),
        json!({"product_id": product["id"], "quantity": 1, "user_id": 1}),
        json!({"product_id": product["id"], "quantity": 1, "unit_price": "0.01"}),
    ] {
        expect_problem(
            app.post_json("/api/v1/cart/items", &body, Some(&alice.token))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    for missing in [
        json!(999_999),
        json!(0),
        json!(-5),
        json!(99_999_999_999_i64),
    ] {
        expect_problem(
            app.add_to_cart(&alice, &missing, 1).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    expect_problem(
        app.post_json(
            "/api/v1/cart/items",
            &json!({"product_id": product["id"], "quantity": 1}),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.cart(&alice).await["items"],
        json!([]),
        "nothing was added"
    );
}

#[tokio::test]
async fn more_than_the_stock_is_409_with_what_is_available() {
    let (app, admin, alice) = shop().await;
    let product = app.product(&admin, "Rare", "only three", "50.00", 3).await;
    expect_json(
        app.add_to_cart(&alice, &product["id"], 2).await,
        StatusCode::CREATED,
    )
    .await;
    let problem = expect_problem(
        app.add_to_cart(&alice, &product["id"], 2).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(
        problem["items"],
        json!([{"product_id": product["id"], "requested": 4, "available": 3}])
    );
    assert_eq!(
        app.cart(&alice).await["items"][0]["quantity"],
        2,
        "unchanged"
    );
}

#[tokio::test]
async fn archived_products_cannot_be_added_and_stay_readable_in_the_cart() {
    let (app, admin, alice) = shop().await;
    let kept = app.product(&admin, "Kept", "stays", "2.00", 5).await;
    let gone = app
        .product(&admin, "Gone", "archived later", "3.00", 5)
        .await;
    expect_json(
        app.add_to_cart(&alice, &kept["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.add_to_cart(&alice, &gone["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/products/{}", gone["id"]);
    assert_eq!(
        app.delete_as(&path, Some(&admin.token)).await.status(),
        StatusCode::NO_CONTENT
    );

    let cart = app.cart(&alice).await;
    let archived_line = &cart["items"][1];
    assert_eq!(archived_line["name"], "Gone");
    assert_eq!(archived_line["available"], false);
    assert_eq!(cart["items"][0]["available"], true);
    assert_eq!(cart["total"], "2.00", "the archived line is left out");
    assert_eq!(cart["item_count"], 1);
    expect_problem(
        app.add_to_cart(&alice, &gone["id"], 1).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let problem = expect_problem(
        app.post_json("/api/v1/cart/checkout", &json!({}), Some(&alice.token))
            .await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(
        problem["items"],
        json!([{"product_id": gone["id"], "requested": 1, "available": 0}])
    );
}

#[tokio::test]
async fn lines_are_changed_and_removed_only_by_their_owner() {
    let (app, admin, alice) = shop().await;
    let mallory = app.customer("mallory").await;
    let product = app.product(&admin, "Hat", "warm", "12.00", 10).await;
    let cart = expect_json(
        app.add_to_cart(&alice, &product["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    let item_path = format!("/api/v1/cart/items/{}", cart["items"][0]["id"]);

    expect_problem(
        app.patch_json(&item_path, &json!({"quantity": 9}), Some(&mallory.token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.delete_as(&item_path, Some(&mallory.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.cart(&alice).await["items"][0]["quantity"],
        1,
        "untouched by mallory"
    );

    let changed = expect_json(
        app.patch_json(&item_path, &json!({"quantity": 4}), Some(&alice.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["items"][0]["quantity"], 4);
    assert_eq!(changed["total"], "48.00");
    let problem = expect_problem(
        app.patch_json(&item_path, &json!({"quantity": 11}), Some(&alice.token))
            .await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(problem["items"][0]["available"], 10);
    for bad in [
        json!({"quantity": 0}),
        json!({"quantity": -3}),
        json!({"quantity": 4, "cart_id": 1}),
    ] {
        expect_problem(
            app.patch_json(&item_path, &bad, Some(&alice.token)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    expect_problem(
        app.patch_json(
            "/api/v1/cart/items/999999",
            &json!({"quantity": 1}),
            Some(&alice.token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    assert_eq!(
        app.delete_as(&item_path, Some(&alice.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.cart(&alice).await["items"], json!([]));
    expect_problem(
        app.delete_as(&item_path, Some(&alice.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn concurrent_adds_of_one_product_make_one_line_with_the_sum() {
    let (app, admin, alice) = shop().await;
    let product = app
        .product(&admin, "Popular", "everyone wants one", "1.00", 100)
        .await;
    let adds = (0..20).map(|_| app.add_to_cart(&alice, &product["id"], 1));
    let statuses: Vec<StatusCode> = join_all(adds)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    let cart = app.cart(&alice).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(cart["items"][0]["quantity"], 20);
}

/// The stock rule under a race: twenty adds of one unit each to an existing cart, of a
/// product with five in stock, queued behind the cart's lock (held here) so that each
/// starts before the one ahead of it commits. Each must see the line as the add before
/// it left it, not as it was when the add started: five are added, fifteen refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_adds_never_take_a_line_past_the_stock() {
    use diesel::connection::SimpleConnection;

    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.database.pool_max_size = 8;
        config.database.pool_connection_timeout = Duration::from_secs(30);
    });
    let (admin, alice) = (app.admin("staff").await, app.customer("alice").await);
    let product = app.product(&admin, "Scarce", "only five", "1.00", 5).await;
    let cart = app.cart(&alice).await; // the open cart exists before the race

    let mut blocker = app.db.connect();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM carts WHERE id = {} FOR UPDATE",
            cart["id"]
        ))
        .unwrap();
    let adds: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/api/v1/cart/items"))
                .bearer_auth(&alice.token)
                .json(&json!({"product_id": product["id"], "quantity": 1}));
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    until_waiting_on_locks(&app.db, 8).await; // the whole pool queued on the cart
    blocker.batch_execute("COMMIT").unwrap();

    let mut statuses = Vec::new();
    for add in adds {
        statuses.push(add.await.unwrap());
    }
    let added = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((added, refused), (5, 15), "{statuses:?}");
    let cart = app.cart(&alice).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(cart["items"][0]["quantity"], 5);
}

#[tokio::test]
async fn every_change_moves_the_carts_updated_at_and_a_refused_one_does_not() {
    let (app, admin, alice) = shop().await;
    let lamp = app.product(&admin, "Lamp", "bright", "10.00", 5).await;
    let updated_at = |cart: &Value| {
        chrono::DateTime::parse_from_rfc3339(cart["updated_at"].as_str().unwrap()).unwrap()
    };
    let added = expect_json(
        app.add_to_cart(&alice, &lamp["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    let added_again = expect_json(
        app.add_to_cart(&alice, &lamp["id"], 1).await,
        StatusCode::CREATED,
    )
    .await;
    assert!(updated_at(&added_again) > updated_at(&added));

    let item = format!("/api/v1/cart/items/{}", added["items"][0]["id"]);
    let patched = expect_json(
        app.patch_json(&item, &json!({"quantity": 3}), Some(&alice.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(updated_at(&patched) > updated_at(&added_again));

    expect_problem(
        app.add_to_cart(&alice, &lamp["id"], 50).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(updated_at(&app.cart(&alice).await), updated_at(&patched));

    assert_eq!(
        app.delete_as(&item, Some(&alice.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(updated_at(&app.cart(&alice).await) > updated_at(&patched));
}

#[tokio::test]
async fn whole_floats_are_integers_and_fractions_are_not() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let added = |body: String| {
        let app = &app;
        let token = alice.token.clone();
        async move {
            app.client
                .post(app.url("/api/v1/cart/items"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let cart = expect_json(
        added(format!(
            r#"{{"product_id": {}.0, "quantity": 2.0}}"#,
            teapot["id"]
        ))
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(cart["item_count"], 2);
    let problem = expect_problem(
        added(format!(
            r#"{{"product_id": {}, "quantity": 1.5}}"#,
            teapot["id"]
        ))
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["quantity"]);
}
