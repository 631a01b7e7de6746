//! Variant groups: `GET /product-groups/{id}` (anyone: the group and its live variants),
//! and for staff `GET /product-groups` (keyset pages), `POST`, `PATCH`, `DELETE`. A
//! variant joins its group through the product's own `group_id` and `options`.

use std::fmt;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminUser;
use crate::db::DbPool;
use crate::domain::{CatalogueName, OptionAxes, PageSize};
use crate::http::cursor;
use crate::http::extract::{present, ApiJson, ApiQuery};
use crate::http::paging::split_page;
use crate::http::responses;
use crate::http::schemas::{catalogue_name_schema, option_axes_schema};
use crate::http::validate::Validator;
use crate::http::{with_conn, ApiError, Problem, ProductResponse};
use crate::models::{NewProductGroup, ProductGroup, ProductGroupChanges, StoredAxes};
use crate::repository::{product_groups, products};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/product-groups")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/product-groups/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// Option axes as JSON has them: an object from each option's name to its values, in
/// the order given (kept: it is the order a front end shows the pickers in).
#[derive(Debug, Clone, Default)]
pub struct AxesJson(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for AxesJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = AxesJson;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object from option names to arrays of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AxesJson, A::Error> {
                let mut axes = Vec::new();
                while let Some(entry) = map.next_entry::<String, Vec<String>>()? {
                    axes.push(entry);
                }
                Ok(AxesJson(axes))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

impl Serialize for AxesJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, values) in &self.0 {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

impl From<StoredAxes> for AxesJson {
    fn from(axes: StoredAxes) -> Self {
        Self(axes.0.into_iter().map(|a| (a.name, a.values)).collect())
    }
}

fn parse_axes(raw: AxesJson) -> Result<StoredAxes, String> {
    OptionAxes::parse(raw.0).map(|axes| StoredAxes(axes.axes().to_vec()))
}

/// A variant group and its live variants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductGroupResponse {
    pub id: i32,
    #[schema(example = "Linen shirt")]
    pub name: String,
    /// Each option and the values a variant may take, in display order.
    #[schema(value_type = std::collections::BTreeMap<String, Vec<String>>, example = json!({"size": ["S", "M", "L"], "colour": ["white", "blue"]}))]
    pub options: AxesJson,
    /// Its live variants, oldest first (archived ones are left out). Each is a product.
    pub variants: Vec<ProductResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductGroupResponse {
    fn new(group: ProductGroup, variants: Vec<ProductResponse>) -> Self {
        Self {
            id: group.id,
            name: group.name,
            options: group.options.into(),
            variants,
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}

/// A page of groups (without their variants).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductGroupPage {
    pub items: Vec<ProductGroupResponse>,
    /// Pass back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^([A-Za-z0-9_-]{14})?$")]
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductGroupRequest {
    #[schema(schema_with = catalogue_name_schema)]
    name: String,
    #[schema(schema_with = option_axes_schema)]
    options: AxesJson,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductGroupRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = catalogue_name_schema)]
    name: Option<String>,
    /// Replaces the options; they must still admit every live variant's values (409
    /// `invalid_state` otherwise).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = option_axes_schema)]
    options: Option<AxesJson>,
}

const CURSOR_KIND: &str = "product-groups";

/// Get a variant group.
///
/// Public: the group, its options and its live variants (each a product with its own
/// price and stock; add one to the cart by its product id).
#[utoipa::path(get, path = "/api/v1/product-groups/{id}", operation_id = "get_product_group", tag = "catalogue",
    params(("id" = i32, Path, description = "Product group id")),
    responses((status = 200, description = "The group with its variants", body = ProductGroupResponse), (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn show(pool: web::Data<DbPool>, id: web::Path<i32>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (group, variants) = with_conn(&pool, move |conn| {
        Ok((
            product_groups::find(conn, id)?,
            products::live_variants(conn, id)?,
        ))
    })
    .await?;
    let variants = variants.into_iter().map(ProductResponse::from).collect();
    Ok(HttpResponse::Ok().json(ProductGroupResponse::new(group, variants)))
}

/// List variant groups.
///
/// Admins only. Oldest first, keyset paginated; `variants` is empty here (read a group
/// for its variants).
#[utoipa::path(get, path = "/api/v1/product-groups", operation_id = "list_product_groups", tag = "catalogue", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of groups", body = ProductGroupPage), responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::Invalid, responses::Unavailable))]
async fn list(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let size = PageSize::parse(query.limit).map_err(|message| {
        ApiError::Validation(vec![crate::http::FieldError::new("limit", message)])
    })?;
    let after = match query.cursor.filter(|raw| !raw.is_empty()) {
        Some(raw) => Some(
            cursor::open::<4>(CURSOR_KIND, &raw)
                .map(i32::from_be_bytes)
                .ok_or_else(cursor::rejected)?,
        ),
        None => None,
    };
    let limit = size.with_lookahead();
    let rows = with_conn(&pool, move |conn| {
        Ok(product_groups::page(conn, after, limit)?)
    })
    .await?;
    let (rows, next_cursor) = split_page(rows, size, |last| {
        Some(cursor::seal(CURSOR_KIND, &last.id.to_be_bytes()))
    });
    Ok(HttpResponse::Ok().json(ProductGroupPage {
        items: rows
            .into_iter()
            .map(|group| ProductGroupResponse::new(group, Vec::new()))
            .collect(),
        next_cursor,
    }))
}

/// Create a variant group.
///
/// Admins only. 201 with the group (no variants yet) and its `Location`. Variants join
/// it as products: `POST /products` with `group_id` and `options`.
#[utoipa::path(post, path = "/api/v1/product-groups", operation_id = "create_product_group", tag = "catalogue", security(("bearer" = [])), request_body = CreateProductGroupRequest,
    responses((status = 201, description = "Created; Location: /api/v1/product-groups/{id}", body = ProductGroupResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn create(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    // A Result, so AdminUser's 401 / 403 comes before any complaint about the body.
    body: Result<ApiJson<CreateProductGroupRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let name = validator.check("name", CatalogueName::parse(&body.name));
    let options = validator.check("options", parse_axes(body.options));
    let (Some(name), Some(options)) = (name, options) else {
        return Err(validator.into_error());
    };
    let group = with_conn(&pool, move |conn| {
        Ok(product_groups::insert(
            conn,
            &NewProductGroup {
                name: name.as_str(),
                options: options.clone(),
            },
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/product-groups/{}", group.id),
        ))
        .json(ProductGroupResponse::new(group, Vec::new())))
}

/// Change a variant group.
///
/// Admins only. New `options` must still admit every live variant's values: 409
/// `invalid_state` otherwise (change or archive those variants first). Answers with the
/// group and its variants.
#[utoipa::path(patch, path = "/api/v1/product-groups/{id}", operation_id = "update_product_group", tag = "catalogue", security(("bearer" = [])), request_body = UpdateProductGroupRequest,
    params(("id" = i32, Path, description = "Product group id")),
    responses((status = 200, description = "Changed", body = ProductGroupResponse),
        responses::BadRequest, responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"), (status = 409, description = "A live variant's values would not fit the new options", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
    body: Result<ApiJson<UpdateProductGroupRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let mut validator = Validator::default();
    let changes = ProductGroupChanges {
        name: body
            .name
            .and_then(|raw| validator.check("name", CatalogueName::parse(&raw)))
            .map(CatalogueName::into_inner),
        options: body
            .options
            .and_then(|raw| validator.check("options", parse_axes(raw))),
    };
    validator.finish()?;
    let id = id.into_inner();
    let (group, variants) = with_conn(&pool, move |conn| {
        let group = product_groups::update(conn, id, &changes)?;
        Ok((group, products::live_variants(conn, id)?))
    })
    .await?;
    let variants = variants.into_iter().map(ProductResponse::from).collect();
    Ok(HttpResponse::Ok().json(ProductGroupResponse::new(group, variants)))
}

/// Delete a variant group.
///
/// Admins only. A group with live variants: 409 `invalid_state` (archive them or take
/// them out of the group first); its archived variants leave it.
#[utoipa::path(delete, path = "/api/v1/product-groups/{id}", operation_id = "delete_product_group", tag = "catalogue", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product group id")),
    responses((status = 204, description = "Deleted"), responses::Unauthorized, responses::Forbidden, (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"), (status = 409, description = "It has live variants", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn delete(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    with_conn(&pool, move |conn| Ok(product_groups::delete(conn, id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
