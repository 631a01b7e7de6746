//! The category tree (DESIGN §12) over HTTP: staff build and reshape it, anyone reads it
//! (with an ETag), `GET /products?category=` lists a category with everything below it,
//! and no move, however concurrent, makes a cycle.

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::helpers::{
    collect_pages, error_fields, expect_json, expect_problem, until_waiting_on_locks, Customer,
};

async fn category(app: &TestApp, admin: &Customer, body: Value) -> Value {
    expect_json(
        app.post_json("/api/v1/categories", &body, Some(&admin.token))
            .await,
        StatusCode::CREATED,
    )
    .await
}

async fn filed_product(
    app: &TestApp,
    admin: &Customer,
    name: &str,
    price: &str,
    categories: &[&Value],
) -> Value {
    let ids: Vec<&Value> = categories.iter().map(|c| &c["id"]).collect();
    expect_json(
        app.post_json(
            "/api/v1/products",
            &json!({"name": name, "price": price, "inventory_count": 5, "category_ids": ids}),
            Some(&admin.token),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    names(&collect_pages(app, query, 2).await)
}

#[tokio::test]
async fn a_category_lists_its_products_and_everything_below_it_with_paging_and_filters() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let clothing = category(
        &app,
        &admin,
        json!({"name": "Clothing", "slug": "clothing"}),
    )
    .await;
    let shirts = category(
        &app,
        &admin,
        json!({"name": "Shirts", "slug": "shirts", "parent_id": clothing["id"]}),
    )
    .await;
    let linen = category(
        &app,
        &admin,
        json!({"name": "Linen shirts", "slug": "linen-shirts", "parent_id": shirts["id"]}),
    )
    .await;
    let kitchen = category(&app, &admin, json!({"name": "Kitchen", "slug": "kitchen"})).await;
    filed_product(&app, &admin, "Linen shirt", "30.00", &[&linen]).await;
    filed_product(&app, &admin, "Oxford shirt", "20.00", &[&shirts]).await;
    filed_product(&app, &admin, "Wool hat", "10.00", &[&clothing]).await;
    let apron = filed_product(&app, &admin, "Linen apron", "15.00", &[&kitchen, &clothing]).await;
    filed_product(&app, &admin, "Teapot", "25.00", &[&kitchen]).await;
    app.product(&admin, "Unfiled thing", "", "5.00", 1).await;
    assert_eq!(
        apron["category_ids"],
        json!([clothing["id"], kitchen["id"]])
    );

    // Newest first, two per page: the category and its descendants, nothing else.
    assert_eq!(
        listed(&app, "&category=clothing").await,
        ["Linen apron", "Wool hat", "Oxford shirt", "Linen shirt"]
    );
    assert_eq!(
        listed(&app, "&category=shirts").await,
        ["Oxford shirt", "Linen shirt"]
    );
    assert_eq!(
        listed(&app, "&category=linen-shirts").await,
        ["Linen shirt"]
    );
    // Every other parameter as without a category: price order, price range, search.
    assert_eq!(
        listed(&app, "&category=clothing&sort=price_asc").await,
        ["Wool hat", "Linen apron", "Oxford shirt", "Linen shirt"]
    );
    assert_eq!(
        listed(&app, "&category=clothing&sort=price_desc&max_price=20").await,
        ["Oxford shirt", "Linen apron", "Wool hat"]
    );
    assert_eq!(listed(&app, "&category=clothing&q=linen").await.len(), 2);
    assert_eq!(
        listed(&app, "&category=kitchen&q=linen").await,
        ["Linen apron"]
    );
    assert_eq!(
        listed(&app, "&category=clothing&q=linen&sort=price_asc").await,
        ["Linen apron", "Linen shirt"]
    );
    // A price change reorders the category's price order at once.
    let hat = collect_pages(&app, "&category=clothing&q=hat", 5).await;
    let changed = app
        .patch_json(
            &format!("/api/v1/products/{}", hat[0]["id"]),
            &json!({"price": "99.00"}),
            Some(&admin.token),
        )
        .await;
    expect_json(changed, StatusCode::OK).await;
    assert_eq!(
        listed(&app, "&category=clothing&sort=price_asc").await,
        ["Linen apron", "Oxford shirt", "Linen shirt", "Wool hat"]
    );
    // Unknown and malformed slugs.
    expect_problem(
        app.get("/api/v1/products?category=no-such").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let bad = expect_problem(
        app.get("/api/v1/products?category=Not%20A%20Slug").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(error_fields(&bad), ["category"]);
}

#[tokio::test]
async fn moving_and_deleting_categories_refiles_their_products() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let clothing = category(
        &app,
        &admin,
        json!({"name": "Clothing", "slug": "clothing"}),
    )
    .await;
    let sale = category(&app, &admin, json!({"name": "Sale", "slug": "sale"})).await;
    let shirts = category(
        &app,
        &admin,
        json!({"name": "Shirts", "slug": "shirts", "parent_id": clothing["id"]}),
    )
    .await;
    let linen = category(
        &app,
        &admin,
        json!({"name": "Linen", "slug": "linen", "parent_id": shirts["id"]}),
    )
    .await;
    let shirt = filed_product(&app, &admin, "Linen shirt", "30.00", &[&linen]).await;
    assert_eq!(listed(&app, "&category=clothing").await, ["Linen shirt"]);

    // Shirts (with linen below it) moves under sale.
    let moved = app
        .patch_json(
            &format!("/api/v1/categories/{}", shirts["id"]),
            &json!({"parent_id": sale["id"]}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        expect_json(moved, StatusCode::OK).await["parent_id"],
        sale["id"]
    );
    assert!(listed(&app, "&category=clothing").await.is_empty());
    assert_eq!(listed(&app, "&category=sale").await, ["Linen shirt"]);
    // To the top level.
    let top = app
        .patch_json(
            &format!("/api/v1/categories/{}", shirts["id"]),
            &json!({"parent_id": null}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        expect_json(top, StatusCode::OK).await["parent_id"],
        Value::Null
    );
    assert!(listed(&app, "&category=sale").await.is_empty());

    // A category with subcategories is not deleted; a leaf is, and its products leave it.
    let refused = app
        .delete_as(
            &format!("/api/v1/categories/{}", shirts["id"]),
            Some(&admin.token),
        )
        .await;
    expect_problem(refused, StatusCode::CONFLICT, "invalid_state").await;
    let deleted = app
        .delete_as(
            &format!("/api/v1/categories/{}", linen["id"]),
            Some(&admin.token),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let product = expect_json(
        app.get(&format!("/api/v1/products/{}", shirt["id"])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(product["category_ids"], json!([]));
    assert!(listed(&app, "&category=shirts").await.is_empty());
    expect_problem(
        app.get("/api/v1/products?category=linen").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Refiling by PATCH.
    let refiled = app
        .patch_json(
            &format!("/api/v1/products/{}", shirt["id"]),
            &json!({"category_ids": [sale["id"], shirts["id"]]}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        expect_json(refiled, StatusCode::OK).await["category_ids"],
        json!([sale["id"], shirts["id"]])
    );
    assert_eq!(listed(&app, "&category=shirts").await, ["Linen shirt"]);
}

#[tokio::test]
async fn the_tree_is_public_ordered_and_revalidated_by_etag() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let b = category(&app, &admin, json!({"name": "B", "slug": "b"})).await;
    let a = category(
        &app,
        &admin,
        json!({"name": "A", "slug": "a", "position": 0}),
    )
    .await;
    category(
        &app,
        &admin,
        json!({"name": "B two", "slug": "b-two", "parent_id": b["id"]}),
    )
    .await;
    category(
        &app,
        &admin,
        json!({"name": "B one", "slug": "b-one", "parent_id": b["id"], "position": 0}),
    )
    .await;
    assert_eq!(b["position"], 0);
    assert_eq!(a["position"], 0);

    let response = app.get("/api/v1/categories").await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let tree = expect_json(response, StatusCode::OK).await;
    let slugs: Vec<&str> = tree["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    // Depth first; siblings by position, then name ("B two" came first, at position 0,
    // then "B one" was put at 0 too: the name decides).
    assert_eq!(slugs, ["a", "b", "b-one", "b-two"]);
    let fields: Vec<&String> = tree["items"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "id",
            "name",
            "parent_id",
            "position",
            "slug",
            "updated_at"
        ]
    );

    let again = app
        .client
        .get(app.url("/api/v1/categories"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let renamed = app
        .patch_json(
            &format!("/api/v1/categories/{}", a["id"]),
            &json!({"name": "A!"}),
            Some(&admin.token),
        )
        .await;
    expect_json(renamed, StatusCode::OK).await;
    let changed = app
        .client
        .get(app.url("/api/v1/categories"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let one = expect_json(
        app.get(&format!("/api/v1/categories/{}", a["id"])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["name"], "A!");
}

#[tokio::test]
async fn bad_categories_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let customer = app.customer("shopper").await;
    let shirts = category(&app, &admin, json!({"name": "Shirts", "slug": "shirts"})).await;
    let cases = [
        (
            json!({"name": "X", "slug": "shirts"}),
            StatusCode::CONFLICT,
            "already_exists",
            "slug",
        ),
        (
            json!({"name": "X", "slug": "Shirts"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "slug",
        ),
        (
            json!({"name": "X", "slug": "a--b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "slug",
        ),
        (
            json!({"name": "X", "slug": "x", "parent_id": 999_999}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "parent_id",
        ),
        (
            json!({"name": " ", "slug": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "name",
        ),
        (
            json!({"name": "X", "slug": "x", "position": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "position",
        ),
    ];
    for (body, status, code, field) in cases {
        let problem = expect_problem(
            app.post_json("/api/v1/categories", &body, Some(&admin.token))
                .await,
            status,
            code,
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    expect_problem(
        app.post_json(
            "/api/v1/categories",
            &json!({"name": "X", "slug": "x"}),
            Some(&customer.token),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.post_json(
            "/api/v1/categories",
            &json!({"name": "X", "slug": "x"}),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // A product filed under a category that does not exist.
    let problem = expect_problem(
        app.post_json(
            "/api/v1/products",
            &json!({"name": "P", "price": "1.00", "category_ids": [shirts["id"], 999_999]}),
            Some(&admin.token),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["category_ids"]);
    // A category under itself, or under its own child: a cycle.
    let child = category(
        &app,
        &admin,
        json!({"name": "Child", "slug": "child", "parent_id": shirts["id"]}),
    )
    .await;
    for parent in [&shirts["id"], &child["id"]] {
        let cycle = app
            .patch_json(
                &format!("/api/v1/categories/{}", shirts["id"]),
                &json!({"parent_id": parent}),
                Some(&admin.token),
            )
            .await;
        expect_problem(cycle, StatusCode::CONFLICT, "invalid_state").await;
    }
    let tree = expect_json(app.get("/api/v1/categories").await, StatusCode::OK).await;
    let items = tree["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["parent_id"], Value::Null);
    assert_eq!(items[1]["parent_id"], shirts["id"]);
    assert!(
        collect_pages(&app, "", 10).await.is_empty(),
        "no product was created"
    );
}

/// Two moves that are each fine alone but make a cycle together (A under B, B under A),
/// both in flight at once: held at the same point by a table lock the test takes, so
/// both have read the tree before either writes. One wins, the other is 409.
#[tokio::test]
async fn concurrent_moves_cannot_make_a_cycle() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let a = category(&app, &admin, json!({"name": "A", "slug": "a"})).await;
    let b = category(&app, &admin, json!({"name": "B", "slug": "b"})).await;
    let other = app.another_instance();

    let mut blocker = app.db.connect();
    blocker
        .batch_execute("BEGIN; LOCK TABLE categories IN SHARE MODE")
        .unwrap();
    let (path_a, path_b) = (
        format!("/api/v1/categories/{}", a["id"]),
        format!("/api/v1/categories/{}", b["id"]),
    );
    let (under_b, under_a) = (json!({"parent_id": b["id"]}), json!({"parent_id": a["id"]}));
    let move_a = app.patch_json(&path_a, &under_b, Some(&admin.token));
    let move_b = other.patch_json(&path_b, &under_a, Some(&admin.token));
    let release = async {
        until_waiting_on_locks(&app.db, 2).await;
        blocker.batch_execute("COMMIT").unwrap();
    };
    let (first, second, ()) = tokio::join!(move_a, move_b, release);
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);

    let tree = expect_json(app.get("/api/v1/categories").await, StatusCode::OK).await;
    let parents: HashMap<i64, Option<i64>> = tree["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["parent_id"].as_i64()))
        .collect();
    assert_eq!(parents.len(), 2, "both still in the tree: {parents:?}");
    assert!(
        parents.values().any(Option::is_none),
        "one is top-level: {parents:?}"
    );
}
