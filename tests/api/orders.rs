//! The order lifecycle after checkout (DESIGN.md §9, payments aside): what a placed order
//! shows, cancelling (owner, staff; stock released with `release` movements), shipping,
//! staff's listing of every order, and the payment deadline. Races are in order_races.rs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{error_fields, eventually, expect_json, expect_problem, Customer};
use crate::ledger::assert_ledger_balanced;

impl TestApp {
    /// Puts `lines` (product JSON, quantity) in the customer's cart and checks it out;
    /// returns the order JSON.
    pub async fn place_order(&self, customer: &Customer, lines: &[(&Value, i64)]) -> Value {
        for (product, quantity) in lines {
            let added = self.add_to_cart(customer, &product["id"], *quantity).await;
            assert_eq!(added.status(), StatusCode::CREATED);
        }
        let placed = self
            .client
            .post(self.url("/api/v1/cart/checkout"))
            .bearer_auth(&customer.token)
            .send()
            .await
            .expect("request reaches the server");
        expect_json(placed, StatusCode::CREATED).await
    }

    /// `POST /orders/{id}/cancel` as `caller`: `{reason}` when given, else no body at all.
    pub async fn cancel_order(
        &self,
        caller: &Customer,
        order: &Value,
        reason: Option<&str>,
    ) -> Response {
        let path = format!("/api/v1/orders/{}/cancel", order["id"]);
        match reason {
            Some(reason) => {
                self.post_json(&path, &json!({ "reason": reason }), Some(&caller.token))
                    .await
            }
            None => self
                .client
                .post(self.url(&path))
                .bearer_auth(&caller.token)
                .send()
                .await
                .expect("request reaches the server"),
        }
    }

    pub async fn fulfil_order(&self, caller: &Customer, order: &Value, body: &Value) -> Response {
        self.post_json(
            &format!("/api/v1/orders/{}/fulfilments", order["id"]),
            body,
            Some(&caller.token),
        )
        .await
    }

    /// The order as `caller` reads it now.
    pub async fn order_now(&self, caller: &Customer, order: &Value) -> Value {
        expect_json(
            self.get_as(&format!("/api/v1/orders/{}", order["id"]), &caller.token)
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// A product's `inventory_count` as the catalogue shows it.
    pub async fn stock_of(&self, product: &Value) -> i64 {
        let shown = expect_json(
            self.get(&format!("/api/v1/products/{}", product["id"]))
                .await,
            StatusCode::OK,
        )
        .await;
        shown["inventory_count"].as_i64().expect("inventory_count")
    }
}

/// A shipment that passes validation.
pub fn parcel() -> Value {
    json!({"carrier": "DHL", "tracking_number": "00340434161094042557"})
}

fn order_id(order: &Value) -> i32 {
    i32::try_from(order["id"].as_i64().expect("order id")).expect("an i32 id")
}

/// Arranges a paid order in the database: the service takes no payments yet (they come
/// with the payment gateway), so this is the only way to reach the paid states.
pub fn mark_paid(db: &TestDb, order: &Value) {
    let updated = diesel::sql_query(
        "UPDATE orders SET payment_status = 'paid', payment_due_at = NULL WHERE id = $1",
    )
    .bind::<Integer, _>(order_id(order))
    .execute(&mut db.connect())
    .expect("mark paid");
    assert_eq!(updated, 1);
}

/// One `release` stock movement.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct Release {
    #[diesel(sql_type = Integer)]
    pub product_id: i32,
    #[diesel(sql_type = Integer)]
    pub delta: i32,
    #[diesel(sql_type = Nullable<Integer>)]
    pub by_user_id: Option<i32>,
}

/// The `release` movements of an order, by product.
pub fn releases(db: &TestDb, order: &Value) -> Vec<Release> {
    diesel::sql_query(
        "SELECT product_id, delta, by_user_id FROM stock_movements
         WHERE order_id = $1 AND reason = 'release' ORDER BY product_id, id",
    )
    .bind::<Integer, _>(order_id(order))
    .load(&mut db.connect())
    .expect("read releases")
}

/// What an order's lines give back on release, by product: one movement per line.
pub fn expected_releases(order: &Value, by_user_id: Option<i64>) -> Vec<Release> {
    let mut expected: Vec<Release> = order["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|line| Release {
            product_id: line["product_id"].as_i64().unwrap() as i32,
            delta: line["quantity"].as_i64().unwrap() as i32,
            by_user_id: by_user_id.map(|id| id as i32),
        })
        .collect();
    expected.sort_by_key(|release| release.product_id);
    expected
}

fn at(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a timestamp: {value}"))
        .parse()
        .expect("RFC 3339")
}

async fn shop() -> (TestApp, Customer, Customer) {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    (app, admin, alice)
}

// ------------------------------------------------------------------ a placed order

/// The lifecycle fields of an order just placed, with no payment deadline configured.
fn assert_just_placed(order: &Value, owner: &Customer) {
    assert_eq!(order["status"], "checked_out", "{order}");
    assert_eq!(order["payment_status"], "awaiting_payment", "{order}");
    assert_eq!(order["fulfilment_status"], "unfulfilled", "{order}");
    assert_eq!(order["user_id"], owner.id, "{order}");
    for empty in ["payments", "refunds", "fulfilments"] {
        assert_eq!(order[empty], json!([]), "{empty}: {order}");
    }
    for null in ["cancelled_at", "cancel_reason"] {
        assert_eq!(order[null], Value::Null, "{null}: {order}");
    }
}

#[tokio::test]
async fn a_placed_order_awaits_payment_with_no_deadline_unless_one_is_configured() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 5).await;
    let order = app.place_order(&alice, &[(&teapot, 2)]).await;
    assert_just_placed(&order, &alice);
    let obj = order.as_object().unwrap();
    assert!(obj.contains_key("payment_due_at"), "{order}");
    assert_eq!(
        order["payment_due_at"],
        Value::Null,
        "the test config has no window"
    );
    assert_eq!(app.order_now(&alice, &order).await, order);

    // A second instance with a window: its orders are due that long after checkout.
    let window = Duration::from_secs(1800);
    let windowed = TestApp::spawn_configured(app.db.clone(), |config| {
        config.order_payment_window = Some(window);
    });
    let due = windowed.place_order(&alice, &[(&teapot, 1)]).await;
    assert_just_placed(&due, &alice);
    let after = at(&due["payment_due_at"]) - at(&due["checked_out_at"]);
    let expected = chrono::Duration::from_std(window).unwrap();
    assert!(
        (after - expected).num_milliseconds().abs() < 1_000,
        "due {after} after checkout: {due}"
    );
    assert_eq!(app.order_now(&alice, &due).await, due);
}

// ------------------------------------------------------------------ cancelling

#[tokio::test]
async fn the_owner_cancels_an_unpaid_order_and_its_stock_comes_back_once() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let cup = app.product(&admin, "Cup", "White", "4.50", 5).await;
    let order = app.place_order(&alice, &[(&teapot, 3), (&cup, 2)]).await;
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (7, 3)
    );

    let cancelled = expect_json(
        app.cancel_order(&alice, &order, Some("Ordered the wrong size"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["id"], order["id"]);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["payment_status"], "voided", "{cancelled}");
    assert_eq!(cancelled["fulfilment_status"], "unfulfilled");
    assert_eq!(cancelled["cancel_reason"], "Ordered the wrong size");
    assert_eq!(cancelled["payment_due_at"], Value::Null);
    assert!(at(&cancelled["cancelled_at"]) >= at(&order["checked_out_at"]));
    // The lines and prices stay as they were bought.
    assert_eq!(cancelled["items"], order["items"]);
    assert_eq!(cancelled["total"], order["total"]);
    assert_eq!(app.order_now(&alice, &cancelled).await, cancelled);

    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (10, 5)
    );
    assert_eq!(
        releases(&app.db, &order),
        expected_releases(&order, Some(alice.id))
    );
    assert_ledger_balanced(&app.db);
    // The history shows the release, naming the order and who cancelled it.
    let history = expect_json(
        app.get_as(
            &format!("/api/v1/products/{}/history", teapot["id"]),
            &admin.token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let newest = &history["items"][0];
    assert_eq!(
        (
            &newest["kind"],
            &newest["reason"],
            &newest["delta"],
            &newest["resulting_count"],
            &newest["order_id"],
            &newest["by_user_id"]
        ),
        (
            &json!("stock"),
            &json!("release"),
            &json!(3),
            &json!(10),
            &order["id"],
            &json!(alice.id)
        ),
        "{history}"
    );

    // Once cancelled, always cancelled: neither the owner nor staff cancel it again.
    for caller in [&alice, &admin] {
        expect_problem(
            app.cancel_order(caller, &order, None).await,
            StatusCode::CONFLICT,
            "invalid_state",
        )
        .await;
    }
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (10, 5)
    );
    assert_eq!(releases(&app.db, &order).len(), 2);
    assert_eq!(app.order_now(&alice, &order).await, cancelled);
}

#[tokio::test]
async fn a_cancel_needs_no_body() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let first = app.place_order(&alice, &[(&teapot, 1)]).await;
    let second = app.place_order(&alice, &[(&teapot, 2)]).await;
    let third = app.place_order(&alice, &[(&teapot, 3)]).await;

    let no_body = expect_json(app.cancel_order(&alice, &first, None).await, StatusCode::OK).await;
    // An empty body with no Content-Type, as some clients send (`curl -X POST` sends
    // `Content-Length: 0`).
    let empty = app
        .client
        .post(app.url(&format!("/api/v1/orders/{}/cancel", second["id"])))
        .bearer_auth(&alice.token)
        .header("content-length", "0")
        .body(Vec::<u8>::new())
        .send()
        .await
        .unwrap();
    let empty = expect_json(empty, StatusCode::OK).await;
    // An object with no reason.
    let no_reason = expect_json(
        app.post_json(
            &format!("/api/v1/orders/{}/cancel", third["id"]),
            &json!({}),
            Some(&alice.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for cancelled in [&no_body, &empty, &no_reason] {
        assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
        assert_eq!(cancelled["cancel_reason"], Value::Null, "{cancelled}");
    }
    assert_eq!(app.stock_of(&teapot).await, 10);
    assert_ledger_balanced(&app.db);
}

#[tokio::test]
async fn only_the_owner_and_staff_find_an_order_to_cancel() {
    let (app, admin, alice) = shop().await;
    let bob = app.customer("bob").await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let order = app.place_order(&alice, &[(&teapot, 4)]).await;

    expect_problem(
        app.cancel_order(&bob, &order, Some("not mine")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.cancel_order(&alice, &json!({"id": 999_999}), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // An open cart is no order.
    let open_cart = app.cart(&bob).await;
    expect_problem(
        app.cancel_order(&bob, &open_cart, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let anonymous = app
        .client
        .post(app.url(&format!("/api/v1/orders/{}/cancel", order["id"])))
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    assert_eq!(
        app.order_now(&alice, &order).await,
        order,
        "nothing changed"
    );
    assert_eq!(app.stock_of(&teapot).await, 6);
    assert!(releases(&app.db, &order).is_empty());
}

#[tokio::test]
async fn a_bad_cancel_body_is_refused_and_changes_nothing() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let order = app.place_order(&alice, &[(&teapot, 4)]).await;
    let path = format!("/api/v1/orders/{}/cancel", order["id"]);

    let too_long = expect_problem(
        app.cancel_order(&alice, &order, Some(&"x".repeat(501)))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&too_long), ["reason"], "{too_long}");
    let array = expect_problem(
        app.post_json(&path, &json!(["too", "bad"]), Some(&alice.token))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&array), ["body"], "{array}");

    assert_eq!(
        app.order_now(&alice, &order).await,
        order,
        "nothing changed"
    );
    assert_eq!(app.stock_of(&teapot).await, 6);
    assert!(releases(&app.db, &order).is_empty());

    // Exactly 500 characters is a reason.
    let longest = "y".repeat(500);
    let cancelled = expect_json(
        app.cancel_order(&alice, &order, Some(&longest)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["cancel_reason"], longest.as_str());
}

#[tokio::test]
async fn staff_cancel_a_paid_order_its_owner_cannot() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let order = app.place_order(&alice, &[(&teapot, 4)]).await;
    mark_paid(&app.db, &order);

    expect_problem(
        app.cancel_order(&alice, &order, Some("changed my mind"))
            .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    assert_eq!(app.stock_of(&teapot).await, 6);
    assert!(releases(&app.db, &order).is_empty());

    let cancelled = expect_json(
        app.cancel_order(&admin, &order, Some("out of stock at the warehouse"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["cancel_reason"], "out of stock at the warehouse");
    // Money was taken: the payment is not "voided" (refunds come with payments).
    assert_ne!(cancelled["payment_status"], "voided", "{cancelled}");
    assert_eq!(cancelled["user_id"], alice.id, "still alice's order");
    assert_eq!(app.stock_of(&teapot).await, 10);
    assert_eq!(
        releases(&app.db, &order),
        expected_releases(&order, Some(admin.id))
    );
    assert_ledger_balanced(&app.db);
}

#[tokio::test]
async fn a_shipped_order_cannot_be_cancelled_by_anyone() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let order = app.place_order(&alice, &[(&teapot, 4)]).await;
    mark_paid(&app.db, &order);
    let shipped = expect_json(
        app.fulfil_order(&admin, &order, &parcel()).await,
        StatusCode::CREATED,
    )
    .await;

    for caller in [&alice, &admin] {
        expect_problem(
            app.cancel_order(caller, &order, Some("too late")).await,
            StatusCode::CONFLICT,
            "invalid_state",
        )
        .await;
    }
    assert_eq!(app.order_now(&alice, &order).await, shipped);
    assert_eq!(app.stock_of(&teapot).await, 6);
    assert!(releases(&app.db, &order).is_empty());
}

// ------------------------------------------------------------------ shipping

#[tokio::test]
async fn staff_ship_a_paid_order_once() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let order = app.place_order(&alice, &[(&teapot, 2)]).await;

    expect_problem(
        app.fulfil_order(&alice, &order, &parcel()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.fulfil_order(&admin, &order, &parcel()).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    assert_eq!(
        app.order_now(&alice, &order).await,
        order,
        "unpaid: unchanged"
    );

    mark_paid(&app.db, &order);
    // Both fields wrong: both named, nothing recorded.
    let invalid = expect_problem(
        app.fulfil_order(
            &admin,
            &order,
            &json!({"carrier": "   ", "tracking_number": "9".repeat(101)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields = error_fields(&invalid);
    fields.sort();
    assert_eq!(fields, ["carrier", "tracking_number"], "{invalid}");
    assert_eq!(
        app.order_now(&alice, &order).await["fulfilments"],
        json!([])
    );

    let shipped_response = app.fulfil_order(&admin, &order, &parcel()).await;
    assert_eq!(
        shipped_response.headers()["location"],
        format!("/api/v1/orders/{}", order["id"]).as_str()
    );
    let shipped = expect_json(shipped_response, StatusCode::CREATED).await;
    assert_eq!(shipped["status"], "completed", "{shipped}");
    assert_eq!(shipped["fulfilment_status"], "fulfilled", "{shipped}");
    assert_eq!(shipped["payment_status"], "paid", "{shipped}");
    let fulfilments = shipped["fulfilments"].as_array().unwrap();
    assert_eq!(fulfilments.len(), 1, "{shipped}");
    let fulfilment = &fulfilments[0];
    assert!(fulfilment["id"].is_i64(), "{fulfilment}");
    assert_eq!(fulfilment["carrier"], "DHL");
    assert_eq!(fulfilment["tracking_number"], "00340434161094042557");
    assert!(at(&fulfilment["created_at"]) >= at(&order["checked_out_at"]));
    // The owner sees it too.
    assert_eq!(app.order_now(&alice, &order).await, shipped);

    expect_problem(
        app.fulfil_order(
            &admin,
            &order,
            &json!({"carrier": "UPS", "tracking_number": "1Z"}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    assert_eq!(app.order_now(&alice, &order).await, shipped, "shipped once");
    expect_problem(
        app.fulfil_order(&admin, &json!({"id": 999_999}), &parcel())
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.stock_of(&teapot).await, 8, "shipping moves no stock");
}

#[tokio::test]
async fn a_cancelled_order_does_not_ship() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let unpaid = app.place_order(&alice, &[(&teapot, 1)]).await;
    let paid = app.place_order(&alice, &[(&teapot, 2)]).await;
    mark_paid(&app.db, &paid);
    expect_json(
        app.cancel_order(&alice, &unpaid, None).await,
        StatusCode::OK,
    )
    .await;
    expect_json(app.cancel_order(&admin, &paid, None).await, StatusCode::OK).await;

    for order in [&unpaid, &paid] {
        expect_problem(
            app.fulfil_order(&admin, order, &parcel()).await,
            StatusCode::CONFLICT,
            "invalid_state",
        )
        .await;
        let now = app.order_now(&alice, order).await;
        assert_eq!(
            (&now["status"], &now["fulfilments"]),
            (&json!("cancelled"), &json!([]))
        );
    }
}

// ------------------------------------------------------------------ staff's listing

impl TestApp {
    /// The ids of every order `GET /admin/orders?{query}` lists, page by page of `limit`.
    async fn admin_order_ids(&self, admin: &Customer, query: &str, limit: usize) -> Vec<Value> {
        let mut ids = Vec::new();
        let mut path = format!("/api/v1/admin/orders?limit={limit}&{query}");
        for _ in 0..100 {
            let page = expect_json(self.get_as(&path, &admin.token).await, StatusCode::OK).await;
            let items = page["items"].as_array().expect("items");
            assert!(items.len() <= limit, "{page}");
            ids.extend(items.iter().map(|order| order["id"].clone()));
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("/api/v1/admin/orders?limit={limit}&{query}&cursor={cursor}")
                }
                None => return ids,
            }
        }
        panic!("paging never ended");
    }
}

#[tokio::test]
async fn staff_list_every_customers_orders_newest_first_filtered_by_state() {
    let (app, admin, alice) = shop().await;
    let bob = app.customer("bob").await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 100).await;
    // Placed in this order; each then brought to a different state.
    let a1 = app.place_order(&alice, &[(&teapot, 1)]).await; // cancelled unpaid: voided
    let a2 = app.place_order(&alice, &[(&teapot, 1)]).await; // paid and shipped
    let b1 = app.place_order(&bob, &[(&teapot, 1)]).await; // paid
    let a3 = app.place_order(&alice, &[(&teapot, 1)]).await; // awaiting payment
    let b2 = app.place_order(&bob, &[(&teapot, 1)]).await; // paid, cancelled by staff
    let b3 = app.place_order(&bob, &[(&teapot, 1)]).await; // awaiting payment
    expect_json(app.cancel_order(&alice, &a1, None).await, StatusCode::OK).await;
    for paid in [&a2, &b1, &b2] {
        mark_paid(&app.db, paid);
    }
    expect_json(
        app.fulfil_order(&admin, &a2, &parcel()).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(app.cancel_order(&admin, &b2, None).await, StatusCode::OK).await;
    let ids = |orders: &[&Value]| -> Vec<Value> {
        orders.iter().map(|order| order["id"].clone()).collect()
    };

    // Everybody's, newest placed first, each once at every page size.
    let everything = ids(&[&b3, &b2, &a3, &b1, &a2, &a1]);
    for limit in [1, 2, 4, 100] {
        assert_eq!(
            app.admin_order_ids(&admin, "", limit).await,
            everything,
            "pages of {limit}"
        );
    }
    // Items are whole orders, with their owner.
    let page = expect_json(
        app.get_as("/api/v1/admin/orders", &admin.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["next_cursor"], Value::Null);
    let owners: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| &order["user_id"])
        .collect();
    let (a, b) = (json!(alice.id), json!(bob.id));
    assert_eq!(owners, [&b, &b, &a, &b, &a, &a]);
    assert_eq!(page["items"][4], app.order_now(&alice, &a2).await);

    for (query, expected) in [
        ("status=checked_out", ids(&[&b3, &a3, &b1])),
        ("status=cancelled", ids(&[&b2, &a1])),
        ("status=completed", ids(&[&a2])),
        ("payment_status=awaiting_payment", ids(&[&b3, &a3])),
        ("payment_status=paid", ids(&[&b2, &b1, &a2])),
        ("payment_status=voided", ids(&[&a1])),
        ("payment_status=refunded", vec![]),
        ("fulfilment_status=fulfilled", ids(&[&a2])),
        (
            "fulfilment_status=unfulfilled",
            ids(&[&b3, &b2, &a3, &b1, &a1]),
        ),
        ("status=checked_out&payment_status=paid", ids(&[&b1])),
        ("status=cancelled&payment_status=paid", ids(&[&b2])),
        (
            "status=checked_out&payment_status=awaiting_payment&fulfilment_status=unfulfilled",
            ids(&[&b3, &a3]),
        ),
        ("status=cancelled&fulfilment_status=fulfilled", vec![]),
        // Empty is no filter.
        ("status=&payment_status=", everything.clone()),
    ] {
        for limit in [1, 100] {
            assert_eq!(
                app.admin_order_ids(&admin, query, limit).await,
                expected,
                "{query}, pages of {limit}"
            );
        }
    }
}

#[tokio::test]
async fn the_admin_listing_refuses_bad_filters_cursors_and_customers() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    app.place_order(&alice, &[(&teapot, 1)]).await;
    app.place_order(&alice, &[(&teapot, 1)]).await;

    for (query, fields) in [
        ("status=shipped", vec!["status"]),
        ("payment_status=free", vec!["payment_status"]),
        ("fulfilment_status=half", vec!["fulfilment_status"]),
        ("status=Cancelled", vec!["status"]),
        (
            "status=x&payment_status=y&fulfilment_status=z",
            vec!["fulfilment_status", "payment_status", "status"],
        ),
    ] {
        let problem = expect_problem(
            app.get_as(&format!("/api/v1/admin/orders?{query}"), &admin.token)
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        let mut named = error_fields(&problem);
        named.sort();
        assert_eq!(named, fields, "{query}: {problem}");
    }
    for cursor in ["nonsense", &"A".repeat(24)] {
        expect_problem(
            app.get_as(
                &format!("/api/v1/admin/orders?cursor={cursor}"),
                &admin.token,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    expect_problem(
        app.get_as("/api/v1/admin/orders", &alice.token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get("/api/v1/admin/orders").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

// ------------------------------------------------------------------ the payment deadline

/// Whether the order's row says it is cancelled.
pub fn is_cancelled(db: &TestDb, order: &Value) -> bool {
    use storefront::schema::orders;
    let status: String = orders::table
        .find(order_id(order))
        .select(orders::status)
        .first(&mut db.connect())
        .expect("read order");
    status == "cancelled"
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_at_its_deadline_and_its_stock_released() {
    let (app, admin, alice) = shop().await;
    let teapot = app.product(&admin, "Teapot", "Blue", "19.90", 10).await;
    let cup = app.product(&admin, "Cup", "White", "4.50", 5).await;
    // Another instance on the database gives its orders one second to be paid.
    let hurried = TestApp::spawn_configured(Arc::clone(&app.db), |config| {
        config.order_payment_window = Some(Duration::from_secs(1));
    });
    let no_deadline = app.place_order(&alice, &[(&teapot, 1)]).await;
    let paid = hurried.place_order(&alice, &[(&teapot, 1)]).await;
    mark_paid(&app.db, &paid);
    let due = hurried
        .place_order(&alice, &[(&teapot, 3), (&cup, 2)])
        .await;
    assert!(due["payment_due_at"].is_string(), "{due}");
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (5, 3)
    );

    eventually("the unpaid order is cancelled", || {
        is_cancelled(&app.db, &due)
    })
    .await;
    let expired = app.order_now(&alice, &due).await;
    assert_eq!(expired["status"], "cancelled", "{expired}");
    assert_eq!(expired["cancel_reason"], "payment_expired", "{expired}");
    assert_eq!(expired["payment_status"], "voided", "{expired}");
    assert_eq!(expired["payment_due_at"], Value::Null, "{expired}");
    assert!(
        at(&expired["cancelled_at"]) >= at(&due["payment_due_at"]),
        "never before the deadline: {expired}"
    );
    // By the service itself: no user moved the stock.
    assert_eq!(releases(&app.db, &due), expected_releases(&due, None));
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (8, 5)
    );
    assert_ledger_balanced(&app.db);

    // Another round of the job later changes nothing, and spares the others.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(app.order_now(&alice, &due).await, expired);
    assert_eq!(releases(&app.db, &due).len(), 2);
    for spared in [&no_deadline, &paid] {
        assert_eq!(
            app.order_now(&alice, spared).await["status"],
            "checked_out",
            "{spared}"
        );
    }
    assert_eq!(
        (app.stock_of(&teapot).await, app.stock_of(&cup).await),
        (8, 5)
    );
}
