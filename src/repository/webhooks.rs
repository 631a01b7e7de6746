//! Webhook endpoints (staff's) and their deliveries: the relay's claims and outcomes,
//! and what staff read and retry. A delivery is claimed by pushing its next attempt a
//! lease ahead (`FOR UPDATE SKIP LOCKED` picks rows no other instance holds), longer than
//! a send can take, so no two instances send one delivery at once; an instance that dies
//! mid-send leaves the delivery to be claimed again when the lease runs out.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Varchar};

use super::ShopError;
use crate::models::{DeliveryStatus, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint};
use crate::schema::{events, webhook_deliveries, webhook_endpoints};

/// How long the old secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

pub fn create(
    conn: &mut PgConnection,
    new: &NewWebhookEndpoint<'_>,
) -> QueryResult<WebhookEndpoint> {
    diesel::insert_into(webhook_endpoints::table)
        .values(new)
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn)
}

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<WebhookEndpoint>> {
    webhook_endpoints::table
        .order(webhook_endpoints::id)
        .select(WebhookEndpoint::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: i32) -> Result<WebhookEndpoint, ShopError> {
    webhook_endpoints::table
        .find(id)
        .select(WebhookEndpoint::as_select())
        .first(conn)
        .map_err(ShopError::from_not_found)
}

/// A change to an endpoint; `None` fields stay as they are.
#[derive(AsChangeset, Debug, Default)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// Cleared when staff enable it again.
    pub disabled_reason: Option<Option<String>>,
}

pub fn update(
    conn: &mut PgConnection,
    id: i32,
    changes: &EndpointChanges,
) -> Result<WebhookEndpoint, ShopError> {
    if changes.url.is_none()
        && changes.description.is_none()
        && changes.events.is_none()
        && changes.enabled.is_none()
    {
        return find(conn, id);
    }
    diesel::update(webhook_endpoints::table.find(id))
        .set(changes)
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn)
        .map_err(ShopError::from_not_found)
}

/// Deletes an endpoint and its deliveries; `false` when there was none.
pub fn delete(conn: &mut PgConnection, id: i32) -> QueryResult<bool> {
    diesel::delete(webhook_endpoints::table.find(id))
        .execute(conn)
        .map(|deleted| deleted == 1)
}

/// Gives the endpoint `secret`; the one it had keeps signing for
/// [`ROTATION_OVERLAP_HOURS`].
pub fn rotate_secret(
    conn: &mut PgConnection,
    id: i32,
    secret: &str,
) -> Result<WebhookEndpoint, ShopError> {
    diesel::sql_query(ROTATE)
        .bind::<Integer, _>(id)
        .bind::<Text, _>(secret)
        .bind::<Integer, _>(ROTATION_OVERLAP_HOURS as i32)
        .execute(conn)?;
    find(conn, id)
}

const ROTATE: &str = "
    UPDATE webhook_endpoints
    SET previous_secret = secret, previous_secret_until = now() + make_interval(hours => $3),
        secret = $2
    WHERE id = $1";

/// A delivery the relay holds: where, what, and with which secrets.
#[derive(QueryableByName, Debug, Clone)]
pub struct ClaimedDelivery {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Integer)]
    pub endpoint_id: i32,
    /// This attempt's number (1 for the first).
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Varchar)]
    pub url: String,
    #[diesel(sql_type = Varchar)]
    pub secret: String,
    /// The rotated-out secret, while it still signs.
    #[diesel(sql_type = Nullable<Varchar>)]
    pub previous_secret: Option<String>,
    #[diesel(sql_type = Varchar)]
    pub event_id: String,
    #[diesel(sql_type = Varchar)]
    pub event_type: String,
    #[diesel(sql_type = Text)]
    pub event_data: String,
    #[diesel(sql_type = Timestamptz)]
    pub event_created_at: DateTime<Utc>,
}

/// Claims up to `batch` due deliveries of enabled endpoints, oldest first, for `lease`
/// seconds, and counts the attempt.
pub fn claim_due(
    conn: &mut PgConnection,
    batch: i64,
    lease_secs: i32,
) -> QueryResult<Vec<ClaimedDelivery>> {
    diesel::sql_query(CLAIM_DUE)
        .bind::<BigInt, _>(batch)
        .bind::<Integer, _>(lease_secs)
        .load(conn)
}

const CLAIM_DUE: &str = "
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND e.enabled
        ORDER BY d.next_attempt_at
        LIMIT $1
        FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
        UPDATE webhook_deliveries d
        SET next_attempt_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.endpoint_id, d.attempts, d.event_id
    )
    SELECT claimed.id, claimed.endpoint_id, claimed.attempts, e.url, e.secret,
           CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END
               AS previous_secret,
           ev.id AS event_id, ev.type AS event_type, ev.data::text AS event_data,
           ev.created_at AS event_created_at
    FROM claimed
    JOIN webhook_endpoints e ON e.id = claimed.endpoint_id
    JOIN events ev ON ev.id = claimed.event_id";

/// Records a 2xx.
pub fn mark_delivered(conn: &mut PgConnection, id: i64, status: u16) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Delivered),
            webhook_deliveries::next_attempt_at.eq(None::<DateTime<Utc>>),
            webhook_deliveries::delivered_at.eq(Some(Utc::now())),
            webhook_deliveries::last_status_code.eq(Some(i32::from(status))),
            webhook_deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed attempt: tried again at `retry_at`, or failed for good (`None`).
pub fn mark_attempt_failed(
    conn: &mut PgConnection,
    id: i64,
    status: Option<u16>,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<()> {
    let outcome = if retry_at.is_some() {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::Failed
    };
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(outcome),
            webhook_deliveries::next_attempt_at.eq(retry_at),
            webhook_deliveries::last_status_code.eq(status.map(i32::from)),
            webhook_deliveries::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .map(drop)
}

/// 410 Gone: the delivery has failed and the endpoint is disabled, with the reason.
pub fn mark_gone(conn: &mut PgConnection, id: i64, endpoint_id: i32) -> QueryResult<()> {
    conn.transaction(|conn| {
        mark_attempt_failed(conn, id, Some(410), "answered 410 Gone", None)?;
        diesel::update(webhook_endpoints::table.find(endpoint_id))
            .set((
                webhook_endpoints::enabled.eq(false),
                webhook_endpoints::disabled_reason.eq(Some("the endpoint answered 410 Gone")),
            ))
            .execute(conn)
            .map(drop)
    })
}

/// A delivery as staff see it, with its event's type.
pub type DeliveryRow = (WebhookDelivery, String);

/// An endpoint's deliveries, newest first, after `before` (a delivery id), `limit` rows.
pub fn deliveries(
    conn: &mut PgConnection,
    endpoint_id: i32,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ShopError> {
    find(conn, endpoint_id)?;
    let mut query = webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select((WebhookDelivery::as_select(), events::type_))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    Ok(query.load(conn)?)
}

/// Sends a delivery again now (a failed one, or a pending one sooner); `NotFound` for an
/// unknown id.
pub fn retry(conn: &mut PgConnection, id: i64) -> Result<DeliveryRow, ShopError> {
    diesel::update(webhook_deliveries::table.find(id))
        .filter(webhook_deliveries::status.ne(DeliveryStatus::Delivered))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending),
            webhook_deliveries::next_attempt_at.eq(Some(Utc::now())),
        ))
        .execute(conn)?;
    webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::id.eq(id))
        .select((WebhookDelivery::as_select(), events::type_))
        .first(conn)
        .map_err(ShopError::from_not_found)
}

/// When the oldest event still waiting for a delivery was written.
pub fn oldest_undelivered(conn: &mut PgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .select(diesel::dsl::min(webhook_deliveries::created_at))
        .first(conn)
}
