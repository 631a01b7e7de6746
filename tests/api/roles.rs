//! Database roles and migration checksums (DESIGN §8): the service serves as a role that
//! can read and write rows and nothing else, the owner migrates; an applied migration
//! whose `up.sql` changed stops the start.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use storefront::config::DatabaseUrl;

use crate::binary::{run_ok, start_binary, storefront};
use crate::common::{TestApp, TestDb};
use crate::helpers::expect_json;

/// A login role of its own, dropped (with what was granted to it) when the test ends.
struct AppRole {
    name: String,
}

impl AppRole {
    fn create() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "storefront_app_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin()
            .batch_execute(&format!("CREATE ROLE {name} LOGIN"))
            .unwrap();
        Self { name }
    }

    /// `db`'s URL, connecting as this role.
    fn url_for(&self, db: &TestDb) -> DatabaseUrl {
        let owner = db.url().expose();
        let (scheme, rest) = owner.split_once("://").unwrap();
        let host_and_db = rest.split_once('@').map_or(rest, |(_, after)| after);
        DatabaseUrl::parse(&format!("{scheme}://{}@{host_and_db}", self.name)).unwrap()
    }
}

impl Drop for AppRole {
    fn drop(&mut self) {
        // Its grants live in the test's database, dropped before this guard.
        let _ = admin().batch_execute(&format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

fn admin() -> PgConnection {
    let url = crate::common::server_url().with_database("postgres");
    PgConnection::establish(url.expose()).unwrap()
}

#[tokio::test]
async fn the_whole_api_works_as_the_granted_role_which_cannot_change_the_schema() {
    let db = Arc::new(TestDb::new());
    let role = AppRole::create();
    let granted = run_ok(&db, &["db", "grant-app-role", &role.name]);
    assert!(granted.contains(&role.name), "{granted}");
    // Idempotent.
    run_ok(&db, &["db", "grant-app-role", &role.name]);

    let role_url = role.url_for(&db);
    let app = TestApp::spawn_configured(db.clone(), |config| {
        config.database.url = role_url.clone();
    });
    let admin_user = app.admin("staff").await;
    let product = app.product(&admin_user, "Teapot", "Blue", "19.90", 5).await;
    let shopper = app.customer("shopper").await;
    let added = app
        .post_json(
            "/api/v1/cart/items",
            &json!({"product_id": product["id"], "quantity": 2}),
            Some(&shopper.token),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let order = expect_json(
        app.post_json("/api/v1/cart/checkout", &json!({}), Some(&shopper.token))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["status"], "checked_out");
    let failed_login = app
        .post_json(
            "/api/v1/sessions",
            &json!({"login": "shopper", "password": "wrong horse"}),
            None,
        )
        .await;
    assert_eq!(failed_login.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/products").await.status(), StatusCode::OK);

    let mut conn = PgConnection::establish(role_url.expose()).unwrap();
    for statement in [
        "DROP TABLE products",
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE products ADD COLUMN intruder int",
        "TRUNCATE sessions",
    ] {
        let err = conn.batch_execute(statement).unwrap_err().to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{statement}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_as_a_superuser_warns_and_the_granted_role_does_not() {
    let db = TestDb::new();
    let (mut server, _) = start_binary(&db, &[]).await;
    let _ = server.kill();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("is a superuser"), "{log}");
    assert!(log.contains("Database roles"), "{log}");

    let role = AppRole::create();
    run_ok(&db, &["db", "grant-app-role", &role.name]);
    let role_url = role.url_for(&db);
    let owner_url = db.url().expose().to_owned();
    let (mut server, _) = start_binary(
        &db,
        &[
            ("DATABASE_URL", role_url.expose()),
            ("DATABASE_MIGRATION_URL", &owner_url),
        ],
    )
    .await;
    let _ = server.kill();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!log.contains("Database roles"), "{log}");
}

fn status_of(db: &TestDb) -> String {
    run_ok(db, &["migrate", "status"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modified_migration_is_named_by_status_and_stops_the_start() {
    let db = TestDb::new();
    assert!(!status_of(&db).contains("modified"));
    let embedded: String = {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            sha256: String,
        }
        let row: Row = diesel::sql_query(
            "SELECT sha256::text AS sha256 FROM storefront_meta.migration_checksums
             WHERE version = '20261122170001'",
        )
        .get_result(&mut db.connect())
        .unwrap();
        row.sha256
    };
    // As if up.sql had been edited after this database applied it.
    let recorded = "0".repeat(64);
    db.connect()
        .batch_execute(&format!(
            "UPDATE storefront_meta.migration_checksums SET sha256 = '{recorded}'
             WHERE version = '20261122170001'"
        ))
        .unwrap();

    let status = status_of(&db);
    assert!(
        status.contains("modified 2026-11-22-170001_create_users"),
        "{status}"
    );
    assert_eq!(status.matches("modified").count(), 1, "{status}");

    let refused = storefront()
        .env("DATABASE_URL", db.url().expose())
        .env("BIND_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    for part in ["2026-11-22-170001_create_users", &recorded, &embedded] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }

    let (mut server, _) = start_binary(&db, &[("MIGRATIONS_ALLOW_MODIFIED", "true")]).await;
    let _ = server.kill();
    let log = String::from_utf8_lossy(&server.wait_with_output().unwrap().stderr).into_owned();
    assert!(log.contains("MIGRATIONS_ALLOW_MODIFIED=true"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_without_checksums_starts_cleanly_and_gets_them_recorded() {
    // As diesel_cli leaves a database: every migration applied, no checksum recorded.
    let db = TestDb::empty();
    {
        use diesel_migrations::MigrationHarness;
        let mut conn = db.connect();
        conn.run_pending_migrations(storefront::db::MIGRATIONS)
            .unwrap();
    }
    let status = status_of(&db);
    assert!(
        !status.contains("modified") && !status.contains("pending"),
        "{status}"
    );
    let (mut server, base) = start_binary(&db, &[]).await;
    assert_eq!(
        reqwest::get(format!("{base}/health/ready"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let _ = server.kill();
    let _ = server.wait();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let recorded: Count =
        diesel::sql_query("SELECT count(*) AS n FROM storefront_meta.migration_checksums")
            .get_result(&mut db.connect())
            .unwrap();
    let embedded = storefront::db::embedded_migrations_against(&[])
        .unwrap()
        .len();
    assert_eq!(recorded.n, embedded as i64);
}
