//! `/health/live` and `/health/ready`.

use crate::common::TestApp;

#[tokio::test]
async fn liveness_answers_ok() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/live").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readiness_pings_the_database_and_reports_the_pool() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "up");
    assert_eq!(body["replica"], "none");
    assert_eq!(body["pool"]["max_size"], 4);
    assert!(body["pool"]["connections"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn readiness_is_503_problem_json_once_the_database_is_gone() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/health/ready").await.status(), 200);

    // Drop the database under the running server: pooled connections are terminated
    // and new ones cannot be made.
    let mut admin = {
        use diesel::Connection;
        diesel::PgConnection::establish(
            crate::common::server_url()
                .with_database("postgres")
                .expose(),
        )
        .unwrap()
    };
    use diesel::connection::SimpleConnection;
    admin
        .batch_execute(&format!("DROP DATABASE \"{}\" WITH (FORCE)", app.db.name()))
        .unwrap();

    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(body["status"], 503);
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health/live").await.status(), 200);
}
