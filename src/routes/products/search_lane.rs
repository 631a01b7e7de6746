//! Admission for searches whose cost grows with their matches.
//!
//! A one-word relevance search reads its page from an index and stops there; any other
//! search (several words, a phrase, an exclusion, or ordered by price or age) finds and
//! orders every match, and a client can make that most of the catalogue with a
//! 200-character query. Those run at most `SEARCH_MAX_CONCURRENT` at a time, so a flood
//! of them holds that many connections and cores, not all; one that would wait longer than
//! `SEARCH_QUEUE_TIMEOUT_MS` gets a 503 with Retry-After instead of queueing.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::SearchConcurrency;
use crate::http::ApiError;

pub struct SearchLane {
    permits: Semaphore,
    queue_timeout: Duration,
}

impl SearchLane {
    pub fn new(settings: SearchConcurrency) -> Self {
        Self {
            permits: Semaphore::new(settings.max_concurrent.max(1) as usize),
            queue_timeout: settings.queue_timeout,
        }
    }

    /// A turn in the lane, held until the permit is dropped.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        tokio::time::timeout(self.queue_timeout, self.permits.acquire())
            .await
            .map_err(|_| {
                ApiError::Overloaded(format!(
                    "no turn for a search that visits every match within {:?}",
                    self.queue_timeout
                ))
            })?
            .map_err(|_| ApiError::Internal("search semaphore closed".into()))
    }
}
