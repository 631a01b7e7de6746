//! Conditional requests: the catalogue's ETag / Last-Modified / Cache-Control and 304s,
//! the cart's ETag and If-Match (412), racing tabs included.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestApp, TestDb};
use crate::helpers::{expect_json, expect_problem, until_waiting_on_locks, Customer};

async fn shop() -> (TestApp, Customer) {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    (app, admin)
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("ASCII header").to_owned())
}

fn etag(response: &Response) -> String {
    let tag = header(response, "etag").expect("an ETag");
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "a strong tag: {tag}"
    );
    tag
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request reaches the server")
}

/// Asserts a 304: no body, the validators repeated.
async fn expect_not_modified(response: Response, tag: &str, cache_control: &str) {
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&response, "etag").as_deref(), Some(tag));
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some(cache_control)
    );
    assert_eq!(response.text().await.unwrap(), "");
}

// ------------------------------------------------------------------ catalogue

#[tokio::test]
async fn a_product_revalidates_with_if_none_match_and_if_modified_since() {
    let (app, admin) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 5).await;
    let path = format!("/api/v1/products/{}", teapot["id"]);

    let first = app.get(&path).await;
    let tag = etag(&first);
    let last_modified = header(&first, "last-modified").expect("Last-Modified");
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");
    assert_eq!(
        header(&first, "cache-control").as_deref(),
        Some("public, no-cache")
    );
    assert_eq!(expect_json(first, StatusCode::OK).await, teapot);

    // The tag as sent, weak, in a list, and `*`: not modified.
    let weak = format!("W/{tag}");
    let listed = format!("\"other\", {tag}");
    for condition in [tag.as_str(), &weak, &listed, "*"] {
        let response = send(
            app.client
                .get(app.url(&path))
                .header("if-none-match", condition),
        )
        .await;
        expect_not_modified(response, &tag, "public, no-cache").await;
    }
    // HEAD too.
    let response = send(
        app.client
            .head(app.url(&path))
            .header("if-none-match", &tag),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&response, "etag").as_deref(), Some(tag.as_str()));
    // Another tag: the body again, same tag.
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-none-match", "\"other\""),
    )
    .await;
    assert_eq!(etag(&response), tag);
    assert_eq!(expect_json(response, StatusCode::OK).await, teapot);

    // If-Modified-Since at Last-Modified: not modified; a minute before: modified.
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-modified-since", &last_modified),
    )
    .await;
    expect_not_modified(response, &tag, "public, no-cache").await;
    let modified = httpdate_minus(&last_modified, 60);
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-modified-since", &modified),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // If-None-Match decides when present: a stale tag with a current date is a 200.
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-none-match", "\"stale\"")
            .header("if-modified-since", &last_modified),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A date that does not parse is ignored.
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-modified-since", "yesterday"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_product_above_its_lowest_price_of_30_days_revalidates_by_tag_only() {
    let (app, admin) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 5).await;
    let path = format!("/api/v1/products/{}", teapot["id"]);
    // A price rise: the lower old price stays the lowest of 30 days until it leaves the
    // window, a change that time makes without touching updated_at.
    expect_json(
        app.patch_json(&path, &json!({"price": "24.90"}), Some(&admin.token))
            .await,
        StatusCode::OK,
    )
    .await;
    let response = app.get(&path).await;
    assert!(header(&response, "last-modified").is_none());
    let tag = etag(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["lowest_price_30d"], "19.90");
    // No date to revalidate by: a date in the future still gets the body.
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(app.client.get(app.url(&path)).header("if-none-match", &tag)).await;
    expect_not_modified(response, &tag, "public, no-cache").await;
}

/// An HTTP-date `secs` earlier.
fn httpdate_minus(date: &str, secs: i64) -> String {
    let parsed =
        chrono::DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000")).expect("an HTTP-date");
    (parsed - chrono::Duration::seconds(secs))
        .with_timezone(&chrono::Utc)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[tokio::test]
async fn every_change_to_a_product_changes_its_tag_and_the_listings() {
    let (app, admin) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 5).await;
    let path = format!("/api/v1/products/{}", teapot["id"]);
    let list = "/api/v1/products?limit=20";
    let mut product_tags = vec![etag(&app.get(&path).await)];
    let mut list_tags = vec![etag(&app.get(list).await)];

    for change in [
        json!({"price": "17.50"}),
        json!({"inventory_count": 4}),
        json!({"name": "Blue teapot"}),
        json!({"description": null}),
    ] {
        expect_json(
            app.patch_json(&path, &change, Some(&admin.token)).await,
            StatusCode::OK,
        )
        .await;
        let stale = product_tags.last().unwrap().clone();
        let response = send(
            app.client
                .get(app.url(&path))
                .header("if-none-match", &stale),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "after {change}");
        product_tags.push(etag(&response));
        let stale = list_tags.last().unwrap().clone();
        let response = send(
            app.client
                .get(app.url(list))
                .header("if-none-match", &stale),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "listing after {change}");
        list_tags.push(etag(&response));
    }
    // A new product changes the listing's tag; the listing then revalidates to 304.
    app.product(&admin, "Cup", "white", "4.50", 5).await;
    let response = send(
        app.client
            .get(app.url(list))
            .header("if-none-match", list_tags.last().unwrap()),
    )
    .await;
    let list_tag = etag(&response);
    list_tags.push(list_tag.clone());
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(
        app.client
            .get(app.url(list))
            .header("if-none-match", &list_tag),
    )
    .await;
    expect_not_modified(response, &list_tag, "public, no-cache").await;

    for tags in [&product_tags, &list_tags] {
        let distinct: std::collections::BTreeSet<&String> = tags.iter().collect();
        assert_eq!(distinct.len(), tags.len(), "{tags:?}");
    }
    // Archived: gone, whatever the client holds.
    app.delete_as(&path, Some(&admin.token)).await;
    let response = send(
        app.client
            .get(app.url(&path))
            .header("if-none-match", product_tags.last().unwrap()),
    )
    .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn catalogue_responses_are_public_for_anonymous_and_private_with_credentials() {
    let (app, admin) = shop().await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 5).await;
    let product = format!("/api/v1/products/{}", teapot["id"]);
    let configured = TestApp::spawn_configured(app.db.clone(), |config| {
        config.catalogue_cache_max_age = Duration::from_secs(300);
    });

    for path in [product.as_str(), "/api/v1/products"] {
        for (server, anonymous) in [
            (&app, "public, no-cache"),
            (&configured, "public, max-age=300"),
        ] {
            let response = server.get(path).await;
            let tag = etag(&response);
            assert_eq!(
                header(&response, "cache-control").as_deref(),
                Some(anonymous)
            );
            let response = send(
                server
                    .client
                    .get(server.url(path))
                    .header("if-none-match", &tag),
            )
            .await;
            expect_not_modified(response, &tag, anonymous).await;

            // Credentials: the user's own view, for no shared cache; the same tag.
            let with_token = server
                .client
                .get(server.url(path))
                .bearer_auth(&admin.token);
            let with_cart_token = server
                .client
                .get(server.url(path))
                .header("x-cart-token", "some-guest-cart");
            for request in [with_token, with_cart_token] {
                let response = send(request).await;
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                assert_eq!(etag(&response), tag);
                assert_eq!(
                    header(&response, "cache-control").as_deref(),
                    Some("private, no-cache"),
                    "{path}"
                );
            }
            let response = send(
                server
                    .client
                    .get(server.url(path))
                    .bearer_auth(&admin.token)
                    .header("if-none-match", &tag),
            )
            .await;
            expect_not_modified(response, &tag, "private, no-cache").await;
        }
    }
}

// ------------------------------------------------------------------ cart

impl TestApp {
    /// `GET /cart`: its tag and body.
    async fn tagged_cart(&self, customer: &Customer) -> (String, Value) {
        let response = self.get_as("/api/v1/cart", &customer.token).await;
        let tag = etag(&response);
        (tag, expect_json(response, StatusCode::OK).await)
    }

    fn cart_request(
        &self,
        method: reqwest::Method,
        path: &str,
        customer: &Customer,
        if_match: Option<&str>,
    ) -> RequestBuilder {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&customer.token);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request
    }

    async fn add_if(
        &self,
        customer: &Customer,
        product: &Value,
        quantity: i64,
        if_match: Option<&str>,
    ) -> Response {
        send(
            self.cart_request(
                reqwest::Method::POST,
                "/api/v1/cart/items",
                customer,
                if_match,
            )
            .json(&json!({"product_id": product["id"], "quantity": quantity})),
        )
        .await
    }

    async fn set_quantity_if(
        &self,
        customer: &Customer,
        line: &Value,
        quantity: i64,
        if_match: Option<&str>,
    ) -> Response {
        send(
            self.cart_request(
                reqwest::Method::PATCH,
                &format!("/api/v1/cart/items/{line}"),
                customer,
                if_match,
            )
            .json(&json!({ "quantity": quantity })),
        )
        .await
    }

    async fn remove_if(
        &self,
        customer: &Customer,
        line: &Value,
        if_match: Option<&str>,
    ) -> Response {
        send(self.cart_request(
            reqwest::Method::DELETE,
            &format!("/api/v1/cart/items/{line}"),
            customer,
            if_match,
        ))
        .await
    }

    async fn checkout_if(&self, customer: &Customer, if_match: Option<&str>) -> Response {
        send(self.cart_request(
            reqwest::Method::POST,
            "/api/v1/cart/checkout",
            customer,
            if_match,
        ))
        .await
    }
}

/// The tag a cart change answered with, checked to be what a read of the cart now says.
async fn tag_of_change(
    app: &TestApp,
    alice: &Customer,
    response: Response,
    status: StatusCode,
) -> String {
    let tag = etag(&response);
    assert_eq!(response.status(), status);
    let (read, _) = app.tagged_cart(alice).await;
    assert_eq!(read, tag, "the change's tag is the cart's");
    tag
}

#[tokio::test]
async fn every_cart_change_gives_the_cart_a_new_tag() {
    let (app, admin) = shop().await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 20).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 20).await;

    let (empty, _) = app.tagged_cart(&alice).await;
    let (again, _) = app.tagged_cart(&alice).await;
    assert_eq!(empty, again, "reading does not change the cart");
    let mut tags = vec![empty];
    let added = app.add_if(&alice, &teapot, 1, None).await;
    tags.push(tag_of_change(&app, &alice, added, StatusCode::CREATED).await);
    let added = app.add_if(&alice, &teapot, 2, None).await;
    tags.push(tag_of_change(&app, &alice, added, StatusCode::CREATED).await);
    let added = app.add_if(&alice, &cup, 1, None).await;
    tags.push(tag_of_change(&app, &alice, added, StatusCode::CREATED).await);
    let (_, cart) = app.tagged_cart(&alice).await;
    let (teapot_line, cup_line) = (&cart["items"][0]["id"], &cart["items"][1]["id"]);
    let changed = app.set_quantity_if(&alice, teapot_line, 5, None).await;
    tags.push(tag_of_change(&app, &alice, changed, StatusCode::OK).await);
    // The same quantity again is still a change of the cart (its updated_at moves).
    let changed = app.set_quantity_if(&alice, teapot_line, 5, None).await;
    tags.push(tag_of_change(&app, &alice, changed, StatusCode::OK).await);
    let removed = app.remove_if(&alice, cup_line, None).await;
    tags.push(tag_of_change(&app, &alice, removed, StatusCode::NO_CONTENT).await);
    // A price change shows in the cart, so it changes the cart's tag too.
    expect_json(
        app.patch_json(
            &format!("/api/v1/products/{}", teapot["id"]),
            &json!({"price": "18.00"}),
            Some(&admin.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    tags.push(app.tagged_cart(&alice).await.0);

    let distinct: std::collections::BTreeSet<&String> = tags.iter().collect();
    assert_eq!(distinct.len(), tags.len(), "{tags:?}");
    // A refused change (409) leaves the tag alone.
    let short = app.add_if(&alice, &teapot, 999, None).await;
    expect_problem(short, StatusCode::CONFLICT, "insufficient_stock").await;
    assert_eq!(&app.tagged_cart(&alice).await.0, tags.last().unwrap());
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing() {
    let (app, admin) = shop().await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 20).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 20).await;
    let (stale, _) = app.tagged_cart(&alice).await;
    expect_json(
        app.add_if(&alice, &teapot, 2, None).await,
        StatusCode::CREATED,
    )
    .await;
    let (current, before) = app.tagged_cart(&alice).await;
    let line = &before["items"][0]["id"];

    let weak = format!("W/{current}");
    for condition in [stale.as_str(), "\"made-up\"", &weak, "garbage"] {
        for response in [
            app.add_if(&alice, &cup, 1, Some(condition)).await,
            app.set_quantity_if(&alice, line, 3, Some(condition)).await,
            app.remove_if(&alice, line, Some(condition)).await,
            app.checkout_if(&alice, Some(condition)).await,
        ] {
            expect_problem(
                response,
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
            )
            .await;
        }
        let (tag, after) = app.tagged_cart(&alice).await;
        assert_eq!(after, before, "nothing changed after If-Match: {condition}");
        assert_eq!(tag, current);
    }
    // What is wrong with the request itself is said first: an id that names no product
    // (ids start at 1) is a 404, whatever the If-Match.
    let nothing = json!({"id": 0});
    let response = app.add_if(&alice, &nothing, 1, Some(&stale)).await;
    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let orders = expect_json(
        app.get_as("/api/v1/orders", &alice.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(orders["items"], json!([]));
    let stock = expect_json(
        app.get(&format!("/api/v1/products/{}", teapot["id"])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stock["inventory_count"], 20);
}

#[tokio::test]
async fn a_current_if_match_lets_each_change_through() {
    let (app, admin) = shop().await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 20).await;
    let cup = app.product(&admin, "Cup", "white", "4.50", 20).await;

    let (tag, _) = app.tagged_cart(&alice).await;
    let added = app.add_if(&alice, &teapot, 2, Some(&tag)).await;
    let tag = tag_of_change(&app, &alice, added, StatusCode::CREATED).await;
    // One of several tags is enough, and `*` matches any cart.
    let listed = format!("\"older\", {tag}");
    let added = app.add_if(&alice, &cup, 1, Some(&listed)).await;
    let tag = tag_of_change(&app, &alice, added, StatusCode::CREATED).await;
    let (_, cart) = app.tagged_cart(&alice).await;
    let (teapot_line, cup_line) = (&cart["items"][0]["id"], &cart["items"][1]["id"]);
    let changed = app
        .set_quantity_if(&alice, teapot_line, 3, Some(&tag))
        .await;
    let tag = tag_of_change(&app, &alice, changed, StatusCode::OK).await;
    let removed = app.remove_if(&alice, cup_line, Some(&tag)).await;
    // The 204's tag is the cart's: good for the next change.
    let tag = tag_of_change(&app, &alice, removed, StatusCode::NO_CONTENT).await;
    let changed = app
        .set_quantity_if(&alice, teapot_line, 5, Some(&tag))
        .await;
    tag_of_change(&app, &alice, changed, StatusCode::OK).await;
    let changed = app.set_quantity_if(&alice, teapot_line, 4, Some("*")).await;
    let tag = tag_of_change(&app, &alice, changed, StatusCode::OK).await;

    let response = app.checkout_if(&alice, Some(&tag)).await;
    let order = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(order["status"], "checked_out");
    assert_eq!(order["items"][0]["quantity"], 4);
    // The order is placed; the tag named a cart that is now an order.
    expect_problem(
        app.checkout_if(&alice, Some(&tag)).await,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
}

#[tokio::test]
async fn a_price_change_since_the_cart_was_read_stops_a_conditional_checkout() {
    let (app, admin) = shop().await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 20).await;
    expect_json(
        app.add_if(&alice, &teapot, 1, None).await,
        StatusCode::CREATED,
    )
    .await;
    let (seen, _) = app.tagged_cart(&alice).await;
    expect_json(
        app.patch_json(
            &format!("/api/v1/products/{}", teapot["id"]),
            &json!({"price": "29.90"}),
            Some(&admin.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    expect_problem(
        app.checkout_if(&alice, Some(&seen)).await,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let (current, cart) = app.tagged_cart(&alice).await;
    assert_eq!(cart["total"], "29.90");
    let order = expect_json(
        app.checkout_if(&alice, Some(&current)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["total"], "29.90");
}

/// Two tabs send a change with the same If-Match at once: the test holds the cart row
/// until both wait on it, then lets go. Exactly one wins; the other is a 412.
#[tokio::test]
async fn two_tabs_racing_with_one_tag_one_wins_and_one_gets_412() {
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.http.workers = 2;
        config.database.pool_max_size = 6;
        config.database.pool_connection_timeout = Duration::from_secs(30);
    });
    let admin = app.admin("staff").await;
    let alice = app.customer("alice").await;
    let teapot = app.product(&admin, "Teapot", "blue", "19.90", 20).await;
    expect_json(
        app.add_if(&alice, &teapot, 1, None).await,
        StatusCode::CREATED,
    )
    .await;
    let (tag, cart) = app.tagged_cart(&alice).await;
    let line = cart["items"][0]["id"].clone();

    // PATCHes, then checkouts.
    for round in 0..2 {
        let tag = if round == 0 {
            tag.clone()
        } else {
            app.tagged_cart(&alice).await.0
        };
        let mut blocker = app.db.connect();
        blocker
            .batch_execute(&format!(
                "BEGIN; SELECT 1 FROM carts WHERE user_id = {} AND status = 'open' FOR UPDATE",
                alice.id
            ))
            .unwrap();
        let requests: Vec<_> = (2..4)
            .map(|quantity| {
                let request = if round == 0 {
                    app.cart_request(
                        reqwest::Method::PATCH,
                        &format!("/api/v1/cart/items/{line}"),
                        &alice,
                        Some(&tag),
                    )
                    .json(&json!({ "quantity": quantity }))
                } else {
                    app.cart_request(
                        reqwest::Method::POST,
                        "/api/v1/cart/checkout",
                        &alice,
                        Some(&tag),
                    )
                };
                tokio::spawn(async move { request.send().await.unwrap() })
            })
            .collect();
        until_waiting_on_locks(&app.db, 2).await;
        blocker.batch_execute("COMMIT").unwrap();

        let responses: Vec<Response> = join_all(requests)
            .await
            .into_iter()
            .map(|joined| joined.unwrap())
            .collect();
        let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        statuses.sort_unstable();
        let won = if round == 0 { 200 } else { 201 };
        assert_eq!(statuses, [won, 412], "round {round}");
        for response in responses {
            if response.status() == StatusCode::PRECONDITION_FAILED {
                expect_problem(
                    response,
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                )
                .await;
            }
        }
    }
    let orders = expect_json(
        app.get_as("/api/v1/orders", &alice.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "one order");
}

/// The document says all of it: the request headers each operation reads, the headers its
/// answers carry, and the 304 / 412 it may give (generated clients and the fuzzer rely
/// on that).
#[tokio::test]
async fn the_document_declares_the_conditional_headers_and_statuses() {
    let app = TestApp::spawn().await;
    let doc = expect_json(app.get("/openapi.json").await, StatusCode::OK).await;
    let catalogue = [
        (
            "/api/v1/products/{id}",
            "get",
            "200",
            &["If-None-Match", "If-Modified-Since"][..],
            &["ETag", "Last-Modified", "Cache-Control"][..],
            "304",
        ),
        (
            "/api/v1/products",
            "get",
            "200",
            &["If-None-Match"],
            &["ETag", "Cache-Control"],
            "304",
        ),
        (
            "/api/v1/cart/items",
            "post",
            "201",
            &["If-Match"],
            &["ETag"],
            "412",
        ),
        (
            "/api/v1/cart/items/{item_id}",
            "patch",
            "200",
            &["If-Match"],
            &["ETag"],
            "412",
        ),
        (
            "/api/v1/cart/items/{item_id}",
            "delete",
            "204",
            &["If-Match"],
            &["ETag"],
            "412",
        ),
        (
            "/api/v1/cart/checkout",
            "post",
            "201",
            &["If-Match"],
            &[],
            "412",
        ),
        ("/api/v1/cart", "get", "200", &[], &["ETag"], "200"),
    ];
    for (path, method, success, reads, sends, conditional) in catalogue {
        let operation = &doc["paths"][path][method];
        let params: Vec<&str> = operation["parameters"]
            .as_array()
            .map(|params| {
                params
                    .iter()
                    .filter(|param| param["in"] == "header")
                    .map(|param| param["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        for name in reads {
            assert!(
                params.contains(name),
                "{method} {path} reads {name}: {params:?}"
            );
        }
        for name in sends {
            assert!(
                operation["responses"][success]["headers"][name].is_object(),
                "{method} {path} {success} sends {name}"
            );
        }
        let answer = &operation["responses"][conditional];
        assert!(
            answer.is_object(),
            "{method} {path} documents {conditional}"
        );
        if conditional == "304" {
            assert!(answer["headers"]["ETag"].is_object());
            assert!(answer.get("content").is_none(), "a 304 has no body");
        }
    }
}
