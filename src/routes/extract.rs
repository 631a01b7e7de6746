//! Extractor settings, so malformed input never reaches a handler and every rejection is
//! problem+json: malformed JSON or query is 400, JSON of the wrong shape (unknown field,
//! wrong type, missing field) is 422, an oversized body 413, a path id that cannot exist 404.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};

use crate::error::{ApiError, FieldError};

/// Largest JSON body accepted. Every request of this API is far smaller.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_BODY_LIMIT)
        .error_handler(|err, _req| json_error(err).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req: &HttpRequest| {
        ApiError::BadRequest(format!("malformed query string: {}", inner_message(&err))).into()
    })
}

pub fn path_config() -> web::PathConfig {
    // Ids are integers; a segment that is not one names nothing that exists.
    web::PathConfig::default()
        .error_handler(|_err: PathError, _req: &HttpRequest| ApiError::NotFound.into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => {
            ApiError::BadRequest("expected a JSON body with Content-Type: application/json".into())
        }
        JsonPayloadError::Deserialize(err) if err.is_data() => {
            ApiError::Validation(vec![field_error(&err.to_string())])
        }
        JsonPayloadError::Deserialize(err) => {
            ApiError::BadRequest(format!("malformed JSON: {err}"))
        }
        other => ApiError::BadRequest(format!("unreadable body: {other}")),
    }
}

/// Names the field serde complained about where its message says (`unknown field `x``,
/// `missing field `x``); otherwise the whole body.
fn field_error(message: &str) -> FieldError {
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
        .unwrap_or("body");
    let message = message.split(" at line ").next().unwrap_or(message);
    FieldError::new(field, message)
}

fn inner_message(err: &QueryPayloadError) -> String {
    match err {
        QueryPayloadError::Deserialize(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// A JSON request body, parsed in two steps so the status says what is wrong: text that
/// is not JSON at all is a 400 (`bad_request`), JSON of the wrong shape (unknown or
/// missing field, wrong type) a 422 naming the field. `web::Json` alone reports both as
/// one, depending on which problem serde happens to meet first.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ApiJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        // Limit, content type and syntax are checked here, by `json_config`'s rules.
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            serde_json::from_value(value)
                .map(ApiJson)
                .map_err(|err| ApiError::Validation(vec![field_error(&err.to_string())]).into())
        })
    }
}
