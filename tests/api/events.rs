//! The outbox (DESIGN §11): each change other systems care about writes its event in the
//! change's own transaction, with ids and states; a change that rolls back writes none.

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::helpers::{expect_json, expect_problem};

/// Every event so far, oldest first: `(type, data)`.
fn events(app: &TestApp) -> Vec<(String, Value)> {
    use storefront::schema::events;
    events::table
        .order((events::created_at, events::id))
        .select((events::type_, events::data))
        .load(&mut app.db.connect())
        .unwrap()
}

fn types(app: &TestApp) -> Vec<String> {
    events(app).into_iter().map(|(kind, _)| kind).collect()
}

#[tokio::test]
async fn each_change_writes_its_event_and_a_refused_one_writes_none() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    // Stock 6, threshold 5: the first order of two takes it below.
    let teapot = app.product(&admin, "Teapot", "blue", "19.99", 6).await;
    assert_eq!(types(&app), ["product.created"]);

    let order = app.place_order(&alice, &[(&teapot, 2)]).await;
    let (kind, placed) = events(&app).remove(1);
    assert_eq!(kind, "order.placed");
    assert_eq!(placed["order_id"], order["id"]);
    assert_eq!(placed["payment_status"], "awaiting_payment");
    assert_eq!(placed["total"], "39.98");
    let (kind, low) = events(&app).remove(2);
    assert_eq!(kind, "stock.low");
    assert_eq!(
        low,
        json!({"product_id": teapot["id"], "inventory_count": 4, "threshold": 5})
    );

    // Refused: more than the stock. Nothing is written.
    let before = events(&app).len();
    let added = app.add_to_cart(&alice, &teapot["id"], 5).await;
    expect_problem(added, StatusCode::CONFLICT, "insufficient_stock").await;
    assert_eq!(events(&app).len(), before);

    // A second order takes it further down: no second stock.low (it did not cross).
    app.place_order(&alice, &[(&teapot, 1)]).await;
    let cancelled = expect_json(
        app.cancel_order(&alice, &order, Some("changed my mind"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    let restock = app
        .patch_json(
            &format!("/api/v1/products/{}", teapot["id"]),
            &json!({"inventory_count": 50, "price": "18.00"}),
            Some(&admin.token),
        )
        .await;
    expect_json(restock, StatusCode::OK).await;
    app.delete_as(
        &format!("/api/v1/products/{}", teapot["id"]),
        Some(&admin.token),
    )
    .await;
    assert_eq!(
        types(&app),
        [
            "product.created",
            "order.placed",
            "stock.low",
            "order.placed",
            "order.cancelled",
            "product.updated",
            "product.archived",
        ]
    );
    let all = events(&app);
    assert_eq!(all[4].1["cancel_reason"], "changed my mind");
    assert_eq!(all[4].1["payment_status"], "voided");
    assert_eq!(all[5].1["price"], "18.00");
    assert_eq!(all[6].1["archived"], true);
}
