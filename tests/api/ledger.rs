//! The price and stock ledger over HTTP: what creating, changing and checking out a
//! product records, the admin's history listing (auth, 404, keyset pages in a total
//! order), `lowest_price_30d` everywhere a product is shown, and the invariant that a
//! product's stock movements sum to its `inventory_count`.

use chrono::SubsecRound;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Timestamptz};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{expect_json, expect_problem, Customer};

/// Every product's movements sum to its inventory_count (none is listed as unbalanced).
pub fn assert_ledger_balanced(db: &TestDb) {
    let unbalanced =
        storefront::repository::ledger::unbalanced_products(&mut db.connect()).expect("query");
    assert!(
        unbalanced.is_empty(),
        "(product, inventory_count, sum of deltas): {unbalanced:?}"
    );
}

impl TestApp {
    /// One page of a product's history as `admin`.
    async fn history_page(&self, admin: &Customer, product_id: i64, query: &str) -> Value {
        expect_json(
            self.get_as(
                &format!("/api/v1/products/{product_id}/history{query}"),
                &admin.token,
            )
            .await,
            StatusCode::OK,
        )
        .await
    }

    /// A product's whole history, page by page of `limit`.
    async fn whole_history(&self, admin: &Customer, product_id: i64, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut query = format!("?limit={limit}");
        loop {
            let page = self.history_page(admin, product_id, &query).await;
            let page_items = page["items"].as_array().expect("items").clone();
            assert!(page_items.len() <= limit, "{page}");
            items.extend(page_items);
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("?limit={limit}&cursor={cursor}"),
                None => return items,
            }
        }
    }

    async fn patch_product(&self, admin: &Customer, id: i64, body: Value) -> Value {
        expect_json(
            self.patch_json(&format!("/api/v1/products/{id}"), &body, Some(&admin.token))
                .await,
            StatusCode::OK,
        )
        .await
    }
}

fn id_of(product: &Value) -> i64 {
    product["id"].as_i64().expect("product id")
}

#[tokio::test]
async fn the_history_is_for_admins_and_existing_products() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let customer = app.customer("shopper").await;
    let product = app.product(&admin, "Teapot", "Blue", "19.90", 3).await;
    let path = format!("/api/v1/products/{}/history", id_of(&product));

    let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_problem(
        app.get_as(&path, &customer.token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Auth comes before any complaint about the query.
    expect_problem(
        app.get_as(&format!("{path}?limit=ten"), &customer.token)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get_as("/api/v1/products/999999/history", &admin.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get_as(&format!("{path}?limit=0"), &admin.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.get_as(&format!("{path}?limit=ten"), &admin.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_problem(
        app.get_as(&format!("{path}?cursor={}", "A".repeat(36)), &admin.token)
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    // An archived product's history stays readable: the audit outlives the catalogue.
    let archived = app
        .delete_as(
            &format!("/api/v1/products/{}", id_of(&product)),
            Some(&admin.token),
        )
        .await;
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    let page = app.history_page(&admin, id_of(&product), "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn creating_patching_and_checking_out_are_recorded_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let buyer = app.customer("buyer").await;
    let product = app.product(&admin, "Teapot", "Blue", "19.90", 5).await;
    let id = id_of(&product);

    app.patch_product(&admin, id, json!({"price": "17.50"}))
        .await;
    app.patch_product(&admin, id, json!({"inventory_count": 8}))
        .await;
    // Both in one request: one price item and one adjustment.
    app.patch_product(&admin, id, json!({"price": "18.00", "inventory_count": 6}))
        .await;
    // What does not change is not recorded.
    app.patch_product(
        &admin,
        id,
        json!({"price": "18", "inventory_count": 6, "name": "Blue teapot"}),
    )
    .await;

    let added = app
        .post_json(
            "/api/v1/cart/items",
            &json!({"product_id": id, "quantity": 2}),
            Some(&buyer.token),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let order = expect_json(
        app.client
            .post(app.url("/api/v1/cart/checkout"))
            .bearer_auth(&buyer.token)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;

    let page = app.history_page(&admin, id, "").await;
    assert_eq!(page["next_cursor"], Value::Null);
    let items: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            // `at` is checked for order below; the rest must be exactly this.
            let mut item = item.clone();
            item.as_object_mut().unwrap().remove("at");
            item
        })
        .collect();
    let by_admin = json!(admin.id);
    assert_eq!(
        items,
        vec![
            json!({"kind": "stock", "by_user_id": buyer.id, "delta": -2, "resulting_count": 4,
                   "reason": "checkout", "order_id": order["id"]}),
            json!({"kind": "stock", "by_user_id": by_admin, "delta": -2, "resulting_count": 6,
                   "reason": "adjustment", "order_id": null}),
            json!({"kind": "price", "by_user_id": by_admin, "old_price": "17.50",
                   "new_price": "18.00"}),
            json!({"kind": "stock", "by_user_id": by_admin, "delta": 3, "resulting_count": 8,
                   "reason": "adjustment", "order_id": null}),
            json!({"kind": "price", "by_user_id": by_admin, "old_price": "19.90",
                   "new_price": "17.50"}),
            json!({"kind": "stock", "by_user_id": by_admin, "delta": 5, "resulting_count": 5,
                   "reason": "created", "order_id": null}),
        ]
    );
    let times: Vec<chrono::DateTime<chrono::Utc>> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["at"].as_str().unwrap().parse().expect("RFC 3339"))
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {times:?}"
    );

    // The invariant, seen through the API and in the database.
    let stock: i64 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["delta"].as_i64())
        .sum();
    let shown = expect_json(
        app.client
            .get(app.url(&format!("/api/v1/products/{id}")))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["inventory_count"], 4);
    assert_eq!(stock, 4);
    assert_ledger_balanced(&app.db);
}

#[tokio::test]
async fn refused_changes_record_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let product = app.product(&admin, "Teapot", "Blue", "19.90", 5).await;
    let id = id_of(&product);
    expect_problem(
        app.patch_json(
            &format!("/api/v1/products/{id}"),
            &json!({"price": "-1", "inventory_count": 9}),
            Some(&admin.token),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let refused = app
        .post_json(
            "/api/v1/products",
            &json!({"name": "", "price": "1.00", "inventory_count": 4}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // An archived product cannot be changed (404), so nothing is recorded either.
    let archived = app
        .delete_as(&format!("/api/v1/products/{id}"), Some(&admin.token))
        .await;
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.patch_json(
            &format!("/api/v1/products/{id}"),
            &json!({"price": "5.00", "inventory_count": 9}),
            Some(&admin.token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let page = app.history_page(&admin, id, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_ledger_balanced(&app.db);
}

/// Entries written at one instant (as a seed or one transaction's clock may) still page
/// in one total order: every entry once, none skipped, at every page size.
#[tokio::test]
async fn history_pages_are_keyset_and_never_skip_or_repeat_entries() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let product = app.product(&admin, "Teapot", "Blue", "19.90", 5).await;
    let other = app.product(&admin, "Kettle", "Steel", "30.00", 1).await;
    let id = id_of(&product);
    for (offset, count) in [(2, 3), (1, 4), (0, 2)] {
        // `count` price changes and `count` movements, all at one instant (in the future,
        // so they come before the product's creation).
        let instant = chrono::Utc::now().trunc_subsecs(6) + chrono::TimeDelta::days(offset);
        diesel::sql_query(
            "INSERT INTO price_changes (product_id, old_price, new_price, at)
             SELECT $1, g, g + 0.5, $2 FROM generate_series(1, $3) g",
        )
        .bind::<Integer, _>(id as i32)
        .bind::<Timestamptz, _>(instant)
        .bind::<Integer, _>(count)
        .execute(&mut app.db.connect())
        .unwrap();
        diesel::sql_query(
            "INSERT INTO stock_movements (product_id, delta, resulting_count, reason, at)
             SELECT $1, CASE WHEN g % 2 = 0 THEN -g ELSE g END, 5 + g, 'adjustment', $2
             FROM generate_series(1, $3) g",
        )
        .bind::<Integer, _>(id as i32)
        .bind::<Timestamptz, _>(instant)
        .bind::<Integer, _>(count)
        .execute(&mut app.db.connect())
        .unwrap();
    }

    let all = app.whole_history(&admin, id, 100).await;
    assert_eq!(all.len(), 1 + 2 * (3 + 4 + 2));
    // Newest first; at one instant stock before price, each newest (highest id) first.
    let first_instant: Vec<(&str, String)> = all[..6]
        .iter()
        .map(|item| {
            let value = item["delta"]
                .as_i64()
                .map_or_else(|| item["old_price"].to_string(), |d| d.to_string());
            (item["kind"].as_str().unwrap(), value)
        })
        .collect();
    assert_eq!(
        first_instant,
        [
            ("stock", "3".to_owned()),
            ("stock", "-2".to_owned()),
            ("stock", "1".to_owned()),
            ("price", "\"3.00\"".to_owned()),
            ("price", "\"2.00\"".to_owned()),
            ("price", "\"1.00\"".to_owned()),
        ]
    );
    for limit in [1, 2, 3, 4, 7] {
        assert_eq!(
            app.whole_history(&admin, id, limit).await,
            all,
            "pages of {limit}"
        );
    }

    // A cursor names a position in one product's history only.
    let page = app.history_page(&admin, id, "?limit=2").await;
    let cursor = page["next_cursor"].as_str().expect("more pages");
    expect_problem(
        app.get_as(
            &format!("/api/v1/products/{}/history?cursor={cursor}", id_of(&other)),
            &admin.token,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn lowest_price_30d_is_shown_wherever_the_product_is() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let created = app
        .product(&admin, "Omnibus teapot", "Blue", "20.00", 5)
        .await;
    let id = id_of(&created);
    assert_eq!(created["lowest_price_30d"], "20.00");

    // Raised, then lowered a little: the lowest of the 30 days is the first price.
    let raised = app
        .patch_product(&admin, id, json!({"price": "25.00"}))
        .await;
    assert_eq!(
        (&raised["price"], &raised["lowest_price_30d"]),
        (&json!("25.00"), &json!("20.00"))
    );
    let lowered = app
        .patch_product(&admin, id, json!({"price": "22.50"}))
        .await;
    assert_eq!(lowered["lowest_price_30d"], "20.00");

    let everywhere = |app: &TestApp, token: Option<String>| {
        let client = app.client.clone();
        let urls = [
            app.url(&format!("/api/v1/products/{id}")),
            app.url("/api/v1/products"),
            app.url("/api/v1/products?q=omnibus"),
            app.url("/api/v1/products?sort=price_asc&min_price=1"),
        ];
        async move {
            let mut seen = Vec::new();
            for url in urls {
                let mut request = client.get(&url);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let body = expect_json(request.send().await.unwrap(), StatusCode::OK).await;
                let product = if body["items"].is_array() {
                    body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|p| p["id"] == id)
                        .cloned()
                        .unwrap_or_else(|| panic!("{url}: {body}"))
                } else {
                    body
                };
                seen.push(product["lowest_price_30d"].clone());
            }
            seen
        }
    };
    assert_eq!(everywhere(&app, None).await, vec![json!("20.00"); 4]);
    assert_eq!(
        everywhere(&app, Some(admin.token.clone())).await,
        vec![json!("20.00"); 4]
    );

    // The 20.00 ended 31 days ago: out of the window. Of the 25.00 (still within it) and
    // the current 22.50, the current price is the lowest.
    // (Time moves for what a price change keeps beside the price too: the lowest earlier
    // price, valid until its change leaves the window.)
    diesel::sql_query(
        "WITH moved AS (
             UPDATE price_changes SET at = now() - interval '31 days'
             WHERE product_id = $1 AND old_price = 20.00 RETURNING at)
         UPDATE products SET low_price_until = (SELECT at + interval '30 days' FROM moved)
         WHERE id = $1",
    )
    .bind::<Integer, _>(id as i32)
    .execute(&mut app.db.connect())
    .unwrap();
    assert_eq!(everywhere(&app, None).await, vec![json!("22.50"); 4]);

    // A reduction below every earlier price is its own lowest price.
    let reduced = app
        .patch_product(&admin, id, json!({"price": "9.99"}))
        .await;
    assert_eq!(reduced["lowest_price_30d"], "9.99");
    assert_eq!(everywhere(&app, None).await, vec![json!("9.99"); 4]);
}
