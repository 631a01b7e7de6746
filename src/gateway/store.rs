//! The test gateway's state, in its own database: payment intents, the answers of
//! idempotent calls, the events it owes the service and their deliveries. Nothing here is
//! the service's: the service only ever sees this over HTTP.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Numeric, Text, Timestamptz};

/// The schema, created at start if missing (one gateway per database; an advisory lock
/// keeps two starting together from racing).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gateway_intents (
    id              TEXT          PRIMARY KEY,
    amount          NUMERIC(18,2) NOT NULL CHECK (amount > 0),
    currency        TEXT          NOT NULL,
    status          TEXT          NOT NULL,
    client_secret   TEXT          NOT NULL,
    payment_method  TEXT,
    decline_reason  TEXT,
    captured_amount NUMERIC(18,2) NOT NULL DEFAULT 0,
    refunded_amount NUMERIC(18,2) NOT NULL DEFAULT 0 CHECK (refunded_amount <= captured_amount),
    capture_count   INTEGER       NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gateway_idempotency (
    key        TEXT        PRIMARY KEY,
    status     INTEGER,
    response   TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gateway_events (
    id         TEXT          PRIMARY KEY,
    type       TEXT          NOT NULL,
    intent_id  TEXT          NOT NULL REFERENCES gateway_intents (id),
    amount     NUMERIC(18,2) NOT NULL,
    currency   TEXT          NOT NULL,
    created_at TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gateway_deliveries (
    id           BIGSERIAL   PRIMARY KEY,
    event_id     TEXT        NOT NULL REFERENCES gateway_events (id),
    due_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts     INTEGER     NOT NULL DEFAULT 0,
    last_status  INTEGER,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS gateway_deliveries_due_idx ON gateway_deliveries (due_at) WHERE delivered_at IS NULL;
CREATE TABLE IF NOT EXISTS gateway_settings (
    id           BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    paused       BOOLEAN NOT NULL DEFAULT false,
    newest_first BOOLEAN NOT NULL DEFAULT false
);
INSERT INTO gateway_settings (id) VALUES (true) ON CONFLICT DO NOTHING;
";

pub fn create_schema(conn: &mut PgConnection) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7348211)").execute(conn)?;
        conn.batch_execute(SCHEMA)
    })
}

/// An intent as the gateway keeps it.
#[derive(QueryableByName, Debug, Clone)]
pub struct Intent {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Numeric)]
    pub amount: BigDecimal,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub client_secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub payment_method: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub decline_reason: Option<String>,
    #[diesel(sql_type = Numeric)]
    pub captured_amount: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub refunded_amount: BigDecimal,
    #[diesel(sql_type = Integer)]
    pub capture_count: i32,
}

pub fn insert_intent(
    conn: &mut PgConnection,
    id: &str,
    amount: &BigDecimal,
    currency: &str,
    client_secret: &str,
) -> QueryResult<Intent> {
    diesel::sql_query(
        "INSERT INTO gateway_intents (id, amount, currency, status, client_secret)
         VALUES ($1, $2, $3, 'requires_confirmation', $4) RETURNING *",
    )
    .bind::<Text, _>(id)
    .bind::<Numeric, _>(amount)
    .bind::<Text, _>(currency)
    .bind::<Text, _>(client_secret)
    .get_result(conn)
}

/// The intent, locked for the rest of the transaction.
pub fn lock_intent(conn: &mut PgConnection, id: &str) -> QueryResult<Option<Intent>> {
    diesel::sql_query("SELECT * FROM gateway_intents WHERE id = $1 FOR UPDATE")
        .bind::<Text, _>(id)
        .get_result(conn)
        .optional()
}

pub fn find_intent(conn: &mut PgConnection, id: &str) -> QueryResult<Option<Intent>> {
    diesel::sql_query("SELECT * FROM gateway_intents WHERE id = $1")
        .bind::<Text, _>(id)
        .get_result(conn)
        .optional()
}

/// Writes the intent's changeable fields back.
pub fn save_intent(conn: &mut PgConnection, intent: &Intent) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE gateway_intents SET status = $2, payment_method = $3, decline_reason = $4,
             captured_amount = $5, refunded_amount = $6, capture_count = $7
         WHERE id = $1",
    )
    .bind::<Text, _>(&intent.id)
    .bind::<Text, _>(&intent.status)
    .bind::<Nullable<Text>, _>(&intent.payment_method)
    .bind::<Nullable<Text>, _>(&intent.decline_reason)
    .bind::<Numeric, _>(&intent.captured_amount)
    .bind::<Numeric, _>(&intent.refunded_amount)
    .bind::<Integer, _>(intent.capture_count)
    .execute(conn)
}

/// The stored answer of an idempotent call.
#[derive(QueryableByName, Debug)]
pub struct StoredAnswer {
    #[diesel(sql_type = Nullable<Integer>)]
    pub status: Option<i32>,
    /// The JSON body answered.
    #[diesel(sql_type = Nullable<Text>)]
    pub response: Option<String>,
}

/// Claims `key` for this transaction: `None` when it is new (the caller does the work and
/// stores its answer); the earlier answer otherwise. A concurrent call with the same key
/// waits here until the first one's transaction ends, then gets its answer.
pub fn claim_key(conn: &mut PgConnection, key: &str) -> QueryResult<Option<StoredAnswer>> {
    let inserted = diesel::sql_query(
        "INSERT INTO gateway_idempotency (key) VALUES ($1) ON CONFLICT (key) DO NOTHING",
    )
    .bind::<Text, _>(key)
    .execute(conn)?;
    if inserted == 1 {
        return Ok(None);
    }
    diesel::sql_query("SELECT status, response FROM gateway_idempotency WHERE key = $1")
        .bind::<Text, _>(key)
        .get_result(conn)
        .map(Some)
}

pub fn store_answer(
    conn: &mut PgConnection,
    key: &str,
    status: u16,
    response: &str,
) -> QueryResult<usize> {
    diesel::sql_query("UPDATE gateway_idempotency SET status = $2, response = $3 WHERE key = $1")
        .bind::<Text, _>(key)
        .bind::<Integer, _>(i32::from(status))
        .bind::<Text, _>(response)
        .execute(conn)
}

/// Records an event and its first delivery, in the transaction of the change it reports.
pub fn record_event(
    conn: &mut PgConnection,
    id: &str,
    kind: &str,
    intent: &Intent,
    amount: &BigDecimal,
) -> QueryResult<usize> {
    diesel::sql_query(
        "WITH event AS (
             INSERT INTO gateway_events (id, type, intent_id, amount, currency)
             VALUES ($1, $2, $3, $4, $5) RETURNING id
         )
         INSERT INTO gateway_deliveries (event_id) SELECT id FROM event",
    )
    .bind::<Text, _>(id)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(&intent.id)
    .bind::<Numeric, _>(amount)
    .bind::<Text, _>(&intent.currency)
    .execute(conn)
}

/// A delivery to make: the event it carries.
#[derive(QueryableByName, Debug, Clone)]
pub struct DueDelivery {
    #[diesel(sql_type = BigInt)]
    pub delivery_id: i64,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub intent_id: String,
    #[diesel(sql_type = Numeric)]
    pub amount: BigDecimal,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` due deliveries (none while paused), oldest first or, as the
/// settings say, newest first; each is pushed back a minute so that a crash mid-send
/// retries it then. Committed before anything is sent.
pub fn claim_due(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<DueDelivery>> {
    diesel::sql_query(
        "WITH settings AS (SELECT paused, newest_first FROM gateway_settings),
         due AS (
             SELECT d.id FROM gateway_deliveries d
             WHERE d.delivered_at IS NULL AND d.due_at <= now()
               AND NOT (SELECT paused FROM settings)
             ORDER BY CASE WHEN (SELECT newest_first FROM settings) THEN -d.id ELSE d.id END
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         ),
         claimed AS (
             UPDATE gateway_deliveries d SET due_at = now() + interval '1 minute'
             FROM due WHERE d.id = due.id
             RETURNING d.id, d.attempts, d.event_id
         )
         SELECT c.id AS delivery_id, c.attempts, e.id AS event_id, e.type AS kind,
                e.intent_id, e.amount, e.currency, e.created_at
         FROM claimed c JOIN gateway_events e ON e.id = c.event_id
         ORDER BY CASE WHEN (SELECT newest_first FROM settings) THEN -c.id ELSE c.id END",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// What became of one attempt: delivered, or due again after `retry_in_secs`.
pub fn record_attempt(
    conn: &mut PgConnection,
    delivery_id: i64,
    status: Option<u16>,
    delivered: bool,
    retry_in_secs: i64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE gateway_deliveries
         SET attempts = attempts + 1, last_status = $2,
             delivered_at = CASE WHEN $3 THEN now() END,
             due_at = now() + $4 * interval '1 second'
         WHERE id = $1",
    )
    .bind::<BigInt, _>(delivery_id)
    .bind::<Nullable<Integer>, _>(status.map(i32::from))
    .bind::<Bool, _>(delivered)
    .bind::<BigInt, _>(retry_in_secs)
    .execute(conn)
}

/// Sends `event_id` again, `times` more times (same event, same `webhook-id`).
pub fn redeliver(conn: &mut PgConnection, event_id: &str, times: i32) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO gateway_deliveries (event_id)
         SELECT id FROM gateway_events, generate_series(1, $2) WHERE id = $1",
    )
    .bind::<Text, _>(event_id)
    .bind::<Integer, _>(times)
    .execute(conn)
}

pub fn set_delivery_mode(
    conn: &mut PgConnection,
    paused: bool,
    newest_first: bool,
) -> QueryResult<usize> {
    diesel::sql_query("UPDATE gateway_settings SET paused = $1, newest_first = $2")
        .bind::<Bool, _>(paused)
        .bind::<Bool, _>(newest_first)
        .execute(conn)
}

/// An event with how often it has been delivered.
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct EventRecord {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    #[serde(rename = "type")]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub intent_id: String,
    #[diesel(sql_type = BigInt)]
    pub delivered: i64,
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
}

pub fn events(conn: &mut PgConnection) -> QueryResult<Vec<EventRecord>> {
    diesel::sql_query(
        "SELECT e.id, e.type AS kind, e.intent_id,
                count(d.delivered_at) AS delivered,
                count(*) FILTER (WHERE d.delivered_at IS NULL) AS pending
         FROM gateway_events e JOIN gateway_deliveries d ON d.event_id = e.id
         GROUP BY e.id ORDER BY e.created_at, e.id",
    )
    .load(conn)
}
