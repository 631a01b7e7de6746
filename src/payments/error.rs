//! What can go wrong while taking a payment, for the edge to answer.

use crate::db::DbError;
use crate::outbound::{ProviderError, WebhookError};
use crate::repository::ShopError;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// A rule of the order or the payment (not found, invalid state, too much to refund).
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Database(#[from] DbError),
    /// The provider did not answer in time, or could not: nothing was recorded that a
    /// retry (or the reconciliation job) does not finish.
    #[error("payment provider unavailable: {0}")]
    ProviderUnavailable(String),
    /// The provider refused a call the service should never have made, or answered with
    /// something unreadable: a bug on one side, logged in full.
    #[error("payment provider error: {0}")]
    Provider(String),
    /// The shopper's payment method was declined, with the provider's reason.
    #[error("payment declined: {0}")]
    Declined(String),
    /// A webhook whose signature or timestamp does not hold.
    #[error("webhook refused: {0}")]
    Webhook(WebhookError),
    /// No provider of that name.
    #[error("no payment provider {0:?}")]
    UnknownProvider(String),
}

impl From<ProviderError> for PaymentError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::Unavailable(cause) => Self::ProviderUnavailable(cause),
            other => Self::Provider(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for PaymentError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Shop(ShopError::from(err))
    }
}
