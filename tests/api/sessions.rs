//! `POST /api/v1/sessions` and `DELETE /api/v1/sessions/current`.

use std::sync::Arc;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use storefront::auth::new_token;
use storefront::models::NewSession;
use storefront::repository::sessions;

use crate::common::{TestApp, TestDb};
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

/// One login attempt's status.
async fn attempt(app: &TestApp, login: &str, password: &str) -> StatusCode {
    app.post_json(
        "/api/v1/sessions",
        &json!({ "login": login, "password": password }),
        None,
    )
    .await
    .status()
}

// The harness allows 3 failures per login name and per account, 20 per client address.
// Each test below uses up exactly one of the three while the other two have room, so each
// key is seen to fire on its own.

#[tokio::test]
async fn a_login_name_that_names_no_account_is_throttled_by_itself() {
    let app = TestApp::spawn().await;
    app.customer("alice").await;
    for _ in 0..3 {
        assert_eq!(
            attempt(&app, "ghost", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // No account to count against, the address has 16 attempts left: the name is spent.
    assert_eq!(
        attempt(&app, " GHOST ", "guess").await,
        StatusCode::TOO_MANY_REQUESTS,
        "counted as typed, ignoring case and surrounding space"
    );
    assert_eq!(
        attempt(&app, "phantom", "guess").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&app, "alice", "correct horse").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_username_and_the_email_share_one_allowance() {
    let app = TestApp::spawn().await;
    app.customer("alice").await;
    app.customer("bob").await;
    // Two guesses by username, one by email: three against the account, while neither
    // name has used up its own three.
    for login in ["alice", "alice", "alice@example.com"] {
        assert_eq!(
            attempt(&app, login, "wrong horse").await,
            StatusCode::UNAUTHORIZED
        );
    }
    for login in ["alice@example.com", "alice"] {
        assert_eq!(
            attempt(&app, login, "correct horse").await,
            StatusCode::TOO_MANY_REQUESTS,
            "{login}: the account is spent, even for the right password"
        );
    }
    // Another account from the same address is untouched.
    assert_eq!(attempt(&app, "bob", "correct horse").await, StatusCode::OK);
}

#[tokio::test]
async fn the_client_address_is_throttled_by_itself() {
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.login_throttle.max_failures_per_address = 4;
    });
    app.customer("bob").await;
    // Four names, one failure each (no account): only the address adds up.
    for n in 0..4 {
        let login = format!("nobody{n}");
        assert_eq!(
            attempt(&app, &login, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // A fresh name, a fresh account, the right password: the address is spent.
    let refused = app
        .post_json(
            "/api/v1/sessions",
            &json!({ "login": "bob", "password": "correct horse" }),
            None,
        )
        .await;
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_successful_login_clears_the_failures_of_its_name_and_account() {
    let app = TestApp::spawn().await;
    app.customer("alice").await;
    // Two failures by email, then the right password by username: that name and the
    // account start again from nothing...
    for _ in 0..2 {
        assert_eq!(
            attempt(&app, "alice@example.com", "wrong horse").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(&app, "alice", "correct horse").await,
        StatusCode::OK
    );
    // ... so the full allowance of three is there again, and no more.
    for _ in 0..3 {
        assert_eq!(
            attempt(&app, "alice", "wrong horse").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(&app, "alice", "wrong horse").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn an_unknown_login_takes_about_as_long_as_a_wrong_password() {
    // Room for every attempt: the throttle is not what is measured here.
    let app = TestApp::spawn_configured(Arc::new(TestDb::new()), |config| {
        config.login_throttle.max_failures = 1_000;
        config.login_throttle.max_failures_per_address = 1_000;
    });
    app.customer("alice").await;
    let timed = |login: String| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            let status = attempt(app, &login, "wrong horse").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            started.elapsed()
        }
    };
    let (mut wrong_password, mut unknown_login) = (Vec::new(), Vec::new());
    // Alternating, so a busy moment of the machine falls on both alike.
    for n in 0..30 {
        wrong_password.push(timed("alice".into()).await);
        unknown_login.push(timed(format!("nobody{n}")).await);
    }
    let median = |times: &mut Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2].as_secs_f64()
    };
    let ratio = median(&mut unknown_login) / median(&mut wrong_password);
    // Both check a password hash; an answer that skipped it would be many times faster.
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown login / wrong password median time: {ratio:.2}"
    );
}
