//! The service's side of taking payments: it creates intents at a provider, settles them
//! when the shopper comes back, when a webhook arrives or when the reconciliation job
//! asks, and sends refunds. Every way in ends in the same repository calls, which lock
//! the order and decide from the rows as they stand, so each payment is captured once
//! (the provider's idempotency keys) and applied once (the row locks and the webhook
//! inbox), in whatever order and on whichever instance the reports arrive.
//!
//! Below the HTTP edge: it knows the database, the provider client and the rows, never
//! actix-web.

mod error;
mod flow;
mod reconcile;

pub use error::PaymentError;
pub use flow::{Payments, Settled, WebhookOutcome, CURRENCY};
pub use reconcile::reconcile_round;
