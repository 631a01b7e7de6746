//! Payments of orders, as the service records them: the intents created at a provider,
//! and what the provider reports about them applied exactly once, however often and in
//! whatever order the reports arrive (the shopper's return, webhooks delivered at least
//! once, a reconciliation). Each report is applied in one transaction that locks the
//! payment and then its order, and decides from the rows as they stand: the first report
//! of a capture pays the order, every later one finds the payment succeeded and changes
//! nothing.

use bigdecimal::BigDecimal;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::ShopError;
use crate::models::{NewPayment, Order, OrderStatus, Payment, PaymentAttemptStatus, PaymentStatus};
use crate::schema::{orders, payments, processed_webhooks};

/// Records an intent created at a provider; recording the same intent again (a retried
/// request with the same idempotency key got the same intent) returns the row there is.
pub fn record_intent(conn: &mut PgConnection, new: &NewPayment<'_>) -> QueryResult<Payment> {
    diesel::insert_into(payments::table)
        .values(new)
        .on_conflict((payments::provider, payments::provider_ref))
        .do_nothing()
        .execute(conn)?;
    find_by_ref(conn, new.provider, new.provider_ref)
}

pub fn find_by_ref(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
) -> QueryResult<Payment> {
    payments::table
        .filter(payments::provider.eq(provider))
        .filter(payments::provider_ref.eq(provider_ref))
        .select(Payment::as_select())
        .first(conn)
}

/// An order's payments, oldest first.
pub fn payments_of(conn: &mut PgConnection, order_id: i32) -> QueryResult<Vec<Payment>> {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .order(payments::id)
        .select(Payment::as_select())
        .load(conn)
}

/// What applying a capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureApplied {
    /// The order is paid now: this report was the first.
    Paid,
    /// An earlier report was applied already: nothing changed.
    AlreadyApplied,
    /// Captured, but not what the order charges: flagged `requires_review`, the order
    /// left unpaid.
    NeedsReview,
    /// Captured for an order that no longer awaits payment (cancelled, expired, or paid
    /// another way): the money must go back, `amount` of it.
    RefundDue { payment_id: i32, amount: BigDecimal },
}

/// Applies "the provider captured `captured` for this intent", once.
pub fn apply_capture(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
    captured: &BigDecimal,
) -> Result<CaptureApplied, ShopError> {
    conn.transaction(|conn| {
        let payment = lock_by_ref(conn, provider, provider_ref)?;
        if payment.status == PaymentAttemptStatus::Succeeded {
            return Ok(CaptureApplied::AlreadyApplied);
        }
        let order: Order = orders::table
            .find(payment.order_id)
            .select(Order::as_select())
            .for_update()
            .first(conn)?;
        let requires_review = *captured != order.total || payment.amount != order.total;
        diesel::update(payments::table.find(payment.id))
            .set((
                payments::status.eq(PaymentAttemptStatus::Succeeded),
                payments::captured_amount.eq(captured),
                payments::requires_review.eq(requires_review),
            ))
            .execute(conn)?;
        let awaiting = order.status == OrderStatus::CheckedOut
            && order.payment_status == PaymentStatus::AwaitingPayment;
        if !awaiting {
            return Ok(CaptureApplied::RefundDue {
                payment_id: payment.id,
                amount: captured.clone(),
            });
        }
        if requires_review {
            return Ok(CaptureApplied::NeedsReview);
        }
        diesel::update(orders::table.find(order.id))
            .set((
                orders::payment_status.eq(PaymentStatus::Paid),
                orders::payment_due_at.eq(None::<chrono::DateTime<chrono::Utc>>),
            ))
            .execute(conn)?;
        Ok(CaptureApplied::Paid)
    })
}

/// Applies "the provider declined this intent": a pending payment becomes `failed`, once
/// (`false` when it was not pending: settled already, either way).
pub fn apply_failure(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
    reason: Option<&str>,
) -> Result<bool, ShopError> {
    conn.transaction(|conn| {
        let payment = lock_by_ref(conn, provider, provider_ref)?;
        if !matches!(
            payment.status,
            PaymentAttemptStatus::Pending | PaymentAttemptStatus::RequiresAction
        ) {
            return Ok(false);
        }
        diesel::update(payments::table.find(payment.id))
            .set((
                payments::status.eq(PaymentAttemptStatus::Failed),
                payments::failure_reason.eq(reason),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

fn lock_by_ref(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
) -> Result<Payment, ShopError> {
    payments::table
        .filter(payments::provider.eq(provider))
        .filter(payments::provider_ref.eq(provider_ref))
        .select(Payment::as_select())
        .for_update()
        .first(conn)
        .map_err(ShopError::from_not_found)
}

/// Claims a webhook delivery by its id, in the caller's transaction: `true` the first
/// time (apply it in the same transaction), `false` for one seen before (change
/// nothing). A concurrent duplicate waits until the first one's transaction ends: if it
/// committed, the duplicate is refused; if it rolled back, the duplicate applies it.
pub fn claim_webhook(
    conn: &mut PgConnection,
    provider: &str,
    webhook_id: &str,
) -> QueryResult<bool> {
    diesel::insert_into(processed_webhooks::table)
        .values((
            processed_webhooks::provider.eq(provider),
            processed_webhooks::webhook_id.eq(webhook_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|inserted| inserted == 1)
}
