//! Background jobs: every instance runs them, each round claims its rows in the database,
//! and their work shows in `/metrics`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::common::TestApp;
use crate::helpers::eventually;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn counters(app: &TestApp, filter: &str) -> i64 {
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM throttle_counters WHERE {filter}"
    ))
    .get_result::<Count>(&mut app.db.connect())
    .unwrap()
    .n
}

/// The value of the Prometheus sample whose line starts with `series`, or 0.
async fn sample(app: &TestApp, series: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_sweep_job_deletes_a_backlog_of_ended_throttle_windows_and_keeps_live_ones() {
    let app = TestApp::spawn().await;
    // More than one round's batch, so the job must run again at once to clear it.
    app.db
        .connect()
        .batch_execute(
            "INSERT INTO throttle_counters (key, attempts, expires_at)
             SELECT 'address:10.0.' || n, 3, now() - interval '1 second'
             FROM generate_series(1, 1200) AS n;
             INSERT INTO throttle_counters (key, attempts, expires_at)
             VALUES ('login:alice', 2, now() + interval '1 hour');",
        )
        .unwrap();
    let sweeper = TestApp::spawn_configured(app.db.clone(), |config| {
        config.sweep_interval = Duration::from_millis(100);
    });

    eventually("every ended window is swept", || {
        counters(&app, "expires_at <= now()") == 0
    })
    .await;

    assert_eq!(counters(&app, "key = 'login:alice'"), 1);
    let swept = sample(
        &sweeper,
        "background_job_rows_total{job=\"sweep_throttle_counters\"}",
    )
    .await;
    assert_eq!(swept, 1200);
    let failed = sample(
        &sweeper,
        "background_job_rounds_total{job=\"sweep_throttle_counters\",outcome=\"error\"}",
    )
    .await;
    assert_eq!(failed, 0);
}
