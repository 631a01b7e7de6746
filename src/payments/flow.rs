//! Paying an order, step by step: start (an intent at the provider, recorded), settle
//! (ask the provider, capture what the shopper authorised, apply what it says), receive a
//! webhook, send refunds.

use diesel::Connection;

use super::error::PaymentError;
use crate::db::{with_conn, DbPool};
use crate::models::{NewPayment, Payment, PaymentAttemptStatus};
use crate::outbound::{
    IntentStatus, NewIntent, PaymentProvider, ProviderError, TestGateway, WebhookHeaders,
    WebhookKind,
};
use crate::repository::payments::{self, PaymentStart};
use crate::repository::refunds::{self, RefundToSend};
use crate::repository::ShopError;

/// The shop's currency: every price is in it.
pub const CURRENCY: &str = "EUR";

/// The payment providers the service takes payments through, by name. There is one, the
/// test gateway; a real provider is one more field, one more arm in [`Payments::provider`]
/// and one more implementation of [`PaymentProvider`].
#[derive(Debug, Clone)]
pub struct Payments {
    test: TestGateway,
}

/// Where a payment stands after the service asked its provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Captured and applied (by this call or an earlier one).
    Captured,
    /// The shopper has not finished (or must act again).
    Waiting,
    /// Declined, with the provider's reason.
    Declined(String),
    /// Cancelled: its order no longer awaits payment.
    Cancelled,
}

/// What a webhook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Applied,
    /// Its `webhook-id` was applied before: nothing changed.
    Duplicate,
}

impl Payments {
    pub fn new(test: TestGateway) -> Self {
        Self { test }
    }

    /// The provider called `name` (the `{provider}` of the routes).
    pub fn provider(&self, name: &str) -> Result<&TestGateway, PaymentError> {
        match name {
            "test" => Ok(&self.test),
            other => Err(PaymentError::UnknownProvider(other.to_owned())),
        }
    }

    /// Starts paying `user_id`'s order through `provider`: the open payment if there is
    /// one (`false`), else a new intent for the order's total, recorded (`true`). The
    /// intent is created under a key derived from the order and the attempt, so a retry
    /// after a timeout, or a racing request, gets the same intent.
    pub async fn start(
        &self,
        pool: &DbPool,
        provider: &str,
        order_id: i32,
        user_id: i32,
    ) -> Result<(Payment, bool), PaymentError> {
        let gateway = self.provider(provider)?;
        let start = with_conn(pool, move |conn| {
            Ok::<_, PaymentError>(payments::start_payment(conn, order_id, user_id)?)
        })
        .await?;
        let (amount, idempotency_key) = match start {
            PaymentStart::Open(payment) => return Ok((payment, false)),
            PaymentStart::New {
                amount,
                idempotency_key,
            } => (amount, idempotency_key),
        };
        let created = gateway
            .create_intent(NewIntent {
                amount: &amount,
                currency: CURRENCY,
                idempotency_key: &idempotency_key,
            })
            .await?;
        let provider_name = gateway.name();
        with_conn(pool, move |conn| {
            let new = NewPayment {
                order_id,
                provider: provider_name,
                provider_ref: &created.state.provider_ref,
                amount: &amount,
                currency: CURRENCY,
                client_secret: &created.client_secret,
                confirm_url: &created.confirm_url,
            };
            Ok(payments::record_payment(conn, &new)?)
        })
        .await
    }

    /// The shopper is back from the provider: settles one of their order's payments.
    pub async fn complete(
        &self,
        pool: &DbPool,
        order_id: i32,
        payment_id: i32,
        user_id: i32,
    ) -> Result<Settled, PaymentError> {
        let payment = with_conn(pool, move |conn| {
            Ok::<_, PaymentError>(payments::payment_of_order(
                conn,
                order_id,
                payment_id,
                Some(user_id),
            )?)
        })
        .await?;
        self.settle(pool, &payment).await
    }

    /// Asks the provider where `payment` is and applies it: captures an authorised intent
    /// (once: the key is the intent's), or cancels any open intent whose order was
    /// cancelled (so an expired order's abandoned intent stops being checked); records
    /// a capture, a decline or a cancel; sends any refund that results. (An order already
    /// paid is not a reason to cancel: a racing call with this same payment may have paid
    /// it, and the capture's key makes this capture that one.)
    pub async fn settle(&self, pool: &DbPool, payment: &Payment) -> Result<Settled, PaymentError> {
        match payment.status {
            PaymentAttemptStatus::Succeeded => {
                self.send_refunds_of(pool, payment.order_id).await;
                return Ok(Settled::Captured);
            }
            PaymentAttemptStatus::Failed => {
                return Ok(Settled::Declined(
                    payment.failure_reason.clone().unwrap_or_default(),
                ))
            }
            PaymentAttemptStatus::Cancelled => return Ok(Settled::Cancelled),
            PaymentAttemptStatus::Pending | PaymentAttemptStatus::RequiresAction => {}
        }
        let gateway = self.provider(&payment.provider)?;
        let provider_ref = payment.provider_ref.clone();
        let mut state = gateway.retrieve(&provider_ref).await?;
        let unsettled = matches!(
            state.status,
            IntentStatus::Authorized | IntentStatus::AwaitingShopper | IntentStatus::RequiresAction
        );
        if unsettled {
            let order_id = payment.order_id;
            let cancelled = with_conn(pool, move |conn| {
                Ok::<_, PaymentError>(payments::is_cancelled(conn, order_id)?)
            })
            .await?;
            if cancelled {
                // Nobody may pay for it any more: the intent goes, whether the shopper
                // authorised it or never came.
                state = match gateway
                    .cancel(&provider_ref, &format!("cancel-{provider_ref}"))
                    .await
                {
                    Ok(state) => state,
                    // Captured meanwhile by a call that saw the order before its cancel:
                    // apply what the intent is now (a capture: refunded at once).
                    Err(ProviderError::Rejected { .. }) => gateway.retrieve(&provider_ref).await?,
                    Err(err) => return Err(err.into()),
                };
            } else if state.status == IntentStatus::Authorized {
                state = gateway
                    .capture(&provider_ref, &format!("capture-{provider_ref}"))
                    .await?;
            }
        }
        let payment_id = payment.id;
        let provider = gateway.name();
        let settled = match state.status {
            IntentStatus::Captured => {
                let captured = state.captured_amount.clone();
                with_conn(pool, move |conn| {
                    Ok::<_, PaymentError>(payments::apply_capture(
                        conn,
                        provider,
                        &provider_ref,
                        &captured,
                    )?)
                })
                .await?;
                Settled::Captured
            }
            IntentStatus::Declined => {
                let reason = state
                    .decline_reason
                    .clone()
                    .unwrap_or_else(|| "declined".into());
                let recorded = reason.clone();
                with_conn(pool, move |conn| {
                    Ok::<_, PaymentError>(payments::apply_failure(
                        conn,
                        provider,
                        &provider_ref,
                        Some(&recorded),
                    )?)
                })
                .await?;
                Settled::Declined(reason)
            }
            IntentStatus::Cancelled => {
                with_conn(pool, move |conn| {
                    Ok::<_, PaymentError>(payments::mark_cancelled(conn, payment_id)?)
                })
                .await?;
                Settled::Cancelled
            }
            IntentStatus::RequiresAction | IntentStatus::AwaitingShopper => {
                let status = if state.status == IntentStatus::RequiresAction {
                    PaymentAttemptStatus::RequiresAction
                } else {
                    PaymentAttemptStatus::Pending
                };
                with_conn(pool, move |conn| {
                    Ok::<_, PaymentError>(payments::set_open_status(conn, payment_id, status)?)
                })
                .await?;
                Settled::Waiting
            }
            // Authorised but neither captured nor cancelled above: cannot happen.
            IntentStatus::Authorized => Settled::Waiting,
        };
        self.send_refunds_of(pool, payment.order_id).await;
        Ok(settled)
    }

    /// Verifies a webhook from `provider` and applies it, once per `webhook-id`: the id
    /// is claimed in the transaction that applies the event, so a delivery seen before
    /// (or one racing it on another instance) changes nothing.
    pub async fn receive_webhook(
        &self,
        pool: &DbPool,
        provider: &str,
        headers: WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookOutcome, PaymentError> {
        let gateway = self.provider(provider)?;
        let event = gateway
            .verify_webhook(headers, body, now)
            .map_err(PaymentError::Webhook)?;
        let provider = gateway.name();
        let intent_ref = event.intent_ref.clone();
        let (outcome, order_id) = with_conn(pool, move |conn| {
            conn.transaction::<_, ShopError, _>(|conn| {
                if !payments::claim_webhook(conn, provider, &event.id)? {
                    return Ok((WebhookOutcome::Duplicate, None));
                }
                let payment = payments::find_by_ref(conn, provider, &event.intent_ref)
                    .map_err(ShopError::from_not_found)?;
                match event.kind {
                    WebhookKind::PaymentSucceeded => {
                        payments::apply_capture(conn, provider, &event.intent_ref, &event.amount)
                            .map(drop)?;
                    }
                    WebhookKind::PaymentFailed => {
                        payments::apply_failure(conn, provider, &event.intent_ref, None)
                            .map(drop)?;
                    }
                    // Refunds are recorded when the service makes them; the event only
                    // confirms one, and other types are not this service's business.
                    WebhookKind::RefundSucceeded | WebhookKind::Other(_) => {}
                }
                Ok((WebhookOutcome::Applied, Some(payment.order_id)))
            })
            .map_err(PaymentError::from)
        })
        .await?;
        if let Some(order_id) = order_id {
            self.send_refunds_of(pool, order_id).await;
        }
        tracing::debug!(intent = %intent_ref, ?outcome, "payment webhook");
        Ok(outcome)
    }

    /// Sends the order's pending refunds now. One the provider cannot take now stays
    /// pending for the reconciliation job; the caller's answer does not wait on it.
    pub async fn send_refunds_of(&self, pool: &DbPool, order_id: i32) {
        let pending = with_conn(pool, move |conn| {
            Ok::<_, PaymentError>(refunds::pending_of_order(conn, order_id)?)
        })
        .await;
        match pending {
            Ok(pending) => {
                for refund in pending {
                    self.send_refund(pool, refund).await;
                }
            }
            Err(err) => tracing::warn!(order_id, %err, "cannot read refunds to send"),
        }
    }

    /// Sends one refund under its own key and records the answer; an outage leaves it
    /// pending (logged), to be sent again.
    pub async fn send_refund(&self, pool: &DbPool, refund: RefundToSend) {
        let Ok(gateway) = self.provider(&refund.provider) else {
            tracing::error!(refund = refund.refund_id, provider = %refund.provider, "refund through an unknown provider");
            return;
        };
        let key = format!("refund-{}-{}", refund.provider_ref, refund.refund_id);
        let answer = gateway
            .refund(&refund.provider_ref, &refund.amount, &key)
            .await;
        let made = match answer {
            Ok(made) => Some(made.refund_ref),
            Err(ProviderError::Rejected {
                status,
                code,
                message,
            }) => {
                tracing::error!(refund = refund.refund_id, status, %code, %message, "the provider refused a refund");
                None
            }
            Err(err) => {
                tracing::warn!(refund = refund.refund_id, %err, "refund not sent yet; it will be retried");
                return;
            }
        };
        let refund_id = refund.refund_id;
        let recorded = with_conn(pool, move |conn| {
            Ok::<_, PaymentError>(refunds::settle(conn, refund_id, made.as_deref())?)
        })
        .await;
        if let Err(err) = recorded {
            tracing::warn!(refund = refund_id, %err, "refund sent but not recorded yet; it will be checked again");
        }
    }
}
