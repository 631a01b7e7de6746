//! The test gateway's HTTP surface, shaped like a card processor's: intents created,
//! read, confirmed by the shopper, captured, refunded and cancelled by the merchant, every
//! merchant call idempotent by its `Idempotency-Key`; and, for tests, switches over its
//! webhook deliveries (pause, newest first, send an event again).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bigdecimal::BigDecimal;
use diesel::pg::PgConnection;
use diesel::Connection;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::store::{self, Intent};
use crate::db::{run_blocking, DbPool};
use crate::domain::{format_money, Price};

/// What the handlers share.
pub struct GatewayState {
    pub pool: DbPool,
    /// This gateway's own root URL, for the confirm link it hands out.
    pub public_url: String,
    /// How long a `pm_ok_slow` capture waits, after capturing, before it answers.
    pub slow_answer: Duration,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/intents").route(web::post().to(create)))
        .service(web::resource("/v1/intents/{id}").route(web::get().to(show)))
        .service(web::resource("/v1/intents/{id}/confirm").route(web::post().to(confirm)))
        .service(web::resource("/v1/intents/{id}/capture").route(web::post().to(capture)))
        .service(web::resource("/v1/intents/{id}/refunds").route(web::post().to(refund)))
        .service(web::resource("/v1/intents/{id}/cancel").route(web::post().to(cancel)))
        .service(web::resource("/v1/test/delivery").route(web::post().to(delivery_mode)))
        .service(web::resource("/v1/test/events").route(web::get().to(events)))
        .service(web::resource("/v1/test/events/{id}/redeliver").route(web::post().to(redeliver)));
}

/// An answer: a status and a JSON body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": code, "message": message.into()}),
        }
    }

    fn into_response(self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body)
    }
}

type Outcome = Result<Answer, Answer>;

fn unavailable(err: impl std::fmt::Display) -> Answer {
    tracing::warn!(%err, "payment gateway: database error");
    Answer::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
}

/// Runs `work` on a pooled connection off the async workers.
async fn with_db<F>(state: &GatewayState, work: F) -> HttpResponse
where
    F: FnOnce(&mut PgConnection) -> Outcome + Send + 'static,
{
    let pool = state.pool.clone();
    let outcome = run_blocking(move || {
        let mut conn = pool.get().map_err(unavailable)?;
        work(&mut conn)
    })
    .await;
    match outcome {
        Ok(Ok(answer) | Err(answer)) => answer.into_response(),
        Err(err) => unavailable(err).into_response(),
    }
}

/// Runs a merchant call once per `Idempotency-Key`: the first call's answer is stored in
/// its transaction; a repeat (even a concurrent one, which waits for the first) gets it
/// back without doing anything.
fn idempotent<F>(conn: &mut PgConnection, key: &str, work: F) -> Result<(Answer, bool), Answer>
where
    F: FnOnce(&mut PgConnection) -> Outcome,
{
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        if let Some(stored) = store::claim_key(conn, key)? {
            let status = stored
                .status
                .and_then(|status| u16::try_from(status).ok())
                .and_then(|status| StatusCode::from_u16(status).ok())
                .unwrap_or(StatusCode::CONFLICT);
            let body = stored
                .response
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null);
            return Ok(Ok((Answer { status, body }, false)));
        }
        let answer = match work(conn) {
            Ok(answer) | Err(answer) => answer,
        };
        store::store_answer(conn, key, answer.status.as_u16(), &answer.body.to_string())?;
        Ok(Ok((answer, true)))
    })
    .map_err(unavailable)?
}

fn idempotency_key(req: &HttpRequest) -> Result<String, Answer> {
    req.headers()
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty() && key.len() <= 255)
        .map(str::to_owned)
        .ok_or_else(|| {
            Answer::error(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "every merchant call needs an Idempotency-Key",
            )
        })
}

fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

fn amount(text: &str) -> Result<BigDecimal, Answer> {
    Price::parse(text)
        .map(Price::into_decimal)
        .ok()
        .filter(|amount| *amount > 0_i64)
        .ok_or_else(|| {
            Answer::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_amount",
                "amount must be a positive decimal string with at most two places",
            )
        })
}

fn intent_json(intent: &Intent) -> Value {
    json!({
        "id": intent.id,
        "status": intent.status,
        "amount": format_money(&intent.amount),
        "currency": intent.currency,
        "captured_amount": format_money(&intent.captured_amount),
        "refunded_amount": format_money(&intent.refunded_amount),
        "capture_count": intent.capture_count,
        "decline_reason": intent.decline_reason,
    })
}

fn no_such_intent() -> Answer {
    Answer::error(StatusCode::NOT_FOUND, "no_such_intent", "no such intent")
}

#[derive(Debug, Deserialize)]
struct CreateIntent {
    amount: String,
    currency: String,
}

async fn create(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    body: web::Json<CreateIntent>,
) -> HttpResponse {
    let key = match idempotency_key(&req) {
        Ok(key) => key,
        Err(answer) => return answer.into_response(),
    };
    let body = body.into_inner();
    let public_url = state.public_url.clone();
    with_db(&state, move |conn| {
        let (answer, _) = idempotent(conn, &key, |conn| {
            let amount = amount(&body.amount)?;
            let id = random_id("pi");
            let secret = format!("{id}_secret_{}", random_id("cs"));
            let intent = store::insert_intent(conn, &id, &amount, &body.currency, &secret)
                .map_err(unavailable)?;
            let mut json = intent_json(&intent);
            json["client_secret"] = json!(intent.client_secret);
            json["next_action"] = json!({
                "type": "confirm",
                "url": format!("{public_url}/v1/intents/{id}/confirm"),
            });
            Ok(Answer {
                status: StatusCode::CREATED,
                body: json,
            })
        })?;
        Ok(answer)
    })
    .await
}

async fn show(state: web::Data<GatewayState>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    with_db(&state, move |conn| {
        let intent = store::find_intent(conn, &id)
            .map_err(unavailable)?
            .ok_or_else(no_such_intent)?;
        Ok(Answer::ok(intent_json(&intent)))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct Confirm {
    client_secret: String,
    payment_method: String,
}

/// The shopper's step: the payment method decides what happens. `pm_ok` and
/// `pm_ok_slow` authorise at once, `pm_requires_action` on a second confirm,
/// `pm_declined` never (a `payment.failed` event).
async fn confirm(
    state: web::Data<GatewayState>,
    id: web::Path<String>,
    body: web::Json<Confirm>,
) -> HttpResponse {
    let id = id.into_inner();
    let body = body.into_inner();
    with_db(&state, move |conn| {
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let Some(mut intent) = store::lock_intent(conn, &id)? else {
                return Ok(Err(no_such_intent()));
            };
            if intent.client_secret != body.client_secret {
                return Ok(Err(Answer::error(
                    StatusCode::FORBIDDEN,
                    "invalid_client_secret",
                    "the client_secret does not belong to this intent",
                )));
            }
            let answered = match (intent.status.as_str(), body.payment_method.as_str()) {
                ("requires_capture" | "succeeded", _) => "succeeded",
                ("declined", _) => "declined",
                ("cancelled", _) => {
                    return Ok(Err(Answer::error(
                        StatusCode::CONFLICT,
                        "intent_cancelled",
                        "the intent was cancelled",
                    )))
                }
                ("requires_confirmation", "pm_requires_action") => {
                    intent.status = "requires_action".into();
                    "requires_action"
                }
                (_, "pm_ok" | "pm_ok_slow" | "pm_requires_action") => {
                    intent.status = "requires_capture".into();
                    "succeeded"
                }
                (_, "pm_declined") => {
                    intent.status = "declined".into();
                    intent.decline_reason = Some("card_declined".into());
                    store::record_event(
                        conn,
                        &random_id("evt"),
                        "payment.failed",
                        &intent,
                        &intent.amount,
                    )?;
                    "declined"
                }
                (_, other) => {
                    return Ok(Err(Answer::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "unknown_payment_method",
                        format!("{other:?} is not one of pm_ok, pm_ok_slow, pm_declined, pm_requires_action"),
                    )))
                }
            };
            if intent.payment_method.is_none() || answered != "succeeded" {
                intent.payment_method = Some(body.payment_method.clone());
            }
            store::save_intent(conn, &intent)?;
            let mut json = json!({"status": answered});
            if answered == "declined" {
                json["reason"] = json!(intent.decline_reason);
            }
            Ok(Ok(Answer::ok(json)))
        })
        .map_err(unavailable)?
    })
    .await
}

/// The merchant's capture of an authorised intent: once, whatever the retries (the key).
/// A `pm_ok_slow` intent is captured, and then the answer waits `slow_answer`.
async fn capture(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    id: web::Path<String>,
) -> HttpResponse {
    let key = match idempotency_key(&req) {
        Ok(key) => key,
        Err(answer) => return answer.into_response(),
    };
    let id = id.into_inner();
    let pool = state.pool.clone();
    let outcome = run_blocking(move || {
        let mut conn = pool.get().map_err(unavailable)?;
        let mut slow = false;
        let (answer, fresh) = idempotent(&mut conn, &key, |conn| {
            let mut intent = store::lock_intent(conn, &id)
                .map_err(unavailable)?
                .ok_or_else(no_such_intent)?;
            if intent.status != "requires_capture" {
                return Err(Answer::error(
                    StatusCode::CONFLICT,
                    "not_capturable",
                    format!("the intent is {}", intent.status),
                ));
            }
            intent.status = "succeeded".into();
            intent.captured_amount = intent.amount.clone();
            intent.capture_count += 1;
            store::save_intent(conn, &intent).map_err(unavailable)?;
            store::record_event(
                conn,
                &random_id("evt"),
                "payment.succeeded",
                &intent,
                &intent.amount,
            )
            .map_err(unavailable)?;
            slow = intent.payment_method.as_deref() == Some("pm_ok_slow");
            Ok(Answer::ok(intent_json(&intent)))
        })?;
        Ok::<_, Answer>((answer, fresh && slow))
    })
    .await;
    match outcome {
        Ok(Ok((answer, slow))) => {
            if slow {
                tokio::time::sleep(state.slow_answer).await;
            }
            answer.into_response()
        }
        Ok(Err(answer)) => answer.into_response(),
        Err(err) => unavailable(err).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct Refund {
    amount: String,
}

async fn refund(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    id: web::Path<String>,
    body: web::Json<Refund>,
) -> HttpResponse {
    let body = body.into_inner();
    on_intent(&req, &state, id.into_inner(), move |conn, mut intent| {
        let amount = amount(&body.amount)?;
        let refundable = &intent.captured_amount - &intent.refunded_amount;
        if amount > refundable {
            return Err(Answer::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount_too_large",
                format!("at most {} can be refunded", format_money(&refundable)),
            ));
        }
        intent.refunded_amount += &amount;
        store::save_intent(conn, &intent).map_err(unavailable)?;
        store::record_event(
            conn,
            &random_id("evt"),
            "refund.succeeded",
            &intent,
            &amount,
        )
        .map_err(unavailable)?;
        Ok(Answer {
            status: StatusCode::CREATED,
            body: json!({
                "id": random_id("re"),
                "intent_id": intent.id,
                "amount": format_money(&amount),
                "status": "succeeded",
            }),
        })
    })
    .await
}

async fn cancel(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    id: web::Path<String>,
) -> HttpResponse {
    on_intent(&req, &state, id.into_inner(), |conn, mut intent| {
        match intent.status.as_str() {
            "succeeded" => {
                return Err(Answer::error(
                    StatusCode::CONFLICT,
                    "already_captured",
                    "a captured intent is refunded, not cancelled",
                ))
            }
            "cancelled" | "declined" => {}
            _ => {
                intent.status = "cancelled".into();
                store::save_intent(conn, &intent).map_err(unavailable)?;
            }
        }
        Ok(Answer::ok(intent_json(&intent)))
    })
    .await
}

/// A merchant call on one intent: its key claimed, the intent locked, `work` done once.
async fn on_intent<F>(req: &HttpRequest, state: &GatewayState, id: String, work: F) -> HttpResponse
where
    F: FnOnce(&mut PgConnection, Intent) -> Outcome + Send + 'static,
{
    let key = match idempotency_key(req) {
        Ok(key) => key,
        Err(answer) => return answer.into_response(),
    };
    with_db(state, move |conn| {
        let (answer, _) = idempotent(conn, &key, |conn| {
            let intent = store::lock_intent(conn, &id)
                .map_err(unavailable)?
                .ok_or_else(no_such_intent)?;
            work(conn, intent)
        })?;
        Ok(answer)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct DeliveryMode {
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    newest_first: bool,
}

/// For tests: hold deliveries back (late webhooks), or send the newest first (out of
/// order).
async fn delivery_mode(
    state: web::Data<GatewayState>,
    body: web::Json<DeliveryMode>,
) -> HttpResponse {
    let DeliveryMode {
        paused,
        newest_first,
    } = body.into_inner();
    with_db(&state, move |conn| {
        store::set_delivery_mode(conn, paused, newest_first).map_err(unavailable)?;
        Ok(Answer::ok(
            json!({"paused": paused, "newest_first": newest_first}),
        ))
    })
    .await
}

async fn events(state: web::Data<GatewayState>) -> HttpResponse {
    with_db(&state, |conn| {
        let events = store::events(conn).map_err(unavailable)?;
        Ok(Answer::ok(json!({"items": events})))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct Redeliver {
    times: u16,
}

/// For tests: send an event again, `times` more times (duplicate webhooks).
async fn redeliver(
    state: web::Data<GatewayState>,
    id: web::Path<String>,
    body: web::Json<Redeliver>,
) -> HttpResponse {
    let id = id.into_inner();
    let times = i32::from(body.times);
    with_db(&state, move |conn| {
        match store::redeliver(conn, &id, times).map_err(unavailable)? {
            0 => Err(Answer::error(
                StatusCode::NOT_FOUND,
                "no_such_event",
                "no such event",
            )),
            queued => Ok(Answer::ok(json!({"queued": queued}))),
        }
    })
    .await
}
