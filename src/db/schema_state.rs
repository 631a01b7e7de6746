//! Whether the database schema is known to be current. Until it is, API routes and
//! readiness answer 503 instead of querying tables that may not exist yet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared by the server (which reads it per request) and the thread that migrates.
#[derive(Clone)]
pub struct SchemaState(Arc<AtomicBool>);

impl SchemaState {
    pub fn ready() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    pub fn pending() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub fn mark_ready(&self) {
        self.0.store(true, Ordering::Release);
    }
}
