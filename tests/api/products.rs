//! The catalogue: `/api/v1/products` and `/api/v1/products/{id}`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::helpers::{collect_pages, error_fields, expect_json, expect_problem, Customer};

async fn shop() -> (TestApp, Customer) {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    (app, admin)
}

#[tokio::test]
async fn admins_create_products_with_exact_prices() {
    let (app, admin) = shop().await;
    let response = app
        .post_json(
            "/api/v1/products",
            &json!({"name": "Teapot", "description": "Blue", "price": "19.90", "inventory_count": 3}),
            Some(&admin.token),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let product = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(location, format!("/api/v1/products/{}", product["id"]));
    assert_eq!(product["price"], "19.90");
    assert_eq!(product["inventory_count"], 3);
    assert_eq!(product["description"], "Blue");
    let fields: Vec<&String> = product.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "category_ids",
            "created_at",
            "description",
            "group_id",
            "id",
            "images",
            "inventory_count",
            "lowest_price_30d",
            "name",
            "options",
            "price",
            "updated_at"
        ]
    );
    assert_eq!(product["lowest_price_30d"], "19.90");
    let fetched = expect_json(app.get(&location).await, StatusCode::OK).await;
    assert_eq!(fetched, product);

    // A JSON number is read from its decimal text, never through a float.
    let numeric = app
        .product_with(&admin, json!({"name": "Cup", "price": 0.1}))
        .await;
    assert_eq!(numeric["price"], "0.10");
    assert_eq!(numeric["inventory_count"], 0);
    assert_eq!(numeric["description"], Value::Null);
    // One an f64 cannot carry: through a float it is 1.0, a valid price; read exactly it
    // has sixteen decimal places, a 422 (docs/api.md, "Input rules"). Sent verbatim: serde_json would round it.
    let response = app
        .client
        .post(app.url("/api/v1/products"))
        .bearer_auth(&admin.token)
        .header("content-type", "application/json")
        .body(r#"{"name": "Mug", "price": 1.0000000000000001}"#)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["price"]);
}

#[tokio::test]
async fn only_admins_change_the_catalogue() {
    let (app, admin) = shop().await;
    let customer = app.customer("carol").await;
    let product = app.product(&admin, "Lamp", "Bright", "10.00", 1).await;
    let path = format!("/api/v1/products/{}", product["id"]);
    let body = json!({"name": "X", "price": "1.00"});

    expect_problem(
        app.post_json("/api/v1/products", &body, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.post_json("/api/v1/products", &body, Some(&customer.token))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.patch_json(&path, &body, Some(&customer.token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.delete_as(&path, Some(&customer.token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.delete_as(&path, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        expect_json(app.get(&path).await, StatusCode::OK).await,
        product,
        "unchanged"
    );
}

#[tokio::test]
async fn invalid_products_are_422_per_field_and_nothing_is_created() {
    let (app, admin) = shop().await;
    for (body, fields) in [
        (json!({"name": "", "price": "1"}), vec!["name"]),
        (json!({"name": "x".repeat(256), "price": "1"}), vec!["name"]),
        (json!({"name": "A", "price": "-0.01"}), vec!["price"]),
        (json!({"name": "A", "price": "1.999"}), vec!["price"]),
        (json!({"name": "A", "price": "1e3"}), vec!["price"]),
        (
            json!({"name": "A", "price": "10000000000.00"}),
            vec!["price"],
        ),
        (json!({"name": "A", "price": null}), vec!["price"]),
        (
            json!({"name": "A", "price": "1", "inventory_count": -1}),
            vec!["inventory_count"],
        ),
        (
            json!({"name": "A", "price": "1", "inventory_count": 2_147_483_648_i64}),
            vec!["inventory_count"],
        ),
        (json!({"name": "A", "price": "1", "id": 5}), vec!["id"]),
        (
            json!({"name": "A", "price": "1", "archived_at": null}),
            vec!["archived_at"],
        ),
        (
            json!({"name": "", "price": "-1", "inventory_count": -1}),
            vec!["name", "price", "inventory_count"],
        ),
    ] {
        let problem = expect_problem(
            app.post_json("/api/v1/products", &body, Some(&admin.token))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let page = expect_json(app.get("/api/v1/products").await, StatusCode::OK).await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let (app, admin) = shop().await;
    let product = app.product(&admin, "Lamp", "Bright", "10.00", 1).await;
    let path = format!("/api/v1/products/{}", product["id"]);

    let patched = expect_json(
        app.patch_json(&path, &json!({"price": "12.50"}), Some(&admin.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["price"], "12.50");
    assert_eq!(patched["name"], "Lamp");
    assert_eq!(patched["description"], "Bright");
    assert_eq!(patched["inventory_count"], 1);

    let cleared = expect_json(
        app.patch_json(
            &path,
            &json!({"description": null, "inventory_count": 9}),
            Some(&admin.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["inventory_count"], 9);
    assert_eq!(cleared["price"], "12.50");

    let problem = expect_problem(
        app.patch_json(
            &path,
            &json!({"price": "-1", "name": " "}),
            Some(&admin.token),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name", "price"]);
    expect_problem(
        app.patch_json(
            "/api/v1/products/999999",
            &json!({"price": "1"}),
            Some(&admin.token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn archived_products_disappear_everywhere() {
    let (app, admin) = shop().await;
    let product = app
        .product(&admin, "Teapot", "Blue teapot", "10.00", 1)
        .await;
    let path = format!("/api/v1/products/{}", product["id"]);
    assert_eq!(
        app.delete_as(&path, Some(&admin.token)).await.status(),
        StatusCode::NO_CONTENT
    );

    expect_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    let listed = expect_json(app.get("/api/v1/products").await, StatusCode::OK).await;
    assert_eq!(listed["items"], json!([]));
    let searched = expect_json(app.get("/api/v1/products?q=teapot").await, StatusCode::OK).await;
    assert_eq!(searched["items"], json!([]));
    expect_problem(
        app.delete_as(&path, Some(&admin.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.patch_json(&path, &json!({"price": "1"}), Some(&admin.token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn ids_that_cannot_exist_are_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/products/0",
        "/api/v1/products/999999",
        "/api/v1/products/abc",
        "/api/v1/products/99999999999",
    ] {
        expect_problem(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
}

fn ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

fn price(item: &Value) -> bigdecimal::BigDecimal {
    item["price"].as_str().unwrap().parse().unwrap()
}

/// `created_at` as a time: RFC 3339 text does not sort as its time (chrono writes 0, 3
/// or 6 fraction digits, and "Z" sorts after ".").
fn created_at(item: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(item["created_at"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn paging_collects_every_product_exactly_once_under_every_sort() {
    let (app, admin) = shop().await;
    // Repeated prices and a shared word, so ties must be broken by id.
    let mut created = BTreeSet::new();
    for n in 0..23 {
        let price = format!("{}.{:02}", 5 + n % 4, (n * 7) % 100);
        let product = app
            .product(
                &admin,
                &format!("Widget {n}"),
                "a widget for testing",
                &price,
                n % 3,
            )
            .await;
        created.insert(product["id"].as_i64().unwrap());
    }

    for (query, check_order) in [
        ("", "newest"),
        ("&sort=newest", "newest"),
        ("&sort=price_asc", "price_asc"),
        ("&sort=price_desc", "price_desc"),
        ("&q=widget", "relevance"),
        ("&q=widget&sort=relevance", "relevance"),
        ("&sort=relevance", "newest"),
    ] {
        let items = collect_pages(&app, query, 5).await;
        let listed = ids(&items);
        let unique: BTreeSet<i64> = listed.iter().copied().collect();
        assert_eq!(listed.len(), unique.len(), "{query}: repeated rows");
        assert_eq!(unique, created, "{query}: every product once");
        for pair in items.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (a_id, b_id) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
            let ordered = match check_order {
                "price_asc" => (price(a), a_id) < (price(b), b_id),
                "price_desc" => (price(a), a_id) > (price(b), b_id),
                // Equal ranks here (same words everywhere): ties by ascending id.
                "relevance" => a_id < b_id,
                _ => (created_at(a), a_id) > (created_at(b), b_id),
            };
            assert!(ordered, "{query}: {a} before {b}");
        }
    }
}

#[tokio::test]
async fn filters_narrow_the_listing() {
    let (app, admin) = shop().await;
    app.product(&admin, "Cheap", "c", "1.00", 0).await;
    app.product(&admin, "Middle", "m", "5.00", 2).await;
    app.product(&admin, "Dear", "d", "9.99", 1).await;
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |query: &'static str| {
        let app = &app;
        async move {
            expect_json(
                app.get(&format!("/api/v1/products?sort=price_asc{query}"))
                    .await,
                StatusCode::OK,
            )
            .await
        }
    };
    assert_eq!(names(get("&min_price=1.01").await), ["Middle", "Dear"]);
    assert_eq!(names(get("&max_price=5").await), ["Cheap", "Middle"]);
    assert_eq!(names(get("&min_price=5&max_price=5.00").await), ["Middle"]);
    assert_eq!(names(get("&in_stock=true").await), ["Middle", "Dear"]);
    assert_eq!(
        names(get("&in_stock=false").await),
        ["Cheap", "Middle", "Dear"]
    );
    assert_eq!(names(get("&in_stock=true&max_price=9").await), ["Middle"]);
    // Empty values are absent (an HTML form sends its empty fields); an empty range is an
    // empty page, not an error.
    assert_eq!(
        names(get("&min_price=&max_price=&q=&cursor=").await),
        ["Cheap", "Middle", "Dear"]
    );
    assert!(names(get("&min_price=5&max_price=1").await).is_empty());
}

#[tokio::test]
async fn search_ranks_name_matches_above_description_matches() {
    let (app, admin) = shop().await;
    let in_description = app
        .product(&admin, "Kettle", "Pairs well with a teapot", "20.00", 1)
        .await;
    let in_name = app
        .product(&admin, "Teapot", "Porcelain, holds a litre", "25.00", 1)
        .await;
    app.product(&admin, "Mug", "Holds coffee", "5.00", 1).await;

    let page = expect_json(app.get("/api/v1/products?q=teapots").await, StatusCode::OK).await;
    assert_eq!(
        ids(page["items"].as_array().unwrap()),
        [
            in_name["id"].as_i64().unwrap(),
            in_description["id"].as_i64().unwrap()
        ]
    );
    let phrase = expect_json(
        app.get("/api/v1/products?q=%22holds%20coffee%22").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(phrase["items"][0]["name"], "Mug");
    let excluded = expect_json(
        app.get("/api/v1/products?q=teapot%20-kettle").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(excluded["items"].as_array().unwrap()),
        [in_name["id"].as_i64().unwrap()]
    );
}

#[tokio::test]
async fn hostile_search_text_is_just_text() {
    let (app, admin) = shop().await;
    app.product(&admin, "Teapot", "Blue", "5.00", 1).await;
    for q in [
        "'",
        "\"",
        "teapot' OR 1=1 --",
        "a & b | !c",
        "(((",
        ":*",
        "teapot:*",
        "<->",
        "\\",
        "%",
        "_",
        "'; DROP TABLE products; --",
        "the",
        "!",
        "–—",
        "🫖",
    ] {
        let response = app
            .client
            .get(app.url("/api/v1/products"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await;
    }
    let still_there = expect_json(app.get("/api/v1/products").await, StatusCode::OK).await;
    assert_eq!(still_there["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_listing_parameters_are_400_or_422() {
    let (app, admin) = shop().await;
    // Created in this order, priced so that price order (P1, P2, P0) is not creation
    // order (newest first: P2, P1, P0).
    let mut products = Vec::new();
    for (n, price) in ["3.00", "1.00", "2.00"].into_iter().enumerate() {
        products.push(app.product(&admin, &format!("P{n}"), "p", price, 1).await["id"].clone());
    }
    for (query, status, code) in [
        (
            "limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "limit=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "limit=-1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("limit=ten", StatusCode::BAD_REQUEST, "bad_request"),
        (
            "limit=99999999999999999999",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("in_stock=maybe", StatusCode::BAD_REQUEST, "bad_request"),
        (
            "sort=cheapest",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        // Not a decimal: does not parse as its type, like limit=ten.
        ("min_price=abc", StatusCode::BAD_REQUEST, "bad_request"),
        ("max_price=1e3", StatusCode::BAD_REQUEST, "bad_request"),
        ("min_price=%205", StatusCode::BAD_REQUEST, "bad_request"),
        // A decimal out of range.
        (
            "min_price=-1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("cursor=garbage", StatusCode::BAD_REQUEST, "bad_request"),
        // The cursor format of earlier versions (base64url JSON).
        (
            "cursor=eyJrIjoicCIsInAiOiIxIiwiaWQiOjF9fQ",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        expect_problem(
            app.get(&format!("/api/v1/products?{query}")).await,
            status,
            code,
        )
        .await;
    }
    // A cursor names a position in every order: used with another sort it continues
    // after its product in that order. One altered or made up is a 400 under every sort.
    let first = expect_json(
        app.get("/api/v1/products?limit=1&sort=price_asc").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["items"][0]["id"], products[1], "P1 is the cheapest");
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor.len(), 40);
    for (sort, after_p1) in [
        // P2, P1, P0: after P1 comes P0.
        ("newest", vec![&products[0]]),
        // P0, P2, P1: nothing after P1.
        ("price_desc", vec![]),
        // P1, P2, P0: the same order, P2 and P0 follow.
        ("price_asc", vec![&products[2], &products[0]]),
    ] {
        let page = expect_json(
            app.get(&format!("/api/v1/products?sort={sort}&cursor={cursor}"))
                .await,
            StatusCode::OK,
        )
        .await;
        let listed: Vec<&Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| &item["id"])
            .collect();
        assert_eq!(listed, after_p1, "{sort} after P1");
    }
    let mut altered = cursor.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for forged in [altered, "_".repeat(40), "A".repeat(40), "-".repeat(32)] {
        for sort in ["newest", "price_asc", "price_desc", "relevance&q=p"] {
            expect_problem(
                app.get(&format!("/api/v1/products?sort={sort}&cursor={forged}"))
                    .await,
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
        }
    }
}

impl TestApp {
    async fn product_with(&self, admin: &Customer, body: Value) -> Value {
        expect_json(
            self.post_json("/api/v1/products", &body, Some(&admin.token))
                .await,
            StatusCode::CREATED,
        )
        .await
    }
}

/// Sends `body` verbatim (serde_json would re-spell the numbers).
async fn patch_raw(app: &TestApp, admin: &Customer, path: &str, body: &str) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(&admin.token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn json_number_prices_are_read_exactly_never_through_a_float() {
    let (app, admin) = shop().await;
    let product = app.product(&admin, "Teapot", "Blue", "19.90", 3).await;
    let path = format!("/api/v1/products/{}", product["id"]);
    // Through an f64 these would be 1.00 and 20.00; read exactly, they have too many places.
    for body in [
        r#"{"price": 1.0000000000000001}"#,
        r#"{"price": 19.999999999999999999}"#,
        r#"{"price": "19.999"}"#,
        // Exponents are refused alike as string and as number.
        r#"{"price": 1e3}"#,
        r#"{"price": "1e3"}"#,
        r#"{"price": -1}"#,
        r#"{"price": 10000000000}"#,
    ] {
        let problem = expect_problem(
            patch_raw(&app, &admin, &path, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["price"], "{body}");
    }
    let unchanged = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(unchanged["price"], "19.90");
    for (body, price) in [
        (r#"{"price": 12.5}"#, "12.50"),
        (r#"{"price": 7}"#, "7.00"),
        (r#"{"price": 9999999999.99}"#, "9999999999.99"),
        (r#"{"price": "0.1"}"#, "0.10"),
    ] {
        let updated = expect_json(patch_raw(&app, &admin, &path, body).await, StatusCode::OK).await;
        assert_eq!(updated["price"], price, "{body}");
    }
}

#[tokio::test]
async fn patch_refuses_null_for_fields_it_cannot_clear_and_takes_whole_floats() {
    let (app, admin) = shop().await;
    let product = app.product(&admin, "Teapot", "Blue", "19.90", 3).await;
    let path = format!("/api/v1/products/{}", product["id"]);
    for field in ["name", "price", "inventory_count"] {
        let body = format!(r#"{{"{field}": null}}"#);
        let problem = expect_problem(
            patch_raw(&app, &admin, &path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    // JSON Schema counts 4.0 as the integer 4, and so does the service; 4.5 is no count.
    let updated = expect_json(
        patch_raw(&app, &admin, &path, r#"{"inventory_count": 4.0}"#).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["inventory_count"], 4);
    let problem = expect_problem(
        patch_raw(&app, &admin, &path, r#"{"inventory_count": 4.5}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["inventory_count"]);
    // null still clears the description.
    let cleared = expect_json(
        patch_raw(&app, &admin, &path, r#"{"description": null}"#).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["name"], "Teapot");
}
