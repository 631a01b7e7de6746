//! CORS, for browser front ends served from another origin (`CORS_ALLOWED_ORIGINS`).
//! Off by default: without a listed origin no CORS header is sent, and browsers keep
//! cross-origin pages out, as they should. Tokens travel in `Authorization` (and a guest's
//! cart token in `X-Cart-Token`), never in cookies, so credentials mode is never needed.

use actix_cors::Cors;
use actix_web::body::{self, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{Condition, ErrorHandlerResponse};
use actix_web::ResponseError;

use super::credentials::CART_TOKEN_HEADER;
use super::error::ApiError;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Browsers cache a preflight answer this long (seconds).
const PREFLIGHT_MAX_AGE: usize = 3600;

/// The CORS layer for `origins` (`["*"]`: any); a no-op when there are none. Requests from
/// other origins are served as usual, without CORS headers, so curl and server-side
/// callers are unaffected and browsers do the refusing.
pub fn middleware(origins: &[String]) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            IDEMPOTENCY_KEY,
            REQUEST_ID,
            // A guest's cart token (guest carts, and merging one at login).
            CART_TOKEN_HEADER,
            // Conditional requests: revalidating the catalogue, guarding cart changes.
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
        ])
        .expose_headers([
            // Cache-Control and Last-Modified are CORS-safelisted; ETag is not.
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            REQUEST_ID,
            IDEMPOTENT_REPLAYED,
        ])
        .max_age(PREFLIGHT_MAX_AGE)
        .block_on_origin_mismatch(false);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    Condition::new(!origins.is_empty(), cors)
}

/// actix-cors refuses a preflight it does not allow (origin, method or headers) with a
/// plain-text 400; clients get problem+json, with that text as the detail.
pub fn plain_bad_request_as_problem<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    Ok(ErrorHandlerResponse::Future(Box::pin(async move {
        let (req, res) = res.into_parts();
        let text = body::to_bytes_limited(res.into_body(), 1024)
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .filter(|text| !text.trim().is_empty())
            .unwrap_or_else(|| "the request was not accepted".to_owned());
        let problem = ApiError::BadRequest(text).error_response();
        Ok(ServiceResponse::new(req, problem).map_into_right_body::<B>())
    })))
}
