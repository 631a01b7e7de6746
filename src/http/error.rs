//! `ApiError`: the one error type every handler returns, rendered as RFC 9457
//! `application/problem+json`.
//!
//! Which layer returns which error:
//! - `repository` returns Diesel's `QueryResult`, or `repository::ShopError` where a
//!   query has outcomes other than rows (empty cart, short stock, a taken username).
//!   It knows nothing of HTTP.
//! - `db` returns `db::DbError`: from what runs before serving (connecting, creating the
//!   database, migrating), from CLI commands, and from its blocking helpers (a pool
//!   timeout, a query a retry may cure, a failed blocking task). It knows nothing of
//!   HTTP either.
//! - `auth`, `routes` and the middleware return `ApiError`, converted from the two
//!   above by the `From` impls here: this file is the one place that decides what a
//!   database outcome means to a client (status, code, which field).
//!
//! Internals (database messages, panics in blocking tasks) are logged in full and never
//! shown to the client: a 500 body says only that something went wrong.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use super::quote_response::QuoteResponse;
use crate::db::{is_transient, DbError};
use crate::outbound::WebhookError;
use crate::payments::PaymentError;
use crate::repository::{constraints, ShopError, Shortage, TakenField};

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 1;

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    fn taken(field: TakenField) -> Self {
        match field {
            TakenField::Username => Self::new("username", "is already taken"),
            TakenField::Email => Self::new("email", "is already registered"),
            TakenField::TaxRateCountry => {
                Self::new("country", "has a tax rate already; change it with PATCH")
            }
            TakenField::CategorySlug => Self::new("slug", "is taken by another category"),
            TakenField::VariantOptions => Self::new(
                "options",
                "are those of another variant of the group; each variant's options must differ",
            ),
        }
    }
}

/// A cart line that cannot be filled: what was asked for and what is left (0 for a
/// product that has been archived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockShortage {
    pub product_id: i32,
    pub requested: i32,
    pub available: i32,
}

impl From<Shortage> for StockShortage {
    fn from(shortage: Shortage) -> Self {
        Self {
            product_id: shortage.product_id,
            requested: shortage.requested,
            available: shortage.available,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: malformed JSON, query string or path.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 400 `bad_request` with `errors`: query parameters that do not parse as their type
    /// (or, for a cursor, are not one this service issued), each named.
    #[error("bad query: {0:?}")]
    BadQuery(Vec<FieldError>),
    /// 401 `unauthorized`: no bearer token, or one that is unknown, expired or revoked.
    #[error("unauthorized")]
    Unauthorized,
    /// 401 `cart_token_invalid`: an `X-Cart-Token` that is malformed, unknown, expired, or
    /// already merged into a user's cart at login. A front end drops it and starts a new
    /// guest cart (or logs in).
    #[error("cart token invalid")]
    CartTokenInvalid,
    /// 401 `login_required`: a guest (a cart token, no bearer token) asked for what needs
    /// an account (checkout, the profile, orders, admin routes); the detail says to log in.
    #[error("login required")]
    LoginRequired,
    /// 401 `unauthorized` from a login form: the login or the password is wrong (one
    /// answer for both, so accounts cannot be enumerated).
    #[error("login failed")]
    LoginFailed,
    /// 403 `forbidden`: authenticated, but not allowed (not an admin).
    #[error("forbidden")]
    Forbidden,
    /// 404 `not_found`: missing, or belonging to someone else.
    #[error("not found")]
    NotFound,
    /// 405 `method_not_allowed`: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `already_exists`: a unique field (username, email) is taken.
    #[error("already exists: {0:?}")]
    AlreadyExists(Vec<FieldError>),
    /// 409 `insufficient_stock`: some lines ask for more than is in stock.
    #[error("insufficient stock")]
    InsufficientStock(Vec<StockShortage>),
    /// 409 `total_changed`: checkout with an `expected_total` that is not what the order
    /// would charge now (a price, a shipping method or a tax rate changed since the
    /// quote); nothing was placed, and `quote` says what it would charge.
    #[error("total changed")]
    TotalChanged(Box<QuoteResponse>),
    /// 409 `invalid_state`: the order is not in a state that allows this (cancel a
    /// shipped order, ship an unpaid one); the detail says why.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// 412 `precondition_failed`: the `If-Match` tag is not the current one (the cart
    /// changed since the client read it); nothing was changed.
    #[error("precondition failed")]
    PreconditionFailed,
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 422 `validation_failed`: well-formed input with invalid values.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    /// 422 `empty_cart`: checkout of a cart with no items.
    #[error("empty cart")]
    EmptyCart,
    /// 429 `rate_limited`, with Retry-After.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 400 `invalid_signature`: a webhook whose signature or timestamp does not hold.
    #[error("invalid signature: {0}")]
    InvalidSignature(&'static str),
    /// 402 `payment_declined`: the provider declined the shopper's payment method (its
    /// reason in `reason`).
    #[error("payment declined: {0}")]
    PaymentDeclined(String),
    /// 503 `service_unavailable`, with Retry-After: the payment provider did not answer
    /// in time (nothing was charged twice: a retry settles it).
    #[error("payment provider unavailable: {0}")]
    PaymentProviderUnavailable(String),
    /// 503 `service_unavailable`, with Retry-After: database down or pool exhausted.
    #[error("service unavailable: {0}")]
    ServiceUnavailable(String),
    /// 503 `service_unavailable` from the readiness probe: the instance is draining before
    /// it stops (SIGTERM).
    #[error("draining")]
    Draining,
    /// 503 `service_unavailable`, with Retry-After: too many requests already wait for a
    /// password-hashing permit.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// 500 `internal`: a bug. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a client can switch on for one kind of problem: the status, the stable `code`
/// and the `title`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemKind {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
}

/// Every `code` a problem can carry: a closed set, so clients can switch on it. The
/// exhaustive test below ties it to [`ApiError::kind`] both ways.
const PROBLEM_CODES: [&str; 20] = [
    "bad_request",
    "unauthorized",
    "cart_token_invalid",
    "login_required",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "already_exists",
    "insufficient_stock",
    "invalid_state",
    "invalid_signature",
    "payment_declined",
    "total_changed",
    "precondition_failed",
    "payload_too_large",
    "validation_failed",
    "empty_cart",
    "rate_limited",
    "service_unavailable",
    "internal",
];

impl ApiError {
    /// The variant's row of the table: the one place a variant is given its status, code
    /// and title.
    pub fn kind(&self) -> ProblemKind {
        use StatusCode as S;
        let (status, code, title) = match self {
            Self::BadRequest(_) | Self::BadQuery(_) => {
                (S::BAD_REQUEST, "bad_request", "Malformed request")
            }
            Self::InvalidSignature(_) => (
                S::BAD_REQUEST,
                "invalid_signature",
                "Webhook signature not valid",
            ),
            Self::PaymentDeclined(_) => {
                (S::PAYMENT_REQUIRED, "payment_declined", "Payment declined")
            }
            Self::Unauthorized => (S::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::CartTokenInvalid => (
                S::UNAUTHORIZED,
                "cart_token_invalid",
                "Cart token not valid",
            ),
            Self::LoginRequired => (S::UNAUTHORIZED, "login_required", "Login required"),
            Self::LoginFailed => (S::UNAUTHORIZED, "unauthorized", "Login failed"),
            Self::Forbidden => (S::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound => (S::NOT_FOUND, "not_found", "Not found"),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            Self::AlreadyExists(_) => (S::CONFLICT, "already_exists", "Already exists"),
            Self::InsufficientStock(_) => (S::CONFLICT, "insufficient_stock", "Insufficient stock"),
            Self::InvalidState(_) => (S::CONFLICT, "invalid_state", "Not allowed in this state"),
            Self::TotalChanged(_) => (S::CONFLICT, "total_changed", "The total changed"),
            Self::PreconditionFailed => (
                S::PRECONDITION_FAILED,
                "precondition_failed",
                "Precondition failed",
            ),
            Self::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            Self::Validation(_) => (
                S::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Invalid input",
            ),
            Self::EmptyCart => (S::UNPROCESSABLE_ENTITY, "empty_cart", "Cart is empty"),
            Self::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "rate_limited", "Too many attempts"),
            Self::ServiceUnavailable(_)
            | Self::PaymentProviderUnavailable(_)
            | Self::Draining
            | Self::Overloaded(_) => (
                S::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
            ),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        };
        ProblemKind {
            status,
            code,
            title,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().code
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest(detail) => detail.clone(),
            Self::BadQuery(fields) => format!("malformed query string: {}", join_messages(fields)),
            Self::InvalidSignature(why) => {
                format!("The webhook was not accepted: {why}. Nothing was changed.")
            }
            Self::PaymentDeclined(reason) => format!(
                "The payment provider declined the payment ({reason}). The order still awaits \
                 payment: start a new payment with another payment method."
            ),
            Self::PaymentProviderUnavailable(_) => "The payment provider did not answer in \
                 time. Nothing was charged twice and nothing was lost: retry the same request \
                 shortly (the service also settles the payment by itself once the provider \
                 answers)."
                .into(),
            Self::Unauthorized => "A valid bearer token is required.".into(),
            Self::CartTokenInvalid => "The cart token is unknown, expired, or was merged into \
                 an account's cart at login; create a new guest cart (POST /api/v1/guest-carts) \
                 or send the account's bearer token."
                .into(),
            Self::LoginRequired => "This needs an account, and a cart token is not one: log \
                 in (POST /api/v1/sessions) with this X-Cart-Token to merge the guest cart \
                 into your cart, then send the bearer token."
                .into(),
            Self::LoginFailed => "The login or the password is wrong.".into(),
            Self::Forbidden => "This action needs an administrator account.".into(),
            Self::NotFound => "No such resource.".into(),
            Self::MethodNotAllowed => "This path does not accept that method.".into(),
            Self::AlreadyExists(fields) => join_messages(fields),
            Self::InsufficientStock(_) => {
                "Some items are not available in the requested quantity.".into()
            }
            Self::InvalidState(why) => (*why).into(),
            Self::TotalChanged(quote) => format!(
                "The order would charge {} now, not the expected_total sent (a price, shipping \
                 method or tax rate changed since the quote). Nothing was placed; show the \
                 new totals (in `quote`) and check out again.",
                quote.total
            ),
            Self::PreconditionFailed => {
                "If-Match names no current version: the cart changed since it was read. \
                 Nothing was changed; read it again (its ETag) and retry."
                    .into()
            }
            Self::PayloadTooLarge => "The request body is too large.".into(),
            Self::Validation(fields) => join_messages(fields),
            Self::EmptyCart => "The cart has no items to check out.".into(),
            Self::RateLimited { .. } => "Too many attempts; try again later.".into(),
            Self::ServiceUnavailable(_) => {
                "The service cannot reach its database right now; try again shortly.".into()
            }
            Self::Draining => "This instance is draining before it shuts down; it still answers \
                 requests, but new ones belong on another instance."
                .into(),
            Self::Overloaded(_) => "The service is busy; try again shortly.".into(),
            Self::Internal(_) => "Something went wrong on our side.".into(),
        }
    }
}

fn join_messages(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An RFC 9457 problem+json body: what every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`/problems/<code>`).
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation_failed")]
    pub kind: String,
    pub title: &'static str,
    /// The HTTP status, repeated.
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code to switch on.
    #[schema(schema_with = problem_code_schema)]
    pub code: &'static str,
    /// For `validation_failed`, `already_exists` and a bad query parameter's
    /// `bad_request`: each offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For `insufficient_stock`: each short line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<StockShortage>>,
    /// For `total_changed`: what the order would charge now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<QuoteResponse>,
    /// For `payment_declined`: the provider's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn problem_code_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(PROBLEM_CODES))
        .description(Some("Stable machine-readable code to switch on."))
        .examples(["validation_failed"])
        .build()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().status
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::ServiceUnavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            Self::PaymentProviderUnavailable(cause) => {
                tracing::warn!(%cause, "payment provider unavailable")
            }
            Self::Overloaded(cause) => tracing::warn!(%cause, "overloaded"),
            _ => {}
        }
        let ProblemKind {
            status,
            code,
            title,
        } = self.kind();
        let body = Problem {
            kind: format!("/problems/{code}"),
            title,
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors: match self {
                Self::Validation(fields) | Self::AlreadyExists(fields) | Self::BadQuery(fields) => {
                    Some(fields.clone())
                }
                _ => None,
            },
            items: match self {
                Self::InsufficientStock(items) => Some(items.clone()),
                _ => None,
            },
            quote: match self {
                Self::TotalChanged(quote) => Some((**quote).clone()),
                _ => None,
            },
            reason: match self {
                Self::PaymentDeclined(reason) => Some(reason.clone()),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        // Every 401 names the scheme that would authenticate.
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        match self {
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::ServiceUnavailable(_)
            | Self::Overloaded(_)
            | Self::PaymentProviderUnavailable(_) => {
                response.insert_header((
                    header::RETRY_AFTER,
                    RETRY_AFTER_UNAVAILABLE_SECS.to_string(),
                ));
            }
            _ => {}
        }
        response.json(body)
    }
}

impl From<DieselError> for ApiError {
    fn from(err: DieselError) -> Self {
        let transient = is_transient(&err);
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or_default();
                // Constraints that guard what a client sent are the client's problem;
                // any other (a state rule, the ledger's) is broken only by a bug: a 500,
                // its name logged, never shown.
                let taken = constraints::taken_field(constraint);
                let checked = constraints::checked_field(constraint);
                match (&kind, taken, checked) {
                    (DatabaseErrorKind::UniqueViolation, Some(field), _) => {
                        Self::AlreadyExists(vec![FieldError::taken(field)])
                    }
                    // A reference to a row that does not exist (or vanished meanwhile).
                    (DatabaseErrorKind::ForeignKeyViolation, ..) => Self::NotFound,
                    (DatabaseErrorKind::CheckViolation, _, Some(field)) => {
                        Self::Validation(vec![FieldError::new(field, "is out of range")])
                    }
                    _ if transient => Self::ServiceUnavailable(info.message().to_owned()),
                    // Text the database cannot store (a NUL byte): the client's input.
                    _ if info.message().contains("invalid byte sequence") => Self::BadRequest(
                        "the request contains characters that cannot be stored".into(),
                    ),
                    _ => Self::Internal(format!("{kind:?}: {}", info.message())),
                }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ShopError> for ApiError {
    fn from(err: ShopError) -> Self {
        match err {
            ShopError::NotFound => Self::NotFound,
            ShopError::EmptyCart => Self::EmptyCart,
            ShopError::PreconditionFailed => Self::PreconditionFailed,
            ShopError::InvalidState(why) => Self::InvalidState(why),
            ShopError::InsufficientStock(items) => {
                Self::InsufficientStock(items.into_iter().map(StockShortage::from).collect())
            }
            ShopError::AlreadyTaken(fields) => {
                Self::AlreadyExists(fields.into_iter().map(FieldError::taken).collect())
            }
            ShopError::Invalid(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|(field, message)| FieldError::new(field, message))
                    .collect(),
            ),
            ShopError::TotalChanged(quote) => {
                Self::TotalChanged(Box::new(QuoteResponse::from(quote.as_ref())))
            }
            ShopError::IdempotencyKeyReused => Self::Validation(vec![FieldError::new(
                "Idempotency-Key",
                "was already used to check out a different cart; send a new key",
            )]),
            ShopError::Database(err) => err.into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Query(err) | DbError::Unavailable(err) => err.into(),
            DbError::PoolTimeout(_)
            | DbError::Unreachable { .. }
            | DbError::MissingDatabase { .. } => Self::ServiceUnavailable(err.to_string()),
            DbError::TaskFailed(_) | DbError::Migration(_) | DbError::ModifiedMigrations(_) => {
                Self::Internal(err.to_string())
            }
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(err: PaymentError) -> Self {
        match err {
            PaymentError::Shop(err) => err.into(),
            PaymentError::Database(err) => err.into(),
            PaymentError::ProviderUnavailable(cause) => Self::PaymentProviderUnavailable(cause),
            PaymentError::Provider(cause) => {
                tracing::error!(%cause, "unexpected answer from the payment provider");
                Self::PaymentProviderUnavailable(cause)
            }
            PaymentError::Declined(reason) => Self::PaymentDeclined(reason),
            PaymentError::Webhook(WebhookError::Signature) => {
                Self::InvalidSignature("the signature does not verify with the shared secret")
            }
            PaymentError::Webhook(WebhookError::Timestamp) => Self::InvalidSignature(
                "webhook-timestamp is missing, malformed or more than 5 minutes away",
            ),
            PaymentError::Webhook(WebhookError::Malformed) => {
                Self::BadRequest("the body is not an event this provider sends".into())
            }
            PaymentError::UnknownProvider(_) => Self::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(err: ApiError) -> (StatusCode, serde_json::Value) {
        let response = err.error_response();
        let status = response.status();
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn internal_errors_never_show_their_cause() {
        let (status, body) = body_of(ApiError::Internal("relation \"secret\" broke".into())).await;
        assert_eq!(status, 500);
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("secret"), "{body}");
    }

    #[actix_web::test]
    async fn validation_errors_list_their_fields() {
        let err = ApiError::Validation(vec![FieldError::new("email", "is not an email address")]);
        let (status, body) = body_of(err).await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["field"], "email");
        assert_eq!(body["status"], 422);
        assert_eq!(body["type"], "/problems/validation_failed");
    }

    /// One of each variant. The match has no wildcard, so a new variant does not compile
    /// until it is listed here, and so checked against the documented codes below.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::BadRequest(String::new()),
            ApiError::BadQuery(Vec::new()),
            ApiError::Unauthorized,
            ApiError::CartTokenInvalid,
            ApiError::LoginRequired,
            ApiError::LoginFailed,
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::AlreadyExists(Vec::new()),
            ApiError::InsufficientStock(Vec::new()),
            ApiError::PreconditionFailed,
            ApiError::InvalidState(""),
            ApiError::TotalChanged(Box::new(QuoteResponse::empty())),
            ApiError::PayloadTooLarge,
            ApiError::Validation(Vec::new()),
            ApiError::EmptyCart,
            ApiError::RateLimited {
                retry_after_secs: 1,
            },
            ApiError::ServiceUnavailable(String::new()),
            ApiError::Draining,
            ApiError::Overloaded(String::new()),
            ApiError::Internal(String::new()),
            ApiError::InvalidSignature(""),
            ApiError::PaymentDeclined(String::new()),
            ApiError::PaymentProviderUnavailable(String::new()),
        ];
        let mut seen = [false; 25];
        for err in &all {
            let index = match err {
                ApiError::BadRequest(_) => 0,
                ApiError::BadQuery(_) => 1,
                ApiError::Unauthorized => 2,
                ApiError::CartTokenInvalid => 3,
                ApiError::LoginRequired => 4,
                ApiError::LoginFailed => 5,
                ApiError::Forbidden => 6,
                ApiError::NotFound => 7,
                ApiError::MethodNotAllowed => 8,
                ApiError::AlreadyExists(_) => 9,
                ApiError::InsufficientStock(_) => 10,
                ApiError::PreconditionFailed => 11,
                ApiError::PayloadTooLarge => 12,
                ApiError::Validation(_) => 13,
                ApiError::EmptyCart => 14,
                ApiError::RateLimited { .. } => 15,
                ApiError::ServiceUnavailable(_) => 16,
                ApiError::Overloaded(_) => 17,
                ApiError::Internal(_) => 18,
                ApiError::Draining => 19,
                ApiError::InvalidState(_) => 20,
                ApiError::TotalChanged(_) => 21,
                ApiError::InvalidSignature(_) => 22,
                ApiError::PaymentDeclined(_) => 23,
                ApiError::PaymentProviderUnavailable(_) => 24,
            };
            seen[index] = true;
        }
        assert!(seen.iter().all(|seen| *seen), "a variant is not listed");
        all
    }

    #[test]
    fn every_code_is_documented_and_every_documented_code_is_sent() {
        let errors = one_of_each();
        for err in &errors {
            assert!(
                PROBLEM_CODES.contains(&err.code()),
                "{err:?}: {}",
                err.code()
            );
            assert_eq!(err.error_response().status(), err.status_code(), "{err:?}");
        }
        for code in PROBLEM_CODES {
            assert!(
                errors.iter().any(|err| err.code() == code),
                "{code} is documented but never sent"
            );
        }
    }

    #[actix_web::test]
    async fn each_401_says_what_to_do_in_its_code() {
        for (err, code) in [
            (ApiError::Unauthorized, "unauthorized"),
            (ApiError::LoginFailed, "unauthorized"),
            (ApiError::CartTokenInvalid, "cart_token_invalid"),
            (ApiError::LoginRequired, "login_required"),
        ] {
            let response = err.error_response();
            assert_eq!(
                response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer"
            );
            let (status, body) = body_of(err).await;
            assert_eq!(status, 401);
            assert_eq!(body["code"], code);
            assert_eq!(body["type"], format!("/problems/{code}"));
        }
    }

    #[test]
    fn pool_timeouts_are_503_with_retry_after() {
        // A real r2d2 timeout: nothing listens on port 1, so the pool never gets a
        // connection and gives up after its connection timeout.
        let manager = diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(
            "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=1",
        );
        let pool = diesel::r2d2::Pool::builder()
            .max_size(1)
            .connection_timeout(std::time::Duration::from_millis(200))
            .build_unchecked(manager);
        let Err(timed_out) = pool.get() else {
            panic!("a connection from nowhere");
        };
        let response = ApiError::from(DbError::from(timed_out)).error_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
