//! Payments of orders, as the service records them: the intents created at a provider,
//! and what the provider reports about them applied exactly once, however often and in
//! whatever order the reports arrive (the shopper's return, webhooks delivered at least
//! once, a reconciliation). Each report is applied in one transaction that locks the
//! order and then the payment (the order first, as every change to an order does, so a
//! report and a cancel cannot deadlock), and decides from the rows as they stand: the
//! first report of a capture pays the order, every later one finds the payment succeeded
//! and changes nothing.

use bigdecimal::BigDecimal;
use diesel::dsl::count_star;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use serde_json::json;

use super::orders::{lock_order, owner_of};
use super::ShopError;
use super::{events, refunds};
use crate::domain::{format_money, EventType};
use crate::models::{
    NewPayment, Order, OrderStatus, Payment, PaymentAttemptStatus, PaymentStatus, RefundSource,
};
use crate::schema::{orders, payments, processed_webhooks};

/// The statuses of a payment still open: the shopper may still pay it.
const OPEN: [PaymentAttemptStatus; 2] = [
    PaymentAttemptStatus::Pending,
    PaymentAttemptStatus::RequiresAction,
];

/// What paying an order starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStart {
    /// An open payment exists: the shopper goes on with it.
    Open(Payment),
    /// None is open: create an intent for the order's total, with this key.
    New {
        amount: BigDecimal,
        idempotency_key: String,
    },
}

/// Where paying `order_id` (its owner's, `user_id`) starts; `InvalidState` when the order
/// does not await payment, `NotFound` when it is not theirs.
pub fn start_payment(
    conn: &mut PgConnection,
    order_id: i32,
    user_id: i32,
) -> Result<PaymentStart, ShopError> {
    conn.transaction(|conn| {
        let order = owned_order(conn, order_id, user_id)?;
        refuse_unless_awaiting(&order)?;
        if let Some(open) = open_payment(conn, order_id)? {
            return Ok(PaymentStart::Open(open));
        }
        let attempts: i64 = payments::table
            .filter(payments::order_id.eq(order_id))
            .select(count_star())
            .first(conn)?;
        // The same key for every request that starts this attempt, so two racing requests
        // (or a retry after a timeout) get one intent; the order's creation time keeps
        // keys of a database rebuilt from scratch apart from the old one's.
        let idempotency_key = format!(
            "order-{order_id}-{}-attempt-{}",
            order.created_at.timestamp_micros(),
            attempts + 1
        );
        Ok(PaymentStart::New {
            amount: order.total,
            idempotency_key,
        })
    })
}

/// Records a new intent for an order still awaiting payment: `(payment, true)` when this
/// call recorded it, `(payment, false)` when it was there already (a racing request got
/// the same intent, or another open payment won).
pub fn record_payment(
    conn: &mut PgConnection,
    new: &NewPayment<'_>,
) -> Result<(Payment, bool), ShopError> {
    conn.transaction(|conn| {
        let order = lock_order(conn, new.order_id)?;
        refuse_unless_awaiting(&order)?;
        // In a savepoint: a violation of the one-open rule must leave the transaction usable.
        match conn.transaction(|conn| insert_intent(conn, new)) {
            Ok(inserted) => Ok((find_by_ref(conn, new.provider, new.provider_ref)?, inserted)),
            // Another intent is open for this order: the shopper goes on with that one.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
                if info.constraint_name() == Some("payments_one_open_per_order") =>
            {
                let open = open_payment(conn, new.order_id)?.ok_or(ShopError::NotFound)?;
                Ok((open, false))
            }
            Err(err) => Err(err.into()),
        }
    })
}

/// One payment of one of `user_id`'s orders (`None`: any order, for staff).
pub fn payment_of_order(
    conn: &mut PgConnection,
    order_id: i32,
    payment_id: i32,
    user_id: Option<i32>,
) -> Result<Payment, ShopError> {
    if let Some(user_id) = user_id {
        owned_order(conn, order_id, user_id)?;
    }
    payments::table
        .filter(payments::id.eq(payment_id))
        .filter(payments::order_id.eq(order_id))
        .select(Payment::as_select())
        .first(conn)
        .map_err(ShopError::from_not_found)
}

/// Records where an open payment is while the shopper is not done (`Pending` or
/// `RequiresAction`); a settled payment is left as it is.
pub fn set_open_status(
    conn: &mut PgConnection,
    payment_id: i32,
    status: PaymentAttemptStatus,
) -> QueryResult<()> {
    diesel::update(payments::table.find(payment_id))
        .filter(payments::status.eq_any(OPEN))
        .set(payments::status.eq(status))
        .execute(conn)
        .map(drop)
}

/// Records that an open payment was cancelled at the provider (its order no longer awaits
/// payment, and the shopper never finished).
pub fn mark_cancelled(conn: &mut PgConnection, payment_id: i32) -> QueryResult<()> {
    set_open_status(conn, payment_id, PaymentAttemptStatus::Cancelled)
}

/// Claims up to `batch` open payments due for a check with the provider, for the
/// reconciliation job: each is moved out of reach of other instances (`SKIP LOCKED`,
/// then `next_check_at` pushed forward) for as long as it has been open, between 30 s and
/// an hour, so a payment abandoned for days costs a check an hour.
pub fn claim_due_checks(conn: &mut PgConnection, batch: i64) -> QueryResult<Vec<Payment>> {
    diesel::sql_query(CLAIM_DUE_CHECKS)
        .bind::<BigInt, _>(batch)
        .load(conn)
}

const CLAIM_DUE_CHECKS: &str = "
    UPDATE payments p
    SET next_check_at = now() + LEAST(GREATEST(now() - p.created_at, interval '30 seconds'),
                                      interval '1 hour')
    WHERE p.id IN (
        SELECT id FROM payments
        WHERE status IN ('pending', 'requires_action') AND next_check_at <= now()
        ORDER BY next_check_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING p.id, p.order_id, p.provider, p.provider_ref, p.status, p.amount, p.currency,
              p.client_secret, p.confirm_url, p.captured_amount, p.requires_review,
              p.failure_reason, p.created_at, p.updated_at";

/// Whether `order_id` was cancelled (by its owner, staff, or its payment deadline).
pub fn is_cancelled(conn: &mut PgConnection, order_id: i32) -> QueryResult<bool> {
    orders::table
        .find(order_id)
        .select(orders::status)
        .first::<OrderStatus>(conn)
        .map(|status| status == OrderStatus::Cancelled)
}

fn is_awaiting(order: &Order) -> bool {
    order.status == OrderStatus::CheckedOut
        && order.payment_status == PaymentStatus::AwaitingPayment
}

fn refuse_unless_awaiting(order: &Order) -> Result<(), ShopError> {
    if is_awaiting(order) {
        return Ok(());
    }
    Err(ShopError::InvalidState(match order.status {
        OrderStatus::Cancelled => "The order is cancelled; it can no longer be paid.",
        _ => "The order does not await payment: it is paid already.",
    }))
}

/// `user_id`'s order `order_id`; `NotFound` for anyone else's.
fn owned_order(conn: &mut PgConnection, order_id: i32, user_id: i32) -> Result<Order, ShopError> {
    if owner_of(conn, order_id)? != Some(user_id) {
        return Err(ShopError::NotFound);
    }
    orders::table
        .find(order_id)
        .select(Order::as_select())
        .first(conn)
        .map_err(ShopError::from_not_found)
}

fn open_payment(conn: &mut PgConnection, order_id: i32) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .filter(payments::status.eq_any(OPEN))
        .select(Payment::as_select())
        .first(conn)
        .optional()
}

/// Records an intent created at a provider; recording the same intent again (a retried
/// request with the same idempotency key got the same intent) returns the row there is.
pub fn record_intent(conn: &mut PgConnection, new: &NewPayment<'_>) -> QueryResult<Payment> {
    insert_intent(conn, new)?;
    find_by_ref(conn, new.provider, new.provider_ref)
}

/// Inserts an intent's row unless the provider's intent has one: `true` when inserted.
fn insert_intent(conn: &mut PgConnection, new: &NewPayment<'_>) -> QueryResult<bool> {
    diesel::insert_into(payments::table)
        .values(new)
        .on_conflict((payments::provider, payments::provider_ref))
        .do_nothing()
        .execute(conn)
        .map(|inserted| inserted == 1)
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
    /// another way): a refund of all of it is recorded, to be sent.
    RefundDue,
}

/// Applies "the provider captured `captured` for this intent", once.
pub fn apply_capture(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
    captured: &BigDecimal,
) -> Result<CaptureApplied, ShopError> {
    conn.transaction(|conn| {
        let (order, payment) = lock_by_ref(conn, provider, provider_ref)?;
        if payment.status == PaymentAttemptStatus::Succeeded {
            return Ok(CaptureApplied::AlreadyApplied);
        }
        let requires_review = *captured != order.total || payment.amount != order.total;
        diesel::update(payments::table.find(payment.id))
            .set((
                payments::status.eq(PaymentAttemptStatus::Succeeded),
                payments::captured_amount.eq(captured),
                payments::requires_review.eq(requires_review),
            ))
            .execute(conn)?;
        if !is_awaiting(&order) {
            refunds::owe_remaining(conn, order.id, RefundSource::LateCapture, None)?;
            return Ok(CaptureApplied::RefundDue);
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
        events::record(
            conn,
            EventType::OrderPaid,
            json!({
                "order_id": order.id,
                "payment_id": payment.id,
                "amount": format_money(captured),
                "payment_status": PaymentStatus::Paid.as_str(),
            }),
        )?;
        Ok(CaptureApplied::Paid)
    })
}

/// Applies "the provider declined this intent": an open payment becomes `failed`, once
/// (`false` when it was not open: settled already, either way).
pub fn apply_failure(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
    reason: Option<&str>,
) -> Result<bool, ShopError> {
    conn.transaction(|conn| {
        let (_, payment) = lock_by_ref(conn, provider, provider_ref)?;
        if !OPEN.contains(&payment.status) {
            return Ok(false);
        }
        diesel::update(payments::table.find(payment.id))
            .set((
                payments::status.eq(PaymentAttemptStatus::Failed),
                payments::failure_reason.eq(reason.map(|reason| truncate(reason, 200))),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// At most `max` characters of `text`.
fn truncate(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(at, _)| &text[..at])
}

/// Locks the order of the payment `provider_ref`, then the payment: the order first, as
/// every change to an order does. (`FOR NO KEY UPDATE` on the payment, so recording a
/// refund of it, which takes a key-share lock through its foreign key, is not refused.)
fn lock_by_ref(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: &str,
) -> Result<(Order, Payment), ShopError> {
    let order_id: i32 = payments::table
        .filter(payments::provider.eq(provider))
        .filter(payments::provider_ref.eq(provider_ref))
        .select(payments::order_id)
        .first(conn)
        .map_err(ShopError::from_not_found)?;
    let order = lock_order(conn, order_id)?;
    let payment = payments::table
        .filter(payments::provider.eq(provider))
        .filter(payments::provider_ref.eq(provider_ref))
        .select(Payment::as_select())
        .for_no_key_update()
        .first(conn)
        .map_err(ShopError::from_not_found)?;
    Ok((order, payment))
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
