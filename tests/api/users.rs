//! `POST /api/v1/users` and `GET /api/v1/users/me`.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;
use crate::helpers::{error_fields, expect_json, expect_problem};

#[tokio::test]
async fn registering_returns_the_user_without_any_password() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "alice", "email": "Alice@Example.com", "password": "correct horse"}),
            None,
        )
        .await;
    assert_eq!(response.headers()["location"], "/api/v1/users/me");
    let user = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "Alice@Example.com");
    assert_eq!(user["is_admin"], false);
    assert!(user["id"].is_i64());
    for timestamp in ["created_at", "updated_at"] {
        let text = user[timestamp].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    }
    let fields: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "email",
            "id",
            "is_admin",
            "name",
            "updated_at",
            "username"
        ]
    );
    assert!(!user.to_string().contains("correct horse"));
}

#[tokio::test]
async fn each_invalid_field_is_named_in_a_422() {
    let app = TestApp::spawn().await;
    for (body, fields) in [
        (
            json!({"username": "ab", "email": "a@b.co", "password": "correct horse"}),
            vec!["username"],
        ),
        (
            json!({"username": "has space", "email": "a@b.co", "password": "correct horse"}),
            vec!["username"],
        ),
        (
            json!({"username": "x".repeat(51), "email": "a@b.co", "password": "correct horse"}),
            vec!["username"],
        ),
        (
            json!({"username": "okname", "email": "not-an-email", "password": "correct horse"}),
            vec!["email"],
        ),
        (
            json!({"username": "okname", "email": "a@b.co", "password": "short"}),
            vec!["password"],
        ),
        (
            json!({"username": "okname", "email": "a@b.co", "password": "p".repeat(129)}),
            vec!["password"],
        ),
        (
            json!({"username": "a", "email": "b", "password": "c"}),
            vec!["username", "email", "password"],
        ),
    ] {
        let problem = expect_problem(
            app.post_json("/api/v1/users", &body, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    assert_eq!(user_count(&app), 0, "nothing was created");
}

fn user_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    storefront::schema::users::table
        .count()
        .get_result(&mut app.db.connect())
        .unwrap()
}

#[tokio::test]
async fn extra_fields_such_as_is_admin_are_rejected_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    for extra in [
        json!({"is_admin": true}),
        json!({"id": 1}),
        json!({"user_id": 7}),
    ] {
        let mut body =
            json!({"username": "mallory", "email": "m@example.com", "password": "correct horse"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let problem = expect_problem(
            app.post_json("/api/v1/users", &body, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let field = extra.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(error_fields(&problem), [field]);
    }
    assert_eq!(user_count(&app), 0);
}

#[tokio::test]
async fn a_taken_username_or_email_in_any_case_is_409_naming_each() {
    let app = TestApp::spawn().await;
    app.customer("alice").await;
    for (username, email, taken) in [
        ("alice", "other@example.com", &["username"][..]),
        ("alice2", "ALICE@example.COM", &["email"]),
        ("alice", "Alice@Example.com", &["username", "email"]),
    ] {
        let problem = expect_problem(
            app.post_json(
                "/api/v1/users",
                &json!({"username": username, "email": email, "password": "correct horse"}),
                None,
            )
            .await,
            StatusCode::CONFLICT,
            "already_exists",
        )
        .await;
        assert_eq!(error_fields(&problem), taken, "{username} {email}");
    }
    assert_eq!(user_count(&app), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_oversized_ones_413() {
    let app = TestApp::spawn().await;
    let malformed = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(r#"{"username": "#)
        .send()
        .await
        .unwrap();
    expect_problem(malformed, StatusCode::BAD_REQUEST, "bad_request").await;

    let wrong_type = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "text/plain")
        .body(r#"{"username":"bob","email":"b@b.co","password":"correct horse"}"#)
        .send()
        .await
        .unwrap();
    expect_problem(wrong_type, StatusCode::BAD_REQUEST, "bad_request").await;

    let not_an_object = app.post_json("/api/v1/users", &json!([1, 2]), None).await;
    expect_problem(
        not_an_object,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let huge = json!({"username": "bob", "email": "b@b.co", "password": "x".repeat(100_000)});
    expect_problem(
        app.post_json("/api/v1/users", &huge, None).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_eq!(user_count(&app), 0);
}

#[tokio::test]
async fn me_returns_the_token_holder_and_401_without_a_valid_token() {
    let app = TestApp::spawn().await;
    let alice = app.customer("alice").await;
    let me = expect_json(
        app.get_as("/api/v1/users/me", &alice.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["id"], alice.id);

    let missing = app.get("/api/v1/users/me").await;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    expect_problem(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for token in [
        "garbage",
        "",
        &alice.token[1..],
        &format!("{}x", &alice.token[1..]),
    ] {
        expect_problem(
            app.get_as("/api/v1/users/me", token).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    let basic = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("authorization", format!("Basic {}", alice.token))
        .send()
        .await
        .unwrap();
    expect_problem(basic, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_name_defaults_to_the_username_and_can_be_given_and_changed() {
    let app = TestApp::spawn().await;
    let defaulted = expect_json(
        app.post_json(
            "/api/v1/users",
            &json!({"username": "alice", "email": "alice@example.com", "password": "correct horse"}),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(defaulted["name"], "alice");
    let given = expect_json(
        app.post_json(
            "/api/v1/users",
            &json!({"username": "bob", "email": "bob@example.com", "password": "correct horse",
                    "name": "  Bob Bobson "}),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(given["name"], "Bob Bobson");

    let token = app.log_in("alice").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = expect_json(
        app.patch_json(
            "/api/v1/users/me",
            &json!({"name": "Alice Liddell"}),
            Some(&token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["name"], "Alice Liddell");
    let me = expect_json(app.get_as("/api/v1/users/me", &token).await, StatusCode::OK).await;
    assert_eq!(me["name"], "Alice Liddell");
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn an_empty_blank_or_too_long_name_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.customer("alice").await;
    for bad in [
        json!(""),
        json!("   "),
        json!("x".repeat(256)),
        json!(null),
        json!(7),
    ] {
        let response = app
            .patch_json(
                "/api/v1/users/me",
                &json!({ "name": bad }),
                Some(&alice.token),
            )
            .await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["name"], "{bad}");
    }
    let registered = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "carol", "email": "carol@example.com", "password": "correct horse",
                    "name": " "}),
            None,
        )
        .await;
    let problem = expect_problem(
        registered,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"]);
    let me = expect_json(
        app.get_as("/api/v1/users/me", &alice.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["name"], "alice");
    // Without a token: 401 before any word about the body.
    let anonymous = app
        .patch_json("/api/v1/users/me", &json!({ "name": "" }), None)
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
