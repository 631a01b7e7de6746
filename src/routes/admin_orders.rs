//! Staff's view of the orders: `GET /admin/orders`, every customer's, newest first, with
//! filters on the three states.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::orders::{page_of, page_response, OrderPage};
use crate::auth::AdminUser;
use crate::db::DbPool;
use crate::http::extract::ApiQuery;
use crate::http::schemas::filter_enum;
use crate::http::{responses, with_conn, ApiError, FieldError};
use crate::models::{FulfilmentStatus, OrderStatus, PaymentStatus};
use crate::repository::orders::{self, OrderFilter};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/orders").route(web::get().to(list)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminListQuery {
    /// Only orders in this state.
    #[param(schema_with = status_filter_schema)]
    status: Option<String>,
    /// Only orders whose payment is in this state.
    #[param(schema_with = payment_status_filter_schema)]
    payment_status: Option<String>,
    /// Only orders shipped (`fulfilled`) or not (`unfulfilled`).
    #[param(schema_with = fulfilment_status_filter_schema)]
    fulfilment_status: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, as it came (empty: none); keep the filters the
    /// same. A cursor this service did not issue, or one altered, is a 400.
    #[param(pattern = "^([A-Za-z0-9_-]{24})?$")]
    cursor: Option<String>,
}

fn status_filter_schema() -> utoipa::openapi::Object {
    filter_enum(OrderStatus::ALL)
}

fn payment_status_filter_schema() -> utoipa::openapi::Object {
    filter_enum(PaymentStatus::ALL)
}

fn fulfilment_status_filter_schema() -> utoipa::openapi::Object {
    filter_enum(FulfilmentStatus::ALL)
}

/// List every customer's orders.
///
/// Admins only. Newest first, keyset paginated (`next_cursor` back as `cursor` until
/// null); `status`, `payment_status` and `fulfilment_status` filter (together: all must
/// hold). An unknown filter value is a 400 naming the parameter.
#[utoipa::path(get, path = "/api/v1/admin/orders", operation_id = "list_all_orders", tag = "orders", security(("bearer" = [])), params(AdminListQuery),
    responses((status = 200, description = "A page of orders, newest first", body = OrderPage), responses::BadRequest, responses::Unauthorized, responses::Forbidden, responses::Invalid, responses::Unavailable))]
async fn list(
    _admin: AdminUser,
    pool: web::Data<DbPool>,
    query: ApiQuery<AdminListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut wrong = Vec::new();
    let filter = OrderFilter {
        user_id: None,
        status: state(
            "status",
            query.status.as_deref(),
            OrderStatus::parse,
            OrderStatus::ALL,
            &mut wrong,
        ),
        payment_status: state(
            "payment_status",
            query.payment_status.as_deref(),
            PaymentStatus::parse,
            PaymentStatus::ALL,
            &mut wrong,
        ),
        fulfilment_status: state(
            "fulfilment_status",
            query.fulfilment_status.as_deref(),
            FulfilmentStatus::parse,
            FulfilmentStatus::ALL,
            &mut wrong,
        ),
    };
    if !wrong.is_empty() {
        return Err(ApiError::BadQuery(wrong));
    }
    let (size, after) = page_of(query.limit, query.cursor)?;
    let rows = with_conn(&pool, move |conn| {
        Ok(orders::list_orders(
            conn,
            filter,
            after,
            size.with_lookahead(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page_response(rows, size)))
}

/// A state filter: empty or absent is none; a word that is not one of `words` is
/// recorded in `wrong`.
fn state<T>(
    field: &str,
    raw: Option<&str>,
    parse: fn(&str) -> Option<T>,
    words: &[&str],
    wrong: &mut Vec<FieldError>,
) -> Option<T> {
    let raw = raw.filter(|raw| !raw.is_empty())?;
    let parsed = parse(raw);
    if parsed.is_none() {
        wrong.push(FieldError::new(
            field,
            format!("must be one of {}", words.join(", ")),
        ));
    }
    parsed
}
