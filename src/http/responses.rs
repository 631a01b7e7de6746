//! The problem+json responses many operations share, declared once for the OpenAPI
//! document: an operation lists `responses::Unavailable` instead of restating the tuple.
//! Responses whose wording is particular to one operation stay in its annotation.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

/// One problem+json response with the given status and description.
fn problem(status: &str, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .build();
    BTreeMap::from([(status.to_owned(), response.into())])
}

macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident => $status:literal, $description:literal;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    problem($status, $description)
                }
            }
        )+
    };
}

problem_responses! {
    /// 400 `bad_request`.
    BadRequest => "400", "Malformed JSON, query or body type";
    /// 401 on routes that need a token: `unauthorized`, `cart_token_invalid` or
    /// `login_required`.
    Unauthorized => "401", "unauthorized: missing, unknown, expired or revoked bearer token; cart_token_invalid: an X-Cart-Token that is unknown, expired or merged (cart routes); login_required: only a cart token where an account is needed";
    /// 403 `forbidden` on admin routes.
    Forbidden => "403", "Not an admin";
    /// 412 `precondition_failed` on cart changes sent with `If-Match`.
    PreconditionFailed => "412", "If-Match names no current version of the cart (precondition_failed): it changed since it was read; nothing was changed";
    /// 409 `insufficient_stock`.
    OutOfStock => "409", "Not enough stock (insufficient_stock, with items)";
    /// 409 `invalid_state` on order changes.
    InvalidState => "409", "The order is not in a state that allows this (invalid_state; the detail says why)";
    /// 404 `not_found` on an order route.
    NoSuchOrder => "404", "No such order (or, for a customer, not theirs)";
    /// 413 `payload_too_large`.
    TooLarge => "413", "Body over 64 KiB";
    /// 422 `validation_failed`.
    Invalid => "422", "Invalid field values";
    /// 500 `internal`.
    Bug => "500", "A bug; the body carries no internals";
    /// 503 `service_unavailable`.
    Unavailable => "503", "Database unavailable or pool exhausted (Retry-After)";
    /// 503 `service_unavailable` on payment routes.
    PaymentUnavailable => "503", "The database or the payment provider did not answer in time (Retry-After); nothing was charged twice: retry the same request";
    /// 404 `not_found` on a webhook endpoint route.
    NoSuchEndpoint => "404", "No such webhook endpoint";
    /// 404 `not_found` on a webhook delivery route.
    NoSuchDelivery => "404", "No such webhook delivery";
    /// 404 `not_found` on the webhook route.
    NoSuchProvider => "404", "No such provider, or an event about an intent this service did not create (the provider retries)";
    /// 402 `payment_declined`.
    PaymentDeclined => "402", "The provider declined the payment method (payment_declined, with its reason); the order still awaits payment";
    /// 400 `invalid_signature` (or `bad_request`) on webhooks.
    InvalidSignature => "400", "A missing or bad signature, a timestamp more than 5 minutes away (invalid_signature), or a body that is not an event (bad_request); nothing was changed";
}

/// What the catalogue's `ETag` header says, for the OpenAPI document.
const ETAG: &str = "Strong entity tag of this body (a digest of its bytes): send it back in If-None-Match to revalidate.";
/// What the catalogue's `Cache-Control` header says.
const CACHE_CONTROL: &str = "`public, max-age=N` for anonymous requests (N from CATALOGUE_CACHE_MAX_AGE_SECS; `public, no-cache` when 0); `private, no-cache` for requests with Authorization or X-Cart-Token.";
/// What `Last-Modified` says on a product.
const LAST_MODIFIED: &str = "When the product was last changed (its updated_at), as an HTTP-date.";

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(SchemaType::new(Type::String)))
        .description(Some(description))
        .build()
}

/// A 304 of a catalogue read: no body, the validators repeated.
fn not_modified(last_modified: bool) -> BTreeMap<String, RefOr<Response>> {
    let mut response = ResponseBuilder::new()
        .description("Not modified: If-None-Match names the current tag (or, for a product without If-None-Match, If-Modified-Since is not before its Last-Modified). No body.")
        .header("ETag", string_header(ETAG))
        .header("Cache-Control", string_header(CACHE_CONTROL));
    if last_modified {
        response = response.header("Last-Modified", string_header(LAST_MODIFIED));
    }
    BTreeMap::from([("304".to_owned(), response.build().into())])
}

/// 304 of `GET /products`.
pub struct NotModified;

impl IntoResponses for NotModified {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        not_modified(false)
    }
}

/// 304 of `GET /products/{id}`, with `Last-Modified`.
pub struct ProductNotModified;

impl IntoResponses for ProductNotModified {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        not_modified(true)
    }
}
