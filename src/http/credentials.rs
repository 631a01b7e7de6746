//! What counts as a request's credentials: a bearer token in `Authorization`, or a
//! guest's cart token in `X-Cart-Token`. A request with either reads the catalogue from
//! the primary and is cached privately only; CORS lets both headers through.

use actix_web::http::header::{self, HeaderMap, HeaderName};

/// The header a guest sends its cart token in.
pub const CART_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-cart-token");

/// Whether the request names someone: a bearer token or a cart token, valid or not.
pub fn carries_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key(CART_TOKEN_HEADER)
}
