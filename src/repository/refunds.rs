//! Refunds: money given back on an order's captured payments. A refund is decided and
//! recorded (`pending`) in a transaction that holds the order's row lock, so the sum of
//! refunds can never pass what was captured, however many requests race; it is then sent
//! to the provider, by the request that decided it or by the reconciliation job, under a
//! key of its own, so however often it is sent the provider refunds it once.

use bigdecimal::{BigDecimal, Zero};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use serde_json::json;

use super::events;
use super::orders::lock_order;
use super::ShopError;
use crate::domain::{format_money, EventType};
use crate::models::{
    NewRefund, Payment, PaymentAttemptStatus, PaymentStatus, Refund, RefundSource, RefundStatus,
};
use crate::schema::{orders, payments, refunds};

/// A refund staff asked for.
#[derive(Debug, Clone, Copy)]
pub struct RefundRequest<'a> {
    pub amount: &'a BigDecimal,
    pub reason: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub admin_id: i32,
}

/// What a refund request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRecorded {
    /// Recorded now, to be sent.
    New(Refund),
    /// The same key made this refund before (a retried request): nothing new.
    Replayed(Refund),
}

/// Records a refund of `request.amount` on the order (staff only; the caller checks).
/// `InvalidState` when nothing was captured; `Invalid` (`amount`) beyond what is left to
/// refund; the same key with another amount is `Invalid` (`Idempotency-Key`).
pub fn request_refund(
    conn: &mut PgConnection,
    order_id: i32,
    request: RefundRequest<'_>,
) -> Result<RefundRecorded, ShopError> {
    conn.transaction(|conn| {
        lock_order(conn, order_id)?;
        let earlier = refunds::table
            .filter(refunds::order_id.eq(order_id))
            .filter(refunds::idempotency_key.eq(request.idempotency_key))
            .select(Refund::as_select())
            .first(conn)
            .optional()?;
        if let Some(earlier) = earlier {
            if earlier.amount != *request.amount {
                return Err(ShopError::Invalid(vec![(
                    "Idempotency-Key",
                    "was already used for a refund of another amount; send a new key".into(),
                )]));
            }
            return Ok(RefundRecorded::Replayed(earlier));
        }
        let refundable = refundable_payments(conn, order_id)?;
        if refundable.is_empty() {
            return Err(ShopError::InvalidState(
                "Nothing was captured on this order, or all of it is refunded already.",
            ));
        }
        // One refund comes from one payment: the first with enough left.
        let Some((payment, _)) = refundable.iter().find(|(_, left)| left >= request.amount) else {
            let left = refundable.iter().map(|(_, left)| left).max().cloned();
            return Err(ShopError::Invalid(vec![(
                "amount",
                format!(
                    "is more than is left to refund ({})",
                    crate::domain::format_money(&left.unwrap_or_default())
                ),
            )]));
        };
        let refund = diesel::insert_into(refunds::table)
            .values(NewRefund {
                order_id,
                payment_id: payment.id,
                amount: request.amount,
                reason: request.reason,
                source: RefundSource::Admin,
                idempotency_key: Some(request.idempotency_key),
                requested_by: Some(request.admin_id),
            })
            .returning(Refund::as_returning())
            .get_result(conn)?;
        refresh_payment_status(conn, order_id)?;
        record_refunded(conn, order_id, refund.id, &refund.amount)?;
        Ok(RefundRecorded::New(refund))
    })
}

/// Records, in the caller's transaction (which holds the order's lock), a refund of what
/// is left on each captured payment of the order, as `source`: a cancel, or a capture
/// that came after the order stopped awaiting payment. Each payment is refunded so once
/// (`refunds_one_automatic_per_payment`).
pub fn owe_remaining(
    conn: &mut PgConnection,
    order_id: i32,
    source: RefundSource,
    reason: Option<&str>,
) -> QueryResult<()> {
    let mut owed = Vec::new();
    for (payment, left) in refundable_payments(conn, order_id)? {
        let inserted: Option<i32> = diesel::insert_into(refunds::table)
            .values(NewRefund {
                order_id,
                payment_id: payment.id,
                amount: &left,
                reason,
                source,
                idempotency_key: None,
                requested_by: None,
            })
            .on_conflict_do_nothing()
            .returning(refunds::id)
            .get_result(conn)
            .optional()?;
        owed.extend(inserted.map(|id| (id, left)));
    }
    refresh_payment_status(conn, order_id)?;
    for (refund_id, amount) in owed {
        record_refunded(conn, order_id, refund_id, &amount)?;
    }
    Ok(())
}

/// `order.refunded`, with the order's payment status after the refund.
fn record_refunded(
    conn: &mut PgConnection,
    order_id: i32,
    refund_id: i32,
    amount: &BigDecimal,
) -> QueryResult<()> {
    let payment_status: PaymentStatus = orders::table
        .find(order_id)
        .select(orders::payment_status)
        .first(conn)?;
    events::record(
        conn,
        EventType::OrderRefunded,
        json!({
            "order_id": order_id,
            "refund_id": refund_id,
            "amount": format_money(amount),
            "payment_status": payment_status.as_str(),
        }),
    )
    .map(drop)
}

/// The order's captured payments with what is left to refund on each (more than zero),
/// oldest first. Pending refunds count as given: they will be.
fn refundable_payments(
    conn: &mut PgConnection,
    order_id: i32,
) -> QueryResult<Vec<(Payment, BigDecimal)>> {
    let captured: Vec<Payment> = payments::table
        .filter(payments::order_id.eq(order_id))
        .filter(payments::status.eq(PaymentAttemptStatus::Succeeded))
        .order(payments::id)
        .select(Payment::as_select())
        .load(conn)?;
    let given: Vec<(i32, BigDecimal)> = refunds::table
        .filter(refunds::order_id.eq(order_id))
        .filter(refunds::status.ne(RefundStatus::Failed))
        .select((refunds::payment_id, refunds::amount))
        .load(conn)?;
    Ok(captured
        .into_iter()
        .filter_map(|payment| {
            let refunded: BigDecimal = given
                .iter()
                .filter(|(id, _)| *id == payment.id)
                .map(|(_, amount)| amount)
                .sum();
            let left = &payment.captured_amount - refunded;
            (left > BigDecimal::zero()).then_some((payment, left))
        })
        .collect())
}

/// Sets a paid (or voided, then captured) order's `payment_status` from its refunds:
/// `refunded` once they cover what was captured, else `partially_refunded`. An order
/// still awaiting payment keeps it (a refund of a payment under review does not pay it).
fn refresh_payment_status(conn: &mut PgConnection, order_id: i32) -> QueryResult<()> {
    diesel::sql_query(REFRESH_PAYMENT_STATUS)
        .bind::<Integer, _>(order_id)
        .execute(conn)
        .map(drop)
}

const REFRESH_PAYMENT_STATUS: &str = "
    UPDATE orders o
    SET payment_status = CASE WHEN r.refunded >= c.captured THEN 'refunded'
                              ELSE 'partially_refunded' END
    FROM (SELECT COALESCE(SUM(captured_amount), 0) AS captured
          FROM payments WHERE order_id = $1 AND status = 'succeeded') c,
         (SELECT COALESCE(SUM(amount), 0) AS refunded
          FROM refunds WHERE order_id = $1 AND status <> 'failed') r
    WHERE o.id = $1 AND c.captured > 0 AND r.refunded > 0
      AND o.payment_status IN ('paid', 'partially_refunded', 'refunded', 'voided')";

/// A refund to send, with the intent it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundToSend {
    pub refund_id: i32,
    pub amount: BigDecimal,
    pub provider: String,
    pub provider_ref: String,
}

/// The order's refunds not yet confirmed by the provider.
pub fn pending_of_order(conn: &mut PgConnection, order_id: i32) -> QueryResult<Vec<RefundToSend>> {
    refunds::table
        .inner_join(payments::table)
        .filter(refunds::order_id.eq(order_id))
        .filter(refunds::status.eq(RefundStatus::Pending))
        .order(refunds::id)
        .select((
            refunds::id,
            refunds::amount,
            payments::provider,
            payments::provider_ref,
        ))
        .load::<(i32, BigDecimal, String, String)>(conn)
        .map(|rows| rows.into_iter().map(to_send).collect())
}

/// Claims up to `batch` pending refunds due for (another) attempt, for the reconciliation
/// job: `SKIP LOCKED`, then `next_attempt_at` pushed a minute on, so two instances do not
/// send the same one at once (and if they did, the provider's key would make it one).
pub fn claim_due(conn: &mut PgConnection, batch: i64) -> QueryResult<Vec<RefundToSend>> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = diesel::sql_types::Numeric)]
        amount: BigDecimal,
        #[diesel(sql_type = diesel::sql_types::Text)]
        provider: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        provider_ref: String,
    }
    let claimed: Vec<Claimed> = diesel::sql_query(CLAIM_DUE)
        .bind::<BigInt, _>(batch)
        .load(conn)?;
    Ok(claimed
        .into_iter()
        .map(|row| to_send((row.id, row.amount, row.provider, row.provider_ref)))
        .collect())
}

const CLAIM_DUE: &str = "
    WITH due AS (
        SELECT id FROM refunds
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE refunds r SET next_attempt_at = now() + interval '1 minute'
        FROM due WHERE r.id = due.id
        RETURNING r.id, r.amount, r.payment_id
    )
    SELECT claimed.id, claimed.amount, p.provider, p.provider_ref
    FROM claimed JOIN payments p ON p.id = claimed.payment_id";

fn to_send(
    (refund_id, amount, provider, provider_ref): (i32, BigDecimal, String, String),
) -> RefundToSend {
    RefundToSend {
        refund_id,
        amount,
        provider,
        provider_ref,
    }
}

/// Records the provider's answer to a refund: made (`Some(its id)`) or refused (`None`).
/// A refund settled already is left as it is.
pub fn settle(
    conn: &mut PgConnection,
    refund_id: i32,
    provider_ref: Option<&str>,
) -> QueryResult<()> {
    let status = if provider_ref.is_some() {
        RefundStatus::Succeeded
    } else {
        RefundStatus::Failed
    };
    diesel::update(refunds::table.find(refund_id))
        .filter(refunds::status.eq(RefundStatus::Pending))
        .set((
            refunds::status.eq(status),
            refunds::provider_ref.eq(provider_ref),
        ))
        .execute(conn)
        .map(drop)
}
