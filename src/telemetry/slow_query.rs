//! Logs queries slower than a threshold, through Diesel's connection instrumentation.
//! Only the SQL text is logged, never bind values (which may hold password hashes).

use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};

pub struct SlowQueryLog {
    threshold: Duration,
    started: Option<Instant>,
}

impl SlowQueryLog {
    pub fn new(threshold: Duration) -> Self {
        Self {
            threshold,
            started: None,
        }
    }
}

impl Instrumentation for SlowQueryLog {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.started = Some(Instant::now()),
            InstrumentationEvent::FinishQuery { query, error, .. } => {
                let Some(started) = self.started.take() else {
                    return;
                };
                let elapsed = started.elapsed();
                if elapsed >= self.threshold {
                    let text = query.to_string();
                    let sql = text.split(" -- binds:").next().unwrap_or_default().trim();
                    tracing::warn!(
                        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                        failed = error.is_some(),
                        sql,
                        "slow query"
                    );
                }
            }
            _ => {}
        }
    }
}
