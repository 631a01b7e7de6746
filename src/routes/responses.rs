//! The problem+json responses many operations share, declared once for the OpenAPI
//! document: an operation lists `responses::Unavailable` instead of restating the tuple.
//! Responses whose wording is particular to one operation stay in its annotation.

use std::collections::BTreeMap;

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
    /// 401 `unauthorized` on routes that need a token.
    Unauthorized => "401", "Missing, unknown, expired or revoked token";
    /// 403 `forbidden` on admin routes.
    Forbidden => "403", "Not an admin";
    /// 409 `insufficient_stock`.
    OutOfStock => "409", "Not enough stock (insufficient_stock, with items)";
    /// 413 `payload_too_large`.
    TooLarge => "413", "Body over 64 KiB";
    /// 422 `validation_failed`.
    Invalid => "422", "Invalid field values";
    /// 500 `internal`.
    Bug => "500", "A bug; the body carries no internals";
    /// 503 `service_unavailable`.
    Unavailable => "503", "Database unavailable or pool exhausted (Retry-After)";
}
