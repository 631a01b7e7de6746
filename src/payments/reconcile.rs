//! The reconciliation round: payments that neither the shopper's return nor a webhook
//! has settled (a timeout, an outage, a shopper who closed the tab after paying), and
//! refunds the provider has not confirmed, are taken up again. Every instance runs it;
//! each row is claimed in the database (`FOR UPDATE SKIP LOCKED`, then its next check
//! moved on), and whatever is sent goes under the same idempotency keys as before, so a
//! payment is still captured once.

use super::error::PaymentError;
use super::flow::Payments;
use crate::db::{with_conn, DbPool};
use crate::repository::{payments, refunds};

/// One round: settles up to `batch` due payments and sends up to `batch` due refunds;
/// returns how many rows it took up.
pub async fn reconcile_round(
    payments_flow: &Payments,
    pool: &DbPool,
    batch: i64,
) -> Result<usize, PaymentError> {
    let due = with_conn(pool, move |conn| {
        Ok::<_, PaymentError>(payments::claim_due_checks(conn, batch)?)
    })
    .await?;
    let mut handled = due.len();
    for payment in due {
        if let Err(err) = payments_flow.settle(pool, &payment).await {
            tracing::warn!(payment = payment.id, %err, "reconciliation could not settle a payment yet");
        }
    }
    let refunds_due = with_conn(pool, move |conn| {
        Ok::<_, PaymentError>(refunds::claim_due(conn, batch)?)
    })
    .await?;
    handled += refunds_due.len();
    for refund in refunds_due {
        payments_flow.send_refund(pool, refund).await;
    }
    Ok(handled)
}
