//! The catalogue: list and search (anyone), read one (anyone), create / update / archive
//! (admins). The handlers come first; `listing` parses the list's query, `body` holds
//! the JSON shapes.

mod body;
pub mod history;
mod listing;
mod search_lane;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::pg::PgConnection;

use crate::http::conditional::{IfModifiedSince, IfNoneMatch};
use crate::http::ProductResponse;
use body::{category_ids_from, group_id_from, images_from, options_from};
pub use body::{CreateProductRequest, ImageInput, ProductPage, UpdateProductRequest};
use listing::{listing_from, ListQuery};
pub use search_lane::SearchLane;

use crate::auth::AdminUser;
use crate::config::Config;
use crate::db::{CatalogueReads, DbPool};
use crate::domain::{Description, InventoryCount, ProductName};
use crate::http::conditional::{catalogue_response, http_time, json_bytes};
use crate::http::credentials::carries_credentials;
use crate::http::cursor;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::paging::split_page;
use crate::http::responses;
use crate::http::validate::Validator;
use crate::http::with_conn;
use crate::http::{ApiError, Problem};
use crate::models::{NewProduct, ProductChanges};
use crate::repository::products;
use crate::repository::{catalogue, categories};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/products")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/products/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(archive)),
    )
    .service(web::resource("/products/{id}/history").route(web::get().to(history::history)));
}

// ------------------------------------------------------------------ reading

/// Get a product.
///
/// One live product; archived or missing products are 404. Anonymous requests may be
/// served by a read replica a moment behind. Sends `ETag` and `Last-Modified`; with a
/// matching `If-None-Match` (or, without one, an `If-Modified-Since` not before
/// `Last-Modified`) the answer is 304 without a body.
#[utoipa::path(get, path = "/api/v1/products/{id}", operation_id = "get_product", tag = "catalogue",
    params(("id" = i32, Path, description = "Product id"), IfNoneMatch, IfModifiedSince),
    responses((status = 200, description = "The product", body = ProductResponse,
            headers(("ETag" = String, description = "Strong entity tag of this body (a digest of its bytes): send it in If-None-Match to revalidate (304)."), ("Last-Modified" = String, description = "When the product last changed (its updated_at), as an HTTP-date."), ("Cache-Control" = String, description = "`public, max-age=N` for anonymous requests (N = CATALOGUE_CACHE_MAX_AGE_SECS; `public, no-cache` when 0); `private, no-cache` with Authorization or X-Cart-Token."))),
        responses::ProductNotModified, (status = 404, description = "Missing or archived", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn show(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    reads: web::Data<CatalogueReads>,
    config: web::Data<Config>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let product = read_catalogue(&req, &pool, &reads, move |conn| {
        products::find_live_view(conn, id)
    })
    .await?;
    // lowest_price_30d can change as time passes (a lower old price leaves the window)
    // with updated_at unchanged; while it is below the price there is no Last-Modified,
    // and revalidation goes by the ETag (a digest of the body) alone.
    let last_modified = (product.lowest_price_30d >= product.product.price)
        .then(|| http_time(product.product.updated_at));
    let body = json_bytes(&ProductResponse::from(product))?;
    Ok(catalogue_response(
        &req,
        body,
        last_modified,
        config.catalogue_cache_max_age,
    ))
}

/// List and search products.
///
/// Live products, newest first, or ranked by relevance with `q` (full-text, web-search
/// syntax: name matches above description matches). Filters by category (`category`: its
/// slug; the products filed in it or in any category below it), price range and stock;
/// keyset paginated: pass `next_cursor` back as `cursor` until it is null. Anonymous
/// requests may be served by a read replica a moment behind. A one-word search in
/// relevance order is served from an index; other searches visit every match and take
/// turns (503 with Retry-After when no turn comes in time). Sends an `ETag`; with a
/// matching `If-None-Match` the answer is 304 without a body.
#[utoipa::path(get, path = "/api/v1/products", operation_id = "list_products", tag = "catalogue", params(ListQuery, IfNoneMatch),
    responses((status = 200, description = "A page of products", body = ProductPage,
            headers(("ETag" = String, description = "Strong entity tag of this body (a digest of its bytes): send it in If-None-Match to revalidate (304)."), ("Cache-Control" = String, description = "`public, max-age=N` for anonymous requests (N = CATALOGUE_CACHE_MAX_AGE_SECS; `public, no-cache` when 0); `private, no-cache` with Authorization or X-Cart-Token."))),
        responses::NotModified, responses::BadRequest, (status = 404, description = "No category has the `category` slug", body = Problem, content_type = "application/problem+json"), responses::Invalid, responses::Unavailable))]
async fn list(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    reads: web::Data<CatalogueReads>,
    searches: web::Data<SearchLane>,
    config: web::Data<Config>,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (listing, size) = listing_from(query.into_inner())?;
    let _turn = if listing.visits_every_match() {
        Some(searches.enter().await?)
    } else {
        None
    };
    let rows = read_catalogue(&req, &pool, &reads, move |conn| {
        let rows = catalogue::list(conn, &listing)?;
        // An empty page of a category: is there such a category at all?
        match &listing.filter.category {
            Some(slug) if rows.is_empty() && listing.after.is_none() => {
                categories::find_by_slug(conn, slug)?;
                Ok(rows)
            }
            _ => Ok(rows),
        }
    })
    .await?;
    let (rows, next_cursor) = split_page(rows, size, |last| Some(cursor::encode(last)));
    let body = json_bytes(&ProductPage {
        items: rows
            .into_iter()
            .map(|row| ProductResponse::new(row.product, row.structure, &row.lowest_price_30d))
            .collect(),
        next_cursor,
    })?;
    Ok(catalogue_response(
        &req,
        body,
        None,
        config.catalogue_cache_max_age,
    ))
}

/// Runs a catalogue read. An anonymous one may be served by the replica (a moment
/// stale); a request that carries credentials reads from the primary, so staff and
/// customers see their own writes at once.
async fn read_catalogue<T, F>(
    req: &HttpRequest,
    pool: &DbPool,
    reads: &CatalogueReads,
    work: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Fn(&mut PgConnection) -> diesel::QueryResult<T> + Send + 'static,
{
    if carries_credentials(req.headers()) {
        with_conn(pool, move |conn| Ok(work(conn)?)).await
    } else {
        Ok(reads.with_conn(work).await?)
    }
}

// ------------------------------------------------------------------ writing (admins)

/// Create a product.
///
/// Admins only. Answers 201 with the product and its `Location`. The price is a decimal
/// string (or a JSON number in plain notation, read exactly). `category_ids` files it
/// under existing categories; `group_id` with `options` makes it a variant of a group
/// (a value for each of the group's options; another live variant's options: 409).
#[utoipa::path(post, path = "/api/v1/products", operation_id = "create_product", tag = "catalogue", security(("bearer" = [])), request_body = CreateProductRequest,
    responses((status = 201, description = "Created; Location: /api/v1/products/{id}", body = ProductResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 409, description = "Another live variant of the group has these options", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn create(
    admin: AdminUser,
    pool: web::Data<DbPool>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateProductRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let name = validator.check("name", ProductName::parse(&body.name));
    let description = validator.check(
        "description",
        optional_description(body.description.as_deref()),
    );
    let price = validator.check("price", body.price.parse());
    let inventory_count = validator.check(
        "inventory_count",
        InventoryCount::parse(body.inventory_count.unwrap_or(0)),
    );
    let category_ids = category_ids_from(&mut validator, body.category_ids);
    let images = images_from(&mut validator, body.images);
    let group_id = match body.group_id {
        Some(raw) => group_id_from(&mut validator, raw).map(Some),
        None => Some(None),
    };
    let options = match body.options {
        Some(raw) => options_from(&mut validator, raw).map(Some),
        None => Some(None),
    };
    let (
        Some(name),
        Some(description),
        Some(price),
        Some(inventory_count),
        Some(category_ids),
        Some(images),
        Some(group_id),
        Some(options),
    ) = (
        name,
        description,
        price,
        inventory_count,
        category_ids,
        images,
        group_id,
        options,
    )
    else {
        return Err(validator.into_error());
    };
    let by_user_id = Some(admin.0.id);
    let product = with_conn(&pool, move |conn| {
        Ok(products::create(
            conn,
            &NewProduct {
                name: name.as_str(),
                description: description.as_ref().map(Description::as_str),
                price: price.as_decimal(),
                inventory_count: inventory_count.get(),
                category_ids: &category_ids,
                images: images.clone(),
                group_id,
                options: options.clone(),
            },
            by_user_id,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/products/{}", product.product.id),
        ))
        .json(ProductResponse::from(product)))
}

/// A description that may be absent or null: either is none.
fn optional_description(raw: Option<&str>) -> Result<Option<Description>, String> {
    raw.map_or(Ok(None), Description::parse)
}

/// Update a product.
///
/// Admins only. A partial update: absent fields stay as they are, `"description": null`
/// clears the description. A new price is recorded as a price change and a new
/// `inventory_count` as an `adjustment` stock movement, in the same transaction (see
/// `get_product_history`).
#[utoipa::path(patch, path = "/api/v1/products/{id}", operation_id = "update_product", tag = "catalogue", security(("bearer" = [])), request_body = inline(UpdateProductRequest),
    params(("id" = i32, Path, description = "Product id")),
    responses((status = 200, description = "Updated", body = ProductResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 404, description = "Missing or archived", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Another live variant of the group has these options", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    admin: AdminUser,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
    id: web::Path<i32>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<UpdateProductRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let changes = ProductChanges {
        name: body
            .name
            .and_then(|raw| validator.check("name", ProductName::parse(&raw)))
            .map(ProductName::into_inner),
        description: body
            .description
            .and_then(|raw| validator.check("description", optional_description(raw.as_deref())))
            .map(|description| description.map(Description::into_inner)),
        price: body
            .price
            .and_then(|raw| validator.check("price", raw.parse()))
            .map(|price| price.into_decimal()),
        inventory_count: body
            .inventory_count
            .and_then(|raw| validator.check("inventory_count", InventoryCount::parse(raw)))
            .map(InventoryCount::get),
        category_ids: body
            .category_ids
            .and_then(|raw| category_ids_from(&mut validator, raw)),
        images: body.images.and_then(|raw| images_from(&mut validator, raw)),
        group_id: body.group_id.and_then(|raw| match raw {
            Some(raw) => group_id_from(&mut validator, raw).map(Some),
            None => Some(None),
        }),
        options: body
            .options
            .and_then(|raw| options_from(&mut validator, raw))
            .map(Some),
    };
    validator.finish()?;
    let id = id.into_inner();
    let by_user_id = Some(admin.0.id);
    let threshold = config.low_stock_threshold;
    let product = with_conn(&pool, move |conn| {
        Ok(products::update(conn, id, &changes, by_user_id, threshold)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProductResponse::from(product)))
}

/// Archive a product.
///
/// Admins only. The row stays (orders refer to it) but the catalogue no longer shows
/// it; a cart line of it stays readable, marked unavailable.
#[utoipa::path(delete, path = "/api/v1/products/{id}", operation_id = "archive_product", tag = "catalogue", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product id")),
    responses((status = 204, description = "Archived"), responses::Unauthorized, responses::Forbidden, (status = 404, description = "Missing or already archived", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn archive(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    with_conn(&pool, move |conn| Ok(products::archive(conn, id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
