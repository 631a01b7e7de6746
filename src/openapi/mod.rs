//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the request and response types themselves, served at `/openapi.json`; and `/docs`, a
//! Swagger UI whose assets are compiled into the binary (no CDN, works offline). The
//! document is also where a 405's `Allow` header comes from.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::path::PathItem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

mod conventions;

use conventions::Conventions;

use crate::http::ApiError;
use crate::routes::{
    addresses, admin_orders, carts, categories, guest_carts, health, metrics, orders, payments,
    product_groups, products, sessions, shipping_methods, tax_rates, users, webhook_endpoints,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "storefront",
        description = "Backend of an online shop. Errors are RFC 9457 application/problem+json; money is a decimal string. HEAD is answered wherever GET is (the GET's status and headers, no body), and is not listed separately.",
        contact(name = "storefront maintainers"),
    ),
    paths(
        health::live,
        health::ready,
        metrics::metrics,
        users::register,
        users::me,
        users::update_me,
        addresses::list,
        addresses::create,
        addresses::update,
        addresses::delete,
        sessions::log_in,
        sessions::log_out,
        products::list,
        products::create,
        products::show,
        products::update,
        products::archive,
        categories::tree,
        categories::show,
        categories::create,
        categories::update,
        categories::delete,
        product_groups::show,
        product_groups::list,
        product_groups::create,
        product_groups::update,
        product_groups::delete,
        guest_carts::create,
        products::history::history,
        carts::show,
        carts::add_item,
        carts::set_quantity,
        carts::remove_item,
        carts::quote,
        carts::checkout,
        shipping_methods::list,
        shipping_methods::create,
        shipping_methods::show,
        shipping_methods::update,
        shipping_methods::delete,
        tax_rates::list,
        tax_rates::create,
        tax_rates::show,
        tax_rates::update,
        tax_rates::delete,
        orders::list,
        orders::show,
        orders::cancel,
        orders::fulfil,
        payments::start,
        payments::complete,
        payments::refund,
        payments::webhook,
        webhook_endpoints::create,
        webhook_endpoints::list,
        webhook_endpoints::show,
        webhook_endpoints::update,
        webhook_endpoints::delete,
        webhook_endpoints::rotate,
        webhook_endpoints::deliveries,
        webhook_endpoints::retry,
        admin_orders::list,
        openapi_json,
        docs,
    ),
    components(schemas(crate::http::Problem, crate::http::FieldError, crate::http::StockShortage)),
    modifiers(&Security, &Conventions),
    servers((url = "/", description = "This service (paths are absolute from its origin)")),
    tags(
        (name = "accounts", description = "Registration, login sessions, the profile and its address book"),
        (name = "catalogue", description = "Products, their categories and variant groups: browse and search; staff manage"),
        (name = "cart", description = "The open cart, its quote and checkout"),
        (name = "shipping", description = "Shipping methods and tax rates: public to read; staff manage"),
        (name = "orders", description = "Orders after checkout: history, cancellation, shipping; staff's view of all orders"),
        (name = "payments", description = "Paying orders through a payment provider, its webhooks, and refunds"),
        (name = "webhooks", description = "Events sent to other systems: webhook endpoints (staff), their deliveries"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // The document's default, which the cart operations inherit (Conventions): a bearer
        // token, or none, for a guest, who sends the `X-Cart-Token` header parameter
        // instead. A header parameter, not an apiKey scheme, so every generator gives
        // guests a typed argument for it.
        openapi.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::default(),
        ]);
    }
}

/// The Swagger UI's files: a route of its own, not part of the document.
const DOCS_FILES: &str = "/docs/{file:.*}";

/// `/openapi.json` and the `/docs` page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi_json)))
        .service(web::resource("/docs").route(web::get().to(docs)))
        .service(web::resource(DOCS_FILES).route(web::get().to(docs_file)));
}

/// The methods a route answers, as an `Allow` header value (`GET, HEAD`), by the pattern
/// actix matched (`/api/v1/products/{id}`, as `HttpRequest::match_pattern` gives it).
/// Read from the document, whose paths are the route patterns, so a 405 cannot list other
/// methods than the document does; tests/api/errors.rs checks each path against the
/// router.
pub fn allowed_methods(pattern: &str) -> Option<&'static str> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut table: HashMap<String, String> = ApiDoc::openapi()
                .paths
                .paths
                .iter()
                .map(|(path, item)| (path.clone(), methods_of(item)))
                .collect();
            table.insert(DOCS_FILES.into(), "GET, HEAD".into());
            table
        })
        .get(pattern)
        .map(String::as_str)
}

fn methods_of(item: &PathItem) -> String {
    [
        ("GET", &item.get),
        ("HEAD", &item.head),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ]
    .iter()
    // HEAD is answered wherever GET is (startup::head_as_get).
    .filter(|(method, operation)| operation.is_some() || (*method == "HEAD" && item.get.is_some()))
    .map(|(method, _)| *method)
    .collect::<Vec<_>>()
    .join(", ")
}

/// The document, built once.
fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

/// This OpenAPI document.
///
/// The OpenAPI 3.1 document of every route of this service.
#[utoipa::path(get, path = "/openapi.json", operation_id = "get_openapi_document", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this service", content_type = "application/json")))]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// API documentation page.
///
/// Redirects to `/docs/`, a Swagger UI page served by the binary itself (no network
/// access needed).
#[utoipa::path(get, path = "/docs", operation_id = "get_docs_page", tag = "operations",
    responses((status = 308, description = "Redirect to /docs/, the page")))]
async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// The page's files (served by `utoipa_swagger_ui::serve` rather than its `SwaggerUi`
/// service, whose 404 is an empty body: here a missing file is problem+json like every
/// other error).
async fn docs_file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let config = Arc::new(utoipa_swagger_ui::Config::from("/openapi.json"));
    match utoipa_swagger_ui::serve(&file, config) {
        Ok(Some(file)) => {
            let body = match file.bytes {
                Cow::Borrowed(bytes) => web::Bytes::from_static(bytes),
                Cow::Owned(bytes) => web::Bytes::from(bytes),
            };
            Ok(HttpResponse::Ok()
                .content_type(file.content_type)
                .body(body))
        }
        Ok(None) => Err(ApiError::NotFound),
        Err(err) => Err(ApiError::Internal(format!("swagger ui file {file}: {err}"))),
    }
}
