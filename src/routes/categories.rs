//! Categories: `GET /categories` (anyone: the whole tree), `GET /categories/{id}`, and
//! for staff `POST`, `PATCH` (rename, re-slug, reorder, move) and `DELETE`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AdminUser;
use crate::config::Config;
use crate::db::DbPool;
use crate::domain::{parse_position, CatalogueName, CategorySlug};
use crate::http::conditional::{catalogue_response, json_bytes, IfNoneMatch};
use crate::http::extract::{
    nullable, optional_whole_number, present, present_whole_number, ApiJson,
};
use crate::http::responses;
use crate::http::schemas::{catalogue_name_schema, category_slug_schema};
use crate::http::validate::Validator;
use crate::http::{with_conn, ApiError, Problem};
use crate::models::{Category, CategoryChanges};
use crate::repository::categories;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/categories")
            .route(web::get().to(tree))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/categories/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// A category of the tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryResponse {
    pub id: i32,
    /// The category above it; null for a top-level category.
    #[schema(required = true)]
    pub parent_id: Option<i32>,
    #[schema(example = "Shirts")]
    pub name: String,
    /// Its name in URLs, unique: `GET /products?category=<slug>`.
    #[schema(example = "shirts")]
    pub slug: String,
    /// Order among its siblings (ascending; ties by name).
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Category> for CategoryResponse {
    fn from(category: Category) -> Self {
        Self {
            id: category.id,
            parent_id: category.parent_id,
            name: category.name,
            slug: category.slug,
            position: category.position,
            created_at: category.created_at,
            updated_at: category.updated_at,
        }
    }
}

/// The whole tree as a flat list: each category after its parent, siblings in order
/// (depth first), so a front end builds its menu in one pass over `parent_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryTree {
    pub items: Vec<CategoryResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategoryRequest {
    /// 1 to 255 characters.
    #[schema(schema_with = catalogue_name_schema)]
    name: String,
    /// Unique; lowercase letters and digits in words joined by single hyphens.
    #[schema(schema_with = category_slug_schema)]
    slug: String,
    /// The category to put it under; absent or null: top level.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(value_type = Option<i32>, minimum = 1)]
    parent_id: Option<i64>,
    /// Order among its siblings; absent: after the last.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 1000000)]
    position: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategoryRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = catalogue_name_schema)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = category_slug_schema)]
    slug: Option<String>,
    /// Moves it (with everything below it) under another category; null: to the top
    /// level. Under itself or its own descendant: 409 `invalid_state`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 1)]
    parent_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present_whole_number")]
    #[schema(value_type = i32, minimum = 0, maximum = 1000000)]
    position: Option<i64>,
}

fn parent_of(raw: i64) -> Result<i32, String> {
    i32::try_from(raw)
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| "must be a category id (a positive whole number)".into())
}

/// The category tree.
///
/// Every category, each after its parent, siblings by `position` (depth first). Public.
/// Sends an `ETag`; with a matching `If-None-Match` the answer is 304 without a body.
#[utoipa::path(get, path = "/api/v1/categories", operation_id = "list_categories", tag = "catalogue", params(IfNoneMatch),
    responses((status = 200, description = "The tree", body = CategoryTree,
            headers(("ETag" = String, description = "Strong entity tag of this body (a digest of its bytes): send it in If-None-Match to revalidate (304)."), ("Cache-Control" = String, description = "`public, max-age=N` for anonymous requests (N = CATALOGUE_CACHE_MAX_AGE_SECS; `public, no-cache` when 0); `private, no-cache` with Authorization or X-Cart-Token."))),
        responses::NotModified, responses::Unavailable))]
async fn tree(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let rows = with_conn(&pool, |conn| Ok(categories::tree(conn)?)).await?;
    let body = json_bytes(&CategoryTree {
        items: rows.into_iter().map(CategoryResponse::from).collect(),
    })?;
    Ok(catalogue_response(
        &req,
        body,
        None,
        config.catalogue_cache_max_age,
    ))
}

/// Get a category.
///
/// One category, by id (public). Its place in the tree is `parent_id`; its products are
/// `GET /api/v1/products?category=<slug>`.
#[utoipa::path(get, path = "/api/v1/categories/{id}", operation_id = "get_category", tag = "catalogue",
    params(("id" = i32, Path, description = "Category id")),
    responses((status = 200, description = "The category", body = CategoryResponse), (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn show(pool: web::Data<DbPool>, id: web::Path<i32>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let category = with_conn(&pool, move |conn| Ok(categories::find(conn, id)?)).await?;
    Ok(HttpResponse::Ok().json(CategoryResponse::from(category)))
}

/// Create a category.
///
/// Admins only. 201 with the category and its `Location`. A slug another category has:
/// 409 `already_exists`; an unknown `parent_id`: 422.
#[utoipa::path(post, path = "/api/v1/categories", operation_id = "create_category", tag = "catalogue", security(("bearer" = [])), request_body = CreateCategoryRequest,
    responses((status = 201, description = "Created; Location: /api/v1/categories/{id}", body = CategoryResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 409, description = "The slug is taken", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn create(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateCategoryRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let name = validator.check("name", CatalogueName::parse(&body.name));
    let slug = validator.check("slug", CategorySlug::parse(&body.slug));
    let parent_id = validator.check("parent_id", body.parent_id.map(parent_of).transpose());
    let position = validator.check("position", body.position.map(parse_position).transpose());
    let (Some(name), Some(slug), Some(parent_id), Some(position)) =
        (name, slug, parent_id, position)
    else {
        return Err(validator.into_error());
    };
    let category = with_conn(&pool, move |conn| {
        Ok(categories::insert(
            conn,
            parent_id,
            name.as_str(),
            slug.as_str(),
            position,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/categories/{}", category.id),
        ))
        .json(CategoryResponse::from(category)))
}

/// Change or move a category.
///
/// Admins only. Changes the fields sent. A new `parent_id` moves the category and
/// everything below it; its products are then listed under the new ancestors. A move
/// under the category itself or one of its descendants would make a cycle: 409
/// `invalid_state`, nothing changed (moves are checked one at a time in the database, so
/// concurrent moves cannot make one either).
#[utoipa::path(patch, path = "/api/v1/categories/{id}", operation_id = "update_category", tag = "catalogue", security(("bearer" = [])), request_body = UpdateCategoryRequest,
    params(("id" = i32, Path, description = "Category id")),
    responses((status = 200, description = "Changed", body = CategoryResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The slug is taken, or the move would make a cycle", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    body: Result<ApiJson<UpdateCategoryRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let changes = CategoryChanges {
        name: body
            .name
            .and_then(|raw| validator.check("name", CatalogueName::parse(&raw)))
            .map(CatalogueName::into_inner),
        slug: body
            .slug
            .and_then(|raw| validator.check("slug", CategorySlug::parse(&raw)))
            .map(CategorySlug::into_inner),
        parent_id: body.parent_id.and_then(|raw| match raw {
            None => Some(None),
            Some(raw) => validator.check("parent_id", parent_of(raw)).map(Some),
        }),
        position: body
            .position
            .and_then(|raw| validator.check("position", parse_position(raw))),
    };
    validator.finish()?;
    let id = id.into_inner();
    let category = with_conn(&pool, move |conn| {
        Ok(categories::update(conn, id, &changes)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CategoryResponse::from(category)))
}

/// Delete a category.
///
/// Admins only. Its products leave it (their other categories stay). A category with
/// subcategories: 409 `invalid_state` (move or delete them first).
#[utoipa::path(delete, path = "/api/v1/categories/{id}", operation_id = "delete_category", tag = "catalogue", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Category id")),
    responses((status = 204, description = "Deleted"), responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"), (status = 409, description = "It has subcategories", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn delete(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    with_conn(&pool, move |conn| Ok(categories::delete(conn, id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
