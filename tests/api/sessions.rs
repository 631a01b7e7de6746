//! `POST /api/v1/sessions` and `DELETE /api/v1/sessions/current`.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use storefront::auth::new_token;
use storefront::models::NewSession;
use storefront::repository::sessions;

use crate::common::TestApp;
use crate::helpers::{expect_json, expect_problem};

#[tokio::test]
async fn logging_in_by_username_or_email_returns_a_bearer_token() {
    let app = TestApp::spawn().await;
    let alice = app.customer("alice").await;
    for login in ["alice", "alice@example.com", "ALICE@EXAMPLE.COM"] {
        let response = app
            .post_json(
                "/api/v1/sessions",
                &json!({"login": login, "password": "correct horse"}),
                None,
            )
            .await;
        assert_eq!(response.headers()["cache-control"], "no-store");
        let session = expect_json(response, StatusCode::OK).await;
        assert_eq!(session["token_type"], "Bearer");
        assert_eq!(session["user"]["id"], alice.id);
        let token = session["token"].as_str().unwrap();
        assert_eq!(token.len(), 43, "256 bits, base64url");
        let expires_at =
            chrono::DateTime::parse_from_rfc3339(session["expires_at"].as_str().unwrap()).unwrap();
        let lifetime = expires_at.with_timezone(&Utc) - Utc::now();
        assert!(lifetime > chrono::Duration::minutes(59) && lifetime <= chrono::Duration::hours(1));
        expect_json(app.get_as("/api/v1/users/me", token).await, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn unknown_login_and_wrong_password_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.customer("alice").await;
    let wrong_password = expect_problem(
        app.post_json(
            "/api/v1/sessions",
            &json!({"login": "alice", "password": "wrong horse"}),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let unknown = expect_problem(
        app.post_json(
            "/api/v1/sessions",
            &json!({"login": "nobody", "password": "wrong horse"}),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(wrong_password, unknown);
    // Worded for a login form, not as the missing-token answer.
    assert_eq!(
        wrong_password["detail"],
        "The login or the password is wrong."
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    // The test configuration allows 3 failures per minute.
    let app = TestApp::spawn().await;
    app.customer("alice").await;
    for _ in 0..3 {
        let response = app
            .post_json(
                "/api/v1/sessions",
                &json!({"login": "alice", "password": "wrong horse"}),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused until the window ends.
    let throttled = app
        .post_json(
            "/api/v1/sessions",
            &json!({"login": "Alice", "password": "correct horse"}),
            None,
        )
        .await;
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    expect_problem(throttled, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn logging_out_revokes_the_token_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.customer("alice").await;
    let other_device = app.customer_session("alice").await;

    let response = app
        .delete_as("/api/v1/sessions/current", Some(&alice.token))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get_as("/api/v1/users/me", &alice.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.delete_as("/api/v1/sessions/current", Some(&alice.token))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.delete_as("/api/v1/sessions/current", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // Only that session ended.
    expect_json(
        app.get_as("/api/v1/users/me", &other_device).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.customer("alice").await;
    let (token, token_hash) = new_token();
    sessions::insert(
        &mut app.db.connect(),
        &NewSession {
            user_id: alice.id as i32,
            token_hash: &token_hash,
            expires_at: Utc::now() - chrono::Duration::seconds(1),
        },
    )
    .unwrap();
    expect_problem(
        app.get_as("/api/v1/users/me", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // The next login sweeps the user's expired sessions away.
    app.customer_session("alice").await;
    let expired_left: i64 = {
        use diesel::prelude::*;
        use storefront::schema::sessions;
        sessions::table
            .filter(sessions::expires_at.le(diesel::dsl::now))
            .count()
            .get_result(&mut app.db.connect())
            .unwrap()
    };
    assert_eq!(expired_left, 0);
}

#[tokio::test]
async fn login_bodies_are_validated() {
    let app = TestApp::spawn().await;
    expect_problem(
        app.post_json("/api/v1/sessions", &json!({"login": "alice"}), None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post_json(
            "/api/v1/sessions",
            &json!({"login": "a", "password": "b", "user_id": 1}),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

impl TestApp {
    /// Another session for an existing user ("another device").
    async fn customer_session(&self, username: &str) -> String {
        self.log_in(username).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
