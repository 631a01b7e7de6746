//! Conventions every operation of the document follows, applied here once instead of
//! restated in each annotation: what the middleware adds to every answer, and what the
//! router answers for every path.
//!
//! - public operations say `security: []` (generators otherwise cannot tell "no auth"
//!   from "auth not documented"); an operation whose security is the document's own
//!   (bearer or none: the cart's, for guests) inherits it instead of restating it, as
//!   openapi-python-client reads any stated security as "needs a token";
//! - every response declares `X-Request-Id`; 401 declares `WWW-Authenticate`; 429 and 503
//!   declare `Retry-After`; 201 and 308 declare `Location`;
//! - every operation documents 405 with `Allow` (a wrong method on a known path);
//! - the operations in [`OPTIONAL_BODIES`] say their body is optional (utoipa can only
//!   say so by making the schema nullable, which the body would then not be).
//!
//! HEAD is not documented: `startup::head_as_get` answers it wherever GET is (the GET's
//! status and headers without the body), and as operations of their own generators would
//! turn them into functions nobody calls.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::Modify;

pub struct Conventions;

/// Operations whose JSON body may be left out altogether (`http::extract::OptionalJson`).
const OPTIONAL_BODIES: [&str; 3] = ["cancel_order", "check_out", "quote_cart"];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let default_security = openapi.security.clone();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                if operation.security.is_some() && operation.security == default_security {
                    operation.security = None;
                } else if operation.security.is_none() {
                    operation.security = Some(Vec::new());
                }
                operation
                    .responses
                    .responses
                    .insert("405".into(), RefOr::T(method_not_allowed()));
                let optional = operation
                    .operation_id
                    .as_deref()
                    .is_some_and(|id| OPTIONAL_BODIES.contains(&id));
                if let (true, Some(body)) = (optional, operation.request_body.as_mut()) {
                    body.required = Some(Required::False);
                }
                for (status, response) in &mut operation.responses.responses {
                    if let RefOr::T(response) = response {
                        declare_headers(status, response);
                    }
                }
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.head,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(SchemaType::new(Type::String)))
        .description(Some(description))
        .build()
}

fn declare_headers(status: &str, response: &mut Response) {
    let mut add = |name: &str, description: &str| {
        response
            .headers
            .entry(name.into())
            .or_insert_with(|| string_header(description));
    };
    add(
        "X-Request-Id",
        "This request's id (the client's own X-Request-Id when it sent a sane one), also in the server's log line.",
    );
    match status {
        "201" => add("Location", "The URL of what was created."),
        "308" => add("Location", "Where to go instead."),
        "401" => add(
            "WWW-Authenticate",
            "`Bearer`: the scheme to authenticate with.",
        ),
        "405" => add("Allow", "The methods this path answers."),
        "429" | "503" => add("Retry-After", "Seconds to wait before trying again."),
        _ => {}
    }
}

fn method_not_allowed() -> Response {
    ResponseBuilder::new()
        .description("This path does not answer that method (Allow lists the ones it does)")
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
