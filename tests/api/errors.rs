//! Errors outside any handler: unknown paths and wrong methods answer problem+json too.

use crate::common::TestApp;

#[tokio::test]
async fn unknown_paths_are_404_problem_json() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/api/v1/nope", "/health"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["type"], "/problems/not_found");
        assert!(body["title"].is_string() && body["detail"].is_string());
    }
}

#[tokio::test]
async fn wrong_methods_are_405_problem_json() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
}
