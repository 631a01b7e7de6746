//! Checkout totals (DESIGN.md §10): saved addresses, shipping methods and tax rates; the
//! quote; and checkout charging what the quote said, with the address as given.

use std::sync::Arc;

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{error_fields, expect_json, expect_problem, Customer};
use crate::ledger::assert_ledger_balanced;

/// Erika's address in Cologne, as a front end would send it.
fn cologne() -> Value {
    json!({
        "name": "Erika Mustermann",
        "line1": "Heidestraße 17",
        "city": "Köln",
        "postal_code": "51147",
        "country": "DE",
        "phone": "+49 221 123456",
    })
}

fn vienna() -> Value {
    json!({"name": "Max Muster", "line1": "Ring 1", "city": "Wien", "country": "AT"})
}

impl TestApp {
    async fn shipping_method(&self, admin: &Customer, body: Value) -> Value {
        expect_json(
            self.post_json("/api/v1/shipping-methods", &body, Some(&admin.token))
                .await,
            StatusCode::CREATED,
        )
        .await
    }

    async fn tax_rate(&self, admin: &Customer, country: &str, rate: &str) -> Value {
        expect_json(
            self.post_json(
                "/api/v1/tax-rates",
                &json!({"country": country, "rate": rate}),
                Some(&admin.token),
            )
            .await,
            StatusCode::CREATED,
        )
        .await
    }

    async fn quote(&self, customer: &Customer, body: &Value) -> Response {
        self.post_json("/api/v1/cart/quote", body, Some(&customer.token))
            .await
    }

    async fn check_out_with(&self, customer: &Customer, body: &Value) -> Response {
        self.post_json("/api/v1/cart/checkout", body, Some(&customer.token))
            .await
    }

    async fn save_address(&self, customer: &Customer, body: &Value) -> Value {
        expect_json(
            self.post_json("/api/v1/users/me/addresses", body, Some(&customer.token))
                .await,
            StatusCode::CREATED,
        )
        .await
    }
}

/// A shop selling a mug at 9.99 and a sticker at 0.10 (stock 100 each), with a 19 %
/// rate for DE and "DHL" shipping to DE and AT at 4.90.
struct Shop {
    app: TestApp,
    admin: Customer,
    mug: Value,
    sticker: Value,
    dhl: Value,
}

async fn shop_on(app: TestApp) -> Shop {
    let admin = app.admin("staff").await;
    let mug = app.product(&admin, "Mug", "Stoneware", "9.99", 100).await;
    let sticker = app.product(&admin, "Sticker", "Vinyl", "0.10", 100).await;
    app.tax_rate(&admin, "DE", "19").await;
    let dhl = app
        .shipping_method(
            &admin,
            json!({"name": "DHL", "price": "4.90", "countries": ["DE", "AT"]}),
        )
        .await;
    Shop {
        app,
        admin,
        mug,
        sticker,
        dhl,
    }
}

async fn shop() -> Shop {
    shop_on(TestApp::spawn().await).await
}

impl Shop {
    /// A customer with three mugs and a sticker in the cart (the worked example).
    async fn shopper(&self, username: &str) -> Customer {
        let customer = self.app.customer(username).await;
        for (product, quantity) in [(&self.mug, 3), (&self.sticker, 1)] {
            let added = self
                .app
                .add_to_cart(&customer, &product["id"], quantity)
                .await;
            assert_eq!(added.status(), StatusCode::CREATED);
        }
        customer
    }

    fn delivery(&self, address: Value) -> Value {
        json!({"shipping_address": address, "shipping_method_id": self.dhl["id"]})
    }
}

/// The figures of a quote or an order: subtotal, shipping, tax, total, and each line's tax.
fn figures(body: &Value) -> Vec<String> {
    let mut figures: Vec<String> = ["subtotal", "shipping", "tax", "total"]
        .iter()
        .map(|key| body[key].as_str().unwrap_or("missing").to_owned())
        .collect();
    let lines = body["lines"].as_array().or(body["items"].as_array());
    for line in lines.expect("lines or items") {
        figures.push(line["tax"].as_str().unwrap_or("missing").to_owned());
    }
    figures
}

/// Orders in the database and the stock of every product: what "nothing changed" means.
fn state(db: &TestDb) -> (i64, i64, i64) {
    use storefront::schema::{carts, orders, products};
    let mut conn = db.connect();
    let orders: i64 = orders::table.count().get_result(&mut conn).unwrap();
    let stock: Option<i64> = products::table
        .select(diesel::dsl::sum(products::inventory_count))
        .get_result(&mut conn)
        .unwrap();
    let carts: i64 = carts::table.count().get_result(&mut conn).unwrap();
    (orders, stock.unwrap_or(0), carts)
}

/// The worked example of docs/api.md, end to end: 3 × 9.99 and 1 × 0.10 to Germany (19 %)
/// with 4.90 shipping. Prices include tax: the quote and the order both say 30.07 + 4.90
/// with 4.81 tax in it (4.79 + 0.02, rounded per line), total 34.97.
#[tokio::test]
async fn the_worked_example_with_prices_including_tax() {
    let shop = shop().await;
    let erika = shop.shopper("erika").await;
    let body = shop.delivery(cologne());

    let quote = expect_json(shop.app.quote(&erika, &body).await, StatusCode::OK).await;
    assert_eq!(
        figures(&quote),
        ["30.07", "4.90", "4.81", "34.97", "4.79", "0.02"]
    );
    assert_eq!(quote["tax_rate"], "19.00");
    assert_eq!(quote["prices_include_tax"], true);
    assert_eq!(quote["shipping_method_id"], shop.dhl["id"]);

    let placed = shop
        .app
        .check_out_with(&erika, &json!({"expected_total": "34.97", "shipping_address": cologne(), "shipping_method_id": shop.dhl["id"]}))
        .await;
    let order = expect_json(placed, StatusCode::CREATED).await;
    assert_eq!(
        figures(&order),
        ["30.07", "4.90", "4.81", "34.97", "4.79", "0.02"]
    );
    assert_eq!(order["tax_rate"], "19.00");
    assert_eq!(order["prices_include_tax"], true);
    assert_eq!(
        order["shipping_method"],
        json!({"id": shop.dhl["id"], "name": "DHL"})
    );
    let address = &order["shipping_address"];
    assert_eq!(address["line1"], "Heidestraße 17");
    assert_eq!(address["country"], "DE");
    assert_eq!(address["line2"], Value::Null);
    // The order reads back the same, frozen.
    let read = shop.app.order_now(&erika, &order).await;
    assert_eq!(figures(&read), figures(&order));
    assert_eq!(read["shipping_address"], order["shipping_address"]);
    assert_ledger_balanced(&shop.app.db);
}

/// The same cart with `PRICES_INCLUDE_TAX=false`: the tax (5.69 + 0.02) is added on top:
/// 30.07 + 4.90 + 5.71 = 40.68.
#[tokio::test]
async fn the_worked_example_with_prices_excluding_tax() {
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.prices_include_tax = false;
    });
    let shop = shop_on(app).await;
    let erika = shop.shopper("erika").await;
    let body = shop.delivery(cologne());
    let quote = expect_json(shop.app.quote(&erika, &body).await, StatusCode::OK).await;
    assert_eq!(
        figures(&quote),
        ["30.07", "4.90", "5.71", "40.68", "5.69", "0.02"]
    );
    assert_eq!(quote["prices_include_tax"], false);
    let order = expect_json(
        shop.app.check_out_with(&erika, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        figures(&order),
        ["30.07", "4.90", "5.71", "40.68", "5.69", "0.02"]
    );
    assert_eq!(order["prices_include_tax"], false);
}

/// Shipping is free from the method's `free_over`; a country without a rate pays no tax.
#[tokio::test]
async fn free_shipping_from_its_threshold_and_no_rate_no_tax() {
    let shop = shop().await;
    let express = shop
        .app
        .shipping_method(
            &shop.admin,
            json!({"name": "Express", "price": 12, "countries": ["AT", "AT"], "free_over": "30.00"}),
        )
        .await;
    assert_eq!(express["countries"], json!(["AT"]), "repeats count once");
    assert_eq!(express["price"], "12.00");
    let max = shop.shopper("max").await;
    let quote = expect_json(
        shop.app
            .quote(
                &max,
                &json!({"shipping_address": vienna(), "shipping_method_id": express["id"]}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    // 30.07 >= 30.00: free; Austria has no rate here.
    assert_eq!(
        figures(&quote),
        ["30.07", "0.00", "0.00", "30.07", "0.00", "0.00"]
    );
    assert_eq!(quote["tax_rate"], "0.00");
    // Below the threshold it is charged.
    let removed = shop
        .app
        .delete_as(
            &format!(
                "/api/v1/cart/items/{}",
                shop.app.cart(&max).await["items"][1]["id"]
            ),
            Some(&max.token),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let quote = expect_json(
        shop.app
            .quote(
                &max,
                &json!({"shipping_address": vienna(), "shipping_method_id": express["id"]}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(quote["shipping"], "12.00");
    assert_eq!(quote["total"], "41.97");
}

/// A method that does not ship to the address's country, an unknown method, a missing
/// address or method once methods exist: 422 naming the field, nothing changed.
#[tokio::test]
async fn deliveries_the_shop_cannot_make_are_refused_and_change_nothing() {
    let shop = shop().await;
    let erika = shop.shopper("erika").await;
    let france = json!({"name": "Jean", "line1": "1 rue X", "city": "Paris", "country": "FR"});
    let before = state(&shop.app.db);
    let cases = [
        (shop.delivery(france.clone()), vec!["shipping_method_id"]),
        (
            json!({"shipping_address": cologne(), "shipping_method_id": 999_999}),
            vec!["shipping_method_id"],
        ),
        (
            json!({"shipping_address": cologne()}),
            vec!["shipping_method_id"],
        ),
        (
            json!({"shipping_method_id": shop.dhl["id"]}),
            vec!["shipping_address"],
        ),
        (json!({}), vec!["shipping_address", "shipping_method_id"]),
        (
            json!({"shipping_address": cologne(), "address_id": 1, "shipping_method_id": shop.dhl["id"]}),
            vec!["address_id"],
        ),
        (
            shop.delivery(
                json!({"name": "", "line1": "x", "city": "y", "country": "XX", "postal_code": "!"}),
            ),
            vec![
                "shipping_address.name",
                "shipping_address.postal_code",
                "shipping_address.country",
            ],
        ),
    ];
    for (body, fields) in &cases {
        for path in ["/api/v1/cart/quote", "/api/v1/cart/checkout"] {
            let refused = shop.app.post_json(path, body, Some(&erika.token)).await;
            let problem = expect_problem(
                refused,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(&error_fields(&problem), fields, "{path} {body}: {problem}");
        }
    }
    // A checkout with no body at all, once the shop ships: the same 422.
    let bodyless = shop
        .app
        .client
        .post(shop.app.url("/api/v1/cart/checkout"))
        .bearer_auth(&erika.token)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(
        bodyless,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        error_fields(&problem),
        ["shipping_address", "shipping_method_id"]
    );
    assert_eq!(state(&shop.app.db), before, "nothing changed");
    assert_eq!(
        shop.app.cart(&erika).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A shop with no shipping method checks out without a body (shipping 0, no tax), or
/// with just an address (tax from its country).
#[tokio::test]
async fn a_shop_without_shipping_methods_checks_out_without_a_body() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let ebook = app.product(&admin, "E-book", "PDF", "11.90", 10).await;
    app.tax_rate(&admin, "DE", "19").await;
    let reader = app.customer("reader").await;
    let order = app.place_order(&reader, &[(&ebook, 1)]).await;
    assert_eq!(figures(&order), ["11.90", "0.00", "0.00", "11.90", "0.00"]);
    assert_eq!(order["shipping_address"], Value::Null);
    assert_eq!(order["shipping_method"], Value::Null);
    assert_eq!(order["tax_rate"], "0.00");

    assert_eq!(
        app.add_to_cart(&reader, &ebook["id"], 1).await.status(),
        StatusCode::CREATED
    );
    // 11.90 × 19 / 119 = 1.90.
    let order = expect_json(
        app.check_out_with(&reader, &json!({"shipping_address": cologne()}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(figures(&order), ["11.90", "0.00", "1.90", "11.90", "1.90"]);
    assert_eq!(order["shipping_address"]["city"], "Köln");
}

/// A price changed between the quote and the checkout: with the quote's total as
/// `expected_total` the checkout is refused (409 `total_changed`, the new totals in the
/// problem, nothing placed); without it, the order is placed at the new prices.
#[tokio::test]
async fn a_price_change_after_the_quote_is_never_charged_silently() {
    let shop = shop().await;
    let erika = shop.shopper("erika").await;
    let body = shop.delivery(cologne());
    let quote = expect_json(shop.app.quote(&erika, &body).await, StatusCode::OK).await;
    assert_eq!(quote["total"], "34.97");

    let repriced = shop
        .app
        .patch_json(
            &format!("/api/v1/products/{}", shop.mug["id"]),
            &json!({"price": "10.99"}),
            Some(&shop.admin.token),
        )
        .await;
    assert_eq!(repriced.status(), StatusCode::OK);
    let before = state(&shop.app.db);

    let mut expecting = body.clone();
    expecting["expected_total"] = quote["total"].clone();
    let refused = shop.app.check_out_with(&erika, &expecting).await;
    let problem = expect_problem(refused, StatusCode::CONFLICT, "total_changed").await;
    // 3 × 10.99 + 0.10 = 33.07, + 4.90 shipping.
    assert_eq!(problem["quote"]["total"], "37.97");
    assert_eq!(problem["quote"]["subtotal"], "33.07");
    assert_eq!(state(&shop.app.db), before, "nothing placed");

    // The front end shows the new total and sends it: placed.
    expecting["expected_total"] = problem["quote"]["total"].clone();
    let order = expect_json(
        shop.app.check_out_with(&erika, &expecting).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["total"], "37.97");
    assert_eq!(order["items"][0]["unit_price"], "10.99");

    // Without expected_total, the prices of the moment are charged and shown.
    let max = shop.shopper("max").await;
    let order = expect_json(
        shop.app.check_out_with(&max, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["total"], "37.97");
    assert_ledger_balanced(&shop.app.db);
}

/// A quote writes nothing: not even the cart a user's first cart request creates. An
/// empty cart is 422 `empty_cart`.
#[tokio::test]
async fn a_quote_never_writes() {
    let shop = shop().await;
    let newcomer = shop.app.customer("newcomer").await;
    let before = state(&shop.app.db);
    let refused = shop.app.quote(&newcomer, &shop.delivery(cologne())).await;
    expect_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "empty_cart").await;
    assert_eq!(state(&shop.app.db), before, "no cart created");

    let erika = shop.shopper("erika").await;
    let cart_before = shop.app.cart(&erika).await;
    let before = state(&shop.app.db);
    for _ in 0..3 {
        let quoted = shop.app.quote(&erika, &shop.delivery(cologne())).await;
        assert_eq!(quoted.status(), StatusCode::OK);
    }
    assert_eq!(state(&shop.app.db), before);
    assert_eq!(shop.app.cart(&erika).await, cart_before, "cart untouched");
}

/// A guest may ask for a quote (address inline; saved addresses are an account's), but
/// checkout needs an account.
#[tokio::test]
async fn guests_get_quotes_but_check_out_with_an_account() {
    let shop = shop().await;
    let token = shop.app.guest().await;
    let added = shop.app.guest_add(&token, &shop.mug["id"], 2).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let as_guest = |path: &str, body: &Value| {
        shop.app
            .client
            .post(shop.app.url(path))
            .header("X-Cart-Token", &token)
            .json(body)
            .send()
    };
    let quote = expect_json(
        as_guest("/api/v1/cart/quote", &shop.delivery(vienna()))
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    // 19.98 + 4.90 (Austria: no rate here).
    assert_eq!(quote["total"], "24.88");
    let saved = as_guest(
        "/api/v1/cart/quote",
        &json!({"address_id": 1, "shipping_method_id": shop.dhl["id"]}),
    )
    .await
    .unwrap();
    let problem =
        expect_problem(saved, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["address_id"]);
    let checkout = as_guest("/api/v1/cart/checkout", &shop.delivery(vienna()))
        .await
        .unwrap();
    expect_problem(checkout, StatusCode::UNAUTHORIZED, "login_required").await;
}

/// The address book: the first address is the default, another can take its place, a
/// partial update changes only what it sends, another user's address is 404.
#[tokio::test]
async fn the_address_book() {
    let shop = shop().await;
    let erika = shop.app.customer("erika").await;
    let home = shop.app.save_address(&erika, &cologne()).await;
    assert_eq!(home["is_default"], true, "the first is the default");
    assert_eq!(home["country"], "DE");
    assert_eq!(home["line2"], Value::Null);
    let mut office = cologne();
    office["line1"] = json!("Domkloster 4");
    office["line2"] = json!("3. OG");
    office["is_default"] = json!(true);
    let office = shop.app.save_address(&erika, &office).await;
    assert_eq!(office["is_default"], true);

    let book = expect_json(
        shop.app
            .get_as("/api/v1/users/me/addresses", &erika.token)
            .await,
        StatusCode::OK,
    )
    .await;
    let defaults: Vec<bool> = book["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|address| address["is_default"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults, [false, true], "one default, the newest choice");

    let path = format!("/api/v1/users/me/addresses/{}", office["id"]);
    let changed = expect_json(
        shop.app
            .patch_json(
                &path,
                &json!({"city": " Bonn ", "line2": null}),
                Some(&erika.token),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["city"], "Bonn");
    assert_eq!(changed["line2"], Value::Null);
    assert_eq!(changed["line1"], "Domkloster 4", "unchanged");

    let bad = shop
        .app
        .patch_json(
            &path,
            &json!({"country": "de", "phone": "call me", "name": "x".repeat(101)}),
            Some(&erika.token),
        )
        .await;
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["name", "country", "phone"]);

    let max = shop.app.customer("max").await;
    for response in [
        shop.app
            .patch_json(&path, &json!({"city": "Berlin"}), Some(&max.token))
            .await,
        shop.app.delete_as(&path, Some(&max.token)).await,
    ] {
        expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let unchanged = expect_json(
        shop.app
            .get_as("/api/v1/users/me/addresses", &erika.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["items"][1]["city"], "Bonn");

    let created = shop
        .app
        .post_json(
            "/api/v1/users/me/addresses",
            &json!({"name": "A", "line1": "B", "city": "C", "country": "ZZ", "postal_code": "-1"}),
            Some(&erika.token),
        )
        .await;
    let problem = expect_problem(
        created,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["postal_code", "country"]);
    let missing = shop
        .app
        .post_json(
            "/api/v1/users/me/addresses",
            &json!({"name": "A"}),
            Some(&erika.token),
        )
        .await;
    let problem = expect_problem(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["line1", "city", "country"]);

    let deleted = shop.app.delete_as(&path, Some(&erika.token)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let book = expect_json(
        shop.app
            .get_as("/api/v1/users/me/addresses", &erika.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(book["items"].as_array().unwrap().len(), 1);
}

/// Checkout with a saved address copies it: later edits and deletion of the saved one do
/// not change the order. Another user's saved address is 404.
#[tokio::test]
async fn an_order_keeps_its_address_as_given() {
    let shop = shop().await;
    let erika = shop.shopper("erika").await;
    let home = shop.app.save_address(&erika, &cologne()).await;

    let max = shop.shopper("max").await;
    let theirs = shop
        .app
        .check_out_with(
            &max,
            &json!({"address_id": home["id"], "shipping_method_id": shop.dhl["id"]}),
        )
        .await;
    expect_problem(theirs, StatusCode::NOT_FOUND, "not_found").await;

    let order = expect_json(
        shop.app
            .check_out_with(
                &erika,
                &json!({"address_id": home["id"], "shipping_method_id": shop.dhl["id"]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["shipping_address"]["line1"], "Heidestraße 17");
    assert_eq!(order["total"], "34.97");

    let path = format!("/api/v1/users/me/addresses/{}", home["id"]);
    let moved = shop
        .app
        .patch_json(
            &path,
            &json!({"line1": "Neue Straße 1"}),
            Some(&erika.token),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let read = shop.app.order_now(&erika, &order).await;
    assert_eq!(read["shipping_address"]["line1"], "Heidestraße 17");
    assert_eq!(
        shop.app.delete_as(&path, Some(&erika.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    // Deleting the method keeps the order's name for it.
    let gone = shop
        .app
        .delete_as(
            &format!("/api/v1/shipping-methods/{}", shop.dhl["id"]),
            Some(&shop.admin.token),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let read = shop.app.order_now(&erika, &order).await;
    assert_eq!(read["shipping_address"], order["shipping_address"]);
    assert_eq!(read["shipping_method"], json!({"id": null, "name": "DHL"}));
    assert_eq!(read["total"], "34.97");
}

/// Staff manage methods and rates; bad input is a 422 naming the field, a second rate
/// for a country 409, a customer 403; nothing changes.
#[tokio::test]
async fn methods_and_rates_refuse_bad_input() {
    let shop = shop().await;
    let customer = shop.app.customer("erika").await;
    let admin = &shop.admin;
    let before: Value = expect_json(
        shop.app.get("/api/v1/shipping-methods").await,
        StatusCode::OK,
    )
    .await;
    for (body, fields) in [
        (
            json!({"name": "X", "price": "-1", "countries": ["DE"]}),
            vec!["price"],
        ),
        (
            json!({"name": "X", "price": "4.999", "countries": ["DE"]}),
            vec!["price"],
        ),
        (
            json!({"name": "X", "price": "abc", "countries": []}),
            vec!["price", "countries"],
        ),
        (
            json!({"name": " ", "price": "1", "countries": ["XX"], "free_over": "-5"}),
            vec!["name", "countries", "free_over"],
        ),
    ] {
        let refused = shop
            .app
            .post_json("/api/v1/shipping-methods", &body, Some(&admin.token))
            .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let forbidden = shop
        .app
        .post_json(
            "/api/v1/shipping-methods",
            &json!({"name": "X", "price": "1", "countries": ["DE"]}),
            Some(&customer.token),
        )
        .await;
    expect_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    let after: Value = expect_json(
        shop.app.get("/api/v1/shipping-methods").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(before, after, "nothing created");

    for rate in ["100.5", "-1", "19.1234", "nineteen", "1e1"] {
        let refused = shop
            .app
            .post_json(
                "/api/v1/tax-rates",
                &json!({"country": "FR", "rate": rate}),
                Some(&admin.token),
            )
            .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["rate"], "{rate}");
    }
    let duplicate = shop
        .app
        .post_json(
            "/api/v1/tax-rates",
            &json!({"country": "DE", "rate": "7"}),
            Some(&admin.token),
        )
        .await;
    let problem = expect_problem(duplicate, StatusCode::CONFLICT, "already_exists").await;
    assert_eq!(error_fields(&problem), ["country"]);
    let rates = expect_json(shop.app.get("/api/v1/tax-rates").await, StatusCode::OK).await;
    assert_eq!(
        rates["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["country"].clone(), r["rate"].clone()))
            .collect::<Vec<_>>(),
        [(json!("DE"), json!("19.00"))]
    );
    let changed = expect_json(
        shop.app
            .patch_json(
                "/api/v1/tax-rates/DE",
                &json!({"rate": 8.875}),
                Some(&admin.token),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["rate"], "8.875");

    let unknown = shop.app.get("/api/v1/shipping-methods?country=XX").await;
    let problem = expect_problem(unknown, StatusCode::BAD_REQUEST, "bad_request").await;
    assert_eq!(error_fields(&problem), ["country"]);
    let to_at = expect_json(
        shop.app.get("/api/v1/shipping-methods?country=AT").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(to_at["items"].as_array().unwrap().len(), 1);
    let to_fr = expect_json(
        shop.app.get("/api/v1/shipping-methods?country=FR").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(to_fr["items"], json!([]));
}

/// Checkout with totals under contention: 60 buyers with bodies race for 25 units; exactly
/// 25 sold, each order charging its own total, no 5xx, no deadlock, the ledger balanced.
#[tokio::test]
async fn checkout_with_totals_never_oversells() {
    let shop = shop().await;
    let lamp = shop
        .app
        .product(&shop.admin, "Lamp", "Brass", "50.00", 25)
        .await;
    let lamp_id = lamp["id"].as_i64().unwrap() as i32;
    let buyers = crate::helpers::shoppers_with_one_unit(&shop.app.db, 60, lamp_id, "buyer");
    let body = shop.delivery(cologne());
    let outcomes = join_all(
        buyers
            .iter()
            .map(|buyer| shop.app.check_out_with(buyer, &body)),
    )
    .await;
    let mut placed = 0;
    for outcome in outcomes {
        match outcome.status() {
            StatusCode::CREATED => {
                let order = expect_json(outcome, StatusCode::CREATED).await;
                // 50.00 × 19 / 119 = 7.98; shipping 4.90.
                assert_eq!(figures(&order), ["50.00", "4.90", "7.98", "54.90", "7.98"]);
                placed += 1;
            }
            StatusCode::CONFLICT => {
                expect_problem(outcome, StatusCode::CONFLICT, "insufficient_stock").await;
            }
            other => panic!("unexpected {other}: {}", outcome.text().await.unwrap()),
        }
    }
    assert_eq!(placed, 25);
    assert_eq!(shop.app.stock_of(&lamp).await, 0);
    assert_ledger_balanced(&shop.app.db);
}
