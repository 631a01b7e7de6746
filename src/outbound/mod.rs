//! HTTP out: the clients the service calls other systems with. Each knows the wire format
//! of what it calls and nothing of the service's own HTTP edge (no actix, no `ApiError`):
//! it returns its own errors, which the edge or a job maps.

pub mod payments;
pub mod test_gateway;
pub mod webhooks;

pub use payments::{
    IntentCreated, IntentState, IntentStatus, NewIntent, PaymentProvider, ProviderError, Refunded,
    WebhookError, WebhookEvent, WebhookHeaders, WebhookKind,
};
pub use test_gateway::TestGateway;
