//! actix-http logs a request its parser cannot read (a malformed header or request line,
//! a head too large) at ERROR, as `stream error: request parse error: ...`, though the
//! client is at fault and has had its 400 (or 431). An ERROR should mean the server needs
//! looking at, so this layer drops that event and logs it again at INFO, the level nginx
//! gives a client's broken request. Every other event passes untouched.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Where actix-http's HTTP/1 dispatcher logs, and how it words a parse error.
const DISPATCHER: &str = "actix_http::h1::dispatcher";
const STREAM_ERROR: &str = "stream error: ";
const PARSE_ERROR: &str = "request parse error";

/// The layer. Anywhere in the stack: an event one layer disables reaches none.
pub struct ClientFaultsBelowError;

impl<S: Subscriber> Layer<S> for ClientFaultsBelowError {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() != Level::ERROR || metadata.target() != DISPATCHER {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        match message.0.strip_prefix(STREAM_ERROR) {
            Some(error) if error.starts_with(PARSE_ERROR) => {
                // Logging from inside the subscriber works with the global dispatcher
                // main.rs installs; a scoped one (as in-process tests use) would drop it.
                tracing::info!(
                    target: "storefront::client_faults",
                    %error,
                    "refused a request the HTTP parser could not read"
                );
                false
            }
            _ => true,
        }
    }
}

/// An event's `message` field, as text.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
