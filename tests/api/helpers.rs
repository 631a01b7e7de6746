//! Shortcuts for acting as customers and staff over HTTP.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use chrono::Utc;
use storefront::auth::new_token;
use storefront::models::{NewSession, NewUser};
use storefront::repository::{carts, sessions, users};

use crate::common::{TestApp, TestDb};

/// A logged-in user: their id and bearer token.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: i64,
    pub token: String,
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request reaches the server")
    }

    pub async fn patch_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.client.patch(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request reaches the server")
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request reaches the server")
    }

    pub async fn delete_as(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request reaches the server")
    }

    /// Registers `username` (password "correct horse") and logs in.
    pub async fn customer(&self, username: &str) -> Customer {
        let registered = self
            .post_json(
                "/api/v1/users",
                &json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": "correct horse",
                }),
                None,
            )
            .await;
        assert_eq!(
            registered.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        let session = self.log_in(username).await;
        Customer {
            id: session["user"]["id"].as_i64().expect("user id"),
            token: session["token"].as_str().expect("token").to_owned(),
        }
    }

    /// Logs an existing user in (password "correct horse"); returns the session JSON.
    pub async fn log_in(&self, username: &str) -> Value {
        expect_json(
            self.post_json(
                "/api/v1/sessions",
                &json!({ "login": username, "password": "correct horse" }),
                None,
            )
            .await,
            StatusCode::OK,
        )
        .await
    }

    /// A customer promoted to admin the way an operator would (the repository function
    /// behind `storefront admin promote`).
    pub async fn admin(&self, username: &str) -> Customer {
        let customer = self.customer(username).await;
        let mut conn = self.db.connect();
        storefront::repository::users::set_admin(&mut conn, username, true)
            .expect("promote")
            .expect("user exists");
        customer
    }

    /// Creates a product as `admin`; returns its JSON.
    pub async fn product(
        &self,
        admin: &Customer,
        name: &str,
        description: &str,
        price: &str,
        stock: i32,
    ) -> Value {
        expect_json(
            self.post_json(
                "/api/v1/products",
                &json!({
                    "name": name,
                    "description": description,
                    "price": price,
                    "inventory_count": stock,
                }),
                Some(&admin.token),
            )
            .await,
            StatusCode::CREATED,
        )
        .await
    }
}

/// Asserts the status and that the body is JSON (never mentioning passwords); returns it.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "body: {text}");
    assert!(
        !text.to_lowercase().contains("password_hash"),
        "leaked: {text}"
    );
    assert!(!text.contains("$argon2"), "leaked: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts a problem+json error with this status and code; returns the body.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("application/problem+json".to_owned()),
        "status {}",
        response.status()
    );
    let body = expect_json(response, status).await;
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// The `field`s named in a validation problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `count` customers, each logged in with one unit of `product_id` in the cart. Arranged
/// in the database directly: 200 argon2 hashes would only slow the test down.
pub fn shoppers_with_one_unit(
    db: &TestDb,
    count: usize,
    product_id: i32,
    prefix: &str,
) -> Vec<Customer> {
    let mut conn = db.connect();
    (0..count)
        .map(|n| {
            let username = format!("{prefix}{n}");
            let user = users::insert(
                &mut conn,
                &NewUser {
                    username: &username,
                    email: &format!("{username}@example.com"),
                    password_hash: "not-used",
                    name: None,
                },
            )
            .unwrap();
            let (token, token_hash) = new_token();
            sessions::insert(
                &mut conn,
                &NewSession {
                    user_id: user.id,
                    token_hash: &token_hash,
                    expires_at: Utc::now() + chrono::Duration::hours(1),
                },
            )
            .unwrap();
            let one = storefront::domain::Quantity::parse(1).unwrap();
            let owner = carts::CartOwner::User(user.id);
            carts::add_to_open_cart(&mut conn, owner, product_id, one, None).unwrap();
            Customer {
                id: i64::from(user.id),
                token,
            }
        })
        .collect()
}

/// A product arranged in the database directly.
pub fn product_in_db(db: &TestDb, name: &str, price: &str, stock: i32) -> i32 {
    storefront::repository::products::insert(
        &mut db.connect(),
        &storefront::models::NewProduct {
            name,
            description: None,
            price: &price.parse().expect("decimal"),
            inventory_count: stock,
            category_ids: &[],
            images: Default::default(),
            group_id: None,
            options: None,
        },
        None,
    )
    .expect("insert product")
    .id
}

/// How many connections to the database of `conn` wait on a lock at this moment.
pub fn waiting_on_locks(conn: &mut PgConnection) -> i64 {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result::<Waiting>(conn)
    .expect("read pg_stat_activity")
    .n
}

/// Waits until `count` connections to `db` wait on a lock (one the test holds, say), so
/// the requests behind them are known to be in flight: polling, with a deadline.
pub async fn until_waiting_on_locks(db: &TestDb, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = db.connect();
    loop {
        let waiting = waiting_on_locks(&mut conn);
        if waiting >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {waiting} of {count} connections came to wait on a lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `done` holds (background work has run, say): polling, with a deadline
/// that fails the test naming `what`.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pages through a listing, returning every item in order.
pub async fn collect_pages(app: &TestApp, query: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/api/v1/products?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = expect_json(app.get(&path).await, StatusCode::OK).await;
        let page_items = page["items"].as_array().unwrap();
        assert!(page_items.len() <= limit);
        items.extend(page_items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("paging never ended");
}
