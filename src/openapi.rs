//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the request and response types themselves, served at `/openapi.json`; and `/docs`, a
//! Swagger UI whose assets are compiled into the binary (no CDN, works offline).

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{cart, health, metrics, orders, products, sessions, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "storefront",
        description = "Backend of an online shop. Errors are RFC 9457 application/problem+json; money is a decimal string.",
    ),
    paths(
        health::live,
        health::ready,
        metrics::metrics,
        users::register,
        users::me,
        sessions::log_in,
        sessions::log_out,
        products::list,
        products::create,
        products::show,
        products::update,
        products::archive,
        cart::show,
        cart::add_item,
        cart::set_quantity,
        cart::remove_item,
        cart::checkout,
        orders::list,
        orders::show,
        openapi_json,
        docs,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError, crate::domain::StockShortage)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Registration and login sessions"),
        (name = "catalogue", description = "Products: browse and search; staff manage"),
        (name = "cart", description = "The open cart and checkout"),
        (name = "orders", description = "Checked-out carts"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `/openapi.json` and the `/docs` page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi_json)))
        .service(web::resource("/docs").route(web::get().to(docs)))
        .service(
            SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")),
        );
}

/// The document, built once.
fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this service", content_type = "application/json")))]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// The API documentation page (Swagger UI, assets served by the binary itself).
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 308, description = "Redirect to /docs/, the page")))]
async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
