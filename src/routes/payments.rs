//! Paying orders (DESIGN §9): start a payment at a provider, settle it when the shopper
//! is back, receive the provider's webhooks, and (staff) give money back. The work is in
//! `payments`; these handlers read the request and shape the answer.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{AdminUser, AuthUser};
use crate::db::DbPool;
use crate::domain::CancelReason;
use crate::http::extract::{idempotency_key, ApiJson, PriceInput};
use crate::http::responses;
use crate::http::schemas::{cancel_reason_schema, price_schema, word_enum};
use crate::http::{with_conn, ApiError, FieldError, OrderResponse, PaymentResponse};
use crate::outbound::WebhookHeaders;
use crate::payments::{Payments, Settled};
use crate::repository::orders;
use crate::repository::refunds::{self, RefundRecorded, RefundRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orders/{id}/payments").route(web::post().to(start)))
        .service(
            web::resource("/orders/{id}/payments/{payment_id}/complete")
                .route(web::post().to(complete)),
        )
        .service(web::resource("/orders/{id}/refunds").route(web::post().to(refund)))
        .service(web::resource("/payments/webhooks/{provider}").route(web::post().to(webhook)));
}

/// Which provider to pay through.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartPaymentRequest {
    /// `test`: the test gateway.
    #[schema(schema_with = provider_schema)]
    provider: String,
}

fn provider_schema() -> utoipa::openapi::Object {
    word_enum(&["test"])
}

/// Start paying an order.
///
/// Creates an intent at the provider for the order's total and returns the payment: the
/// shopper's browser confirms it at `next_action.url` with `client_secret` and a payment
/// method, then the front end calls `complete`. While a payment is open (pending or
/// requires_action) a second call returns it (200) instead of starting another. 409
/// `invalid_state` when the order does not await payment (paid, cancelled, expired); 503
/// when the provider does not answer (retry: the same intent comes back).
#[utoipa::path(post, path = "/api/v1/orders/{id}/payments", operation_id = "start_payment", tag = "payments", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id")), request_body = StartPaymentRequest,
    responses((status = 201, description = "A new payment. Location: /api/v1/orders/{id}", body = PaymentResponse),
        (status = 200, description = "The payment already open for this order", body = PaymentResponse),
        responses::BadRequest, responses::Unauthorized, responses::NoSuchOrder, responses::InvalidState, responses::TooLarge, responses::Invalid, responses::PaymentUnavailable))]
async fn start(
    user: AuthUser,
    pool: web::Data<DbPool>,
    payments: web::Data<Payments>,
    id: web::Path<i32>,
    // A Result, so the 401 comes before any complaint about the body.
    body: Result<ApiJson<StartPaymentRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let provider = body?.into_inner().provider;
    if payments.provider(&provider).is_err() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "provider",
            "is not a payment provider of this shop (test)",
        )]));
    }
    let order_id = id.into_inner();
    let (payment, created) = payments
        .start(&pool, &provider, order_id, user.user.id)
        .await?;
    let body = PaymentResponse::from(payment);
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/orders/{order_id}")))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Complete a payment.
///
/// The shopper is back from the provider: the service asks the provider where the
/// payment is, captures it if the shopper authorised it (once, however often this is
/// called, on whichever instance, racing the provider's webhook), and answers with the
/// order: `payment_status: paid` once captured, the payment `requires_action` when the
/// shopper must confirm again, still `pending` when they have not confirmed. 402
/// `payment_declined` (with the provider's reason) when declined; 503 when the provider
/// does not answer in time (retry; nothing is captured twice).
#[utoipa::path(post, path = "/api/v1/orders/{id}/payments/{payment_id}/complete", operation_id = "complete_payment", tag = "payments", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id"), ("payment_id" = i32, Path, description = "Payment id")),
    responses((status = 200, description = "The order, with the payment as the provider reports it", body = OrderResponse),
        responses::Unauthorized, responses::PaymentDeclined, responses::NoSuchOrder, responses::PaymentUnavailable))]
async fn complete(
    user: AuthUser,
    pool: web::Data<DbPool>,
    payments: web::Data<Payments>,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (order_id, payment_id) = path.into_inner();
    let user_id = user.user.id;
    let settled = payments
        .complete(&pool, order_id, payment_id, user_id)
        .await?;
    if let Settled::Declined(reason) = settled {
        return Err(ApiError::PaymentDeclined(reason));
    }
    let order = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(orders::find_order(conn, Some(user_id), order_id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(OrderResponse::from(order)))
}

/// Receive a provider's webhook.
///
/// For the provider, not for front ends. Standard Webhooks: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
/// `id.timestamp.body` with `PAYMENT_WEBHOOK_SECRET`). A bad signature, or a timestamp
/// more than 5 minutes away, is 400 `invalid_signature` and changes nothing; a
/// `webhook-id` applied before is 200 and changes nothing.
#[utoipa::path(post, path = "/api/v1/payments/webhooks/{provider}", operation_id = "receive_payment_webhook", tag = "payments",
    params(("provider" = String, Path, description = "The provider that sends it: `test`"),
        ("webhook-id" = String, Header, description = "The event's id"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds when it was signed"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256>`, space-separated if several")),
    request_body(content = PaymentEvent, description = "The provider's event, as signed"),
    responses((status = 200, description = "Applied, or seen before (nothing changed)"),
        responses::InvalidSignature, responses::NoSuchProvider, responses::TooLarge, responses::Unavailable))]
async fn webhook(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    payments: web::Data<Payments>,
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let headers = WebhookHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    if headers.id.is_empty() || headers.signature.is_empty() {
        return Err(ApiError::InvalidSignature(
            "webhook-id and webhook-signature are required",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    payments
        .receive_webhook(&pool, &provider, headers, &body, now)
        .await?;
    Ok(HttpResponse::Ok().finish())
}

/// A provider's event, as the test gateway sends it (documentation only: the body is
/// verified as signed bytes, then read by the provider's client).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PaymentEvent {
    /// The event's id; the `webhook-id` header repeats it.
    id: String,
    /// `payment.succeeded`, `payment.failed` or `refund.succeeded`.
    #[schema(rename = "type")]
    kind: String,
    created_at: chrono::DateTime<chrono::Utc>,
    data: PaymentEventData,
}

/// What an event is about.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PaymentEventData {
    /// The intent (a payment's `provider_ref`).
    intent_id: String,
    #[schema(schema_with = crate::http::schemas::money_out_schema)]
    amount: String,
    currency: String,
}

/// A refund to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// How much, more than 0 and at most what is left to refund.
    #[schema(schema_with = price_schema)]
    amount: PriceInput,
    /// Why (1-500 characters).
    #[schema(schema_with = cancel_reason_schema)]
    reason: Option<String>,
}

/// Refund an order.
///
/// Admins only; an `Idempotency-Key` is required, and a retry with it returns the order
/// again (`Idempotent-Replayed: true`) without refunding twice. The refund comes from a
/// captured payment and is sent to the provider at once; it shows as `pending` until the
/// provider confirms it (the service keeps sending it until then). `payment_status`
/// becomes `partially_refunded`, or `refunded` once the refunds cover what was captured.
/// Stock and the ledger are unchanged: restock with a stock adjustment. 409
/// `invalid_state` when nothing is left to refund; 422 beyond what is left.
#[utoipa::path(post, path = "/api/v1/orders/{id}/refunds", operation_id = "refund_order", tag = "payments", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id"),
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "Required: a retried request with the same key refunds once (1-255 visible ASCII characters)")),
    request_body = RefundBody,
    responses((status = 201, description = "Refund recorded and sent; the order with it. Location: /api/v1/orders/{id}", body = OrderResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when the key made this refund before; absent otherwise"))),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::NoSuchOrder, responses::InvalidState, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn refund(
    req: HttpRequest,
    admin: AdminUser,
    pool: web::Data<DbPool>,
    payments: web::Data<Payments>,
    id: web::Path<i32>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<RefundBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let key = required_idempotency_key(&req)?;
    let amount = body
        .amount
        .parse()
        .and_then(|price| {
            if price.as_decimal() > &bigdecimal::BigDecimal::from(0) {
                Ok(price)
            } else {
                Err("must be more than 0".into())
            }
        })
        .map_err(|message| ApiError::Validation(vec![FieldError::new("amount", message)]))?;
    let reason =
        match body.reason {
            Some(raw) => Some(CancelReason::parse(&raw).map_err(|message| {
                ApiError::Validation(vec![FieldError::new("reason", message)])
            })?),
            None => None,
        };
    let order_id = id.into_inner();
    let admin_id = admin.0.id;
    let recorded = with_conn(&pool, move |conn| {
        let request = RefundRequest {
            amount: amount.as_decimal(),
            reason: reason.as_ref().map(CancelReason::as_str),
            idempotency_key: &key,
            admin_id,
        };
        Ok::<_, ApiError>(refunds::request_refund(conn, order_id, request)?)
    })
    .await?;
    payments.send_refunds_of(&pool, order_id).await;
    let order = with_conn(&pool, move |conn| {
        Ok::<_, ApiError>(orders::find_order(conn, None, order_id)?)
    })
    .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/orders/{order_id}")));
    if matches!(recorded, RefundRecorded::Replayed(_)) {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(OrderResponse::from(order)))
}

/// The request's Idempotency-Key: required here, so a retried refund is made once.
fn required_idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    idempotency_key(req)?.ok_or_else(|| {
        ApiError::BadRequest(
            "an Idempotency-Key header is required, so a retried refund is made once".into(),
        )
    })
}
