//! Full-text search: one-word searches served from the per-lexeme ranking index give the
//! order `ts_rank` gives, page by page; searches that visit every match take turns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Numeric, Text};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{
    collect_pages, expect_json, expect_problem, until_waiting_on_locks, Customer,
};

/// Every page of a listing, followed by cursor, as product ids in order.
async fn listed_ids(app: &TestApp, query: &str, limit: usize) -> Vec<i32> {
    collect_pages(app, query, limit)
        .await
        .iter()
        .map(|item| i32::try_from(item["id"].as_i64().unwrap()).unwrap())
        .collect()
}

/// The relevance order computed the plain way, independently of the service: rank every
/// live match with `ts_rank`, ties by ascending id.
fn ranked_by_postgres(db: &TestDb, text: &str, min_price: &str) -> Vec<i32> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    diesel::sql_query(
        "SELECT id FROM products, websearch_to_tsquery('english', $1) query
         WHERE archived_at IS NULL AND search_vector @@ query AND price >= $2
         ORDER BY ts_rank(search_vector, query) DESC, id",
    )
    .bind::<Text, _>(text)
    .bind::<Numeric, _>(min_price.parse::<bigdecimal::BigDecimal>().unwrap())
    .load::<Row>(&mut db.connect())
    .unwrap()
    .into_iter()
    .map(|row| row.id)
    .collect()
}

async fn patch(app: &TestApp, admin: &Customer, product: &Value, body: Value) {
    let path = format!("/api/v1/products/{}", product["id"]);
    expect_json(
        app.patch_json(&path, &body, Some(&admin.token)).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn one_word_searches_page_through_matches_in_ts_rank_order() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    // Names, descriptions, repeats and inflections of the word, so that ranks differ, and
    // several products with equal ranks, so that ties must be broken by id.
    let texts = [
        ("Teapot", "Porcelain"),
        ("Kettle", "Pairs well with a teapot"),
        ("Teapot stand", "For any teapot, any teapots"),
        ("Mug", "Holds coffee"),
        ("Tea set", "A teapot, two cups and a teapot warmer"),
        ("Big teapots", "Teapot teapot teapot"),
        ("Kettle", "Pairs well with a teapot"),
        ("Teapot", "Porcelain"),
        ("Lamp", "Shaped like a teapot"),
        ("Teapot", "Porcelain"),
        ("Vase", "Not for tea"),
    ];
    let mut products = Vec::new();
    for (n, (name, description)) in texts.iter().enumerate() {
        let price = format!("{}.00", 5 + n);
        products.push(app.product(&admin, name, description, &price, 3).await);
    }
    // Changes after creation must reach the index: a name that loses the word, a
    // description that gains it, an archived match.
    patch(&app, &admin, &products[0], json!({"name": "Coffee pot"})).await;
    patch(
        &app,
        &admin,
        &products[3],
        json!({"description": "Holds coffee, or tea from a teapot"}),
    )
    .await;
    let archive = format!("/api/v1/products/{}", products[7]["id"]);
    let archived = app
        .client
        .delete(app.url(&archive))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);

    for (text, min_price) in [("teapot", "0"), ("Teapots", "0"), ("teapot", "9")] {
        let expected = ranked_by_postgres(&app.db, text, min_price);
        assert!(expected.len() >= 5, "{text}: the fixture should match");
        for limit in [1, 3, 100] {
            let query = format!("&q={text}&min_price={min_price}");
            assert_eq!(
                listed_ids(&app, &query, limit).await,
                expected,
                "q={text} min_price={min_price}, {limit} per page"
            );
        }
    }
    // A stop word has no lexeme and matches nothing, as in the ranking of every match.
    assert!(listed_ids(&app, "&q=the", 5).await.is_empty());
}

#[tokio::test]
async fn searches_that_visit_every_match_take_turns_and_get_503_past_the_wait() {
    let db = Arc::new(TestDb::new());
    let app = TestApp::spawn_configured(db.clone(), |config| {
        config.search_concurrency.max_concurrent = 1;
        config.search_concurrency.queue_timeout = Duration::from_millis(300);
    });
    let admin = app.admin("staff").await;
    app.product(&admin, "Teapot", "Porcelain", "5.00", 1).await;
    app.product(&admin, "Kettle", "Steel", "6.00", 1).await;

    // Hold the catalogue so that a search, once started, waits with its turn held.
    let mut holder = db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let first = tokio::spawn({
        let (client, url) = (
            app.client.clone(),
            app.url("/api/v1/products?q=teapot%20or%20kettle"),
        );
        async move { client.get(url).send().await.unwrap().status() }
    });
    until_waiting_on_locks(&db, 1).await;

    let started = Instant::now();
    let refused = app
        .client
        .get(app.url("/api/v1/products?q=porcelain%20teapot"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("answered while the first search waits");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "refused after {waited:?}, not queued for the lock"
    );
    assert!(refused.headers().contains_key("retry-after"));
    expect_problem(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;

    holder.batch_execute("COMMIT").unwrap();
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    let after = expect_json(
        app.get("/api/v1/products?q=porcelain%20teapot").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["items"][0]["name"], "Teapot");
}
