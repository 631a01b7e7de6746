//! Background work that every instance runs. Each job is a small function over a pooled
//! connection that claims its rows in the database (`FOR UPDATE SKIP LOCKED`), so any
//! number of instances share the work with no leader and no in-memory timer per row: an
//! instance that dies leaves nothing behind that another would not pick up. One runner
//! ([`spawn`]) drives them all and stops them when the instance starts draining.
//!
//! Below the HTTP edge: jobs know the database, configuration and metrics, never actix-web.

pub mod orders;
pub mod payments;
pub mod relay;
mod runner;
pub mod sweeps;

pub use runner::{spawn, Job};
