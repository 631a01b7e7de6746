//! The open cart: `GET /cart`, `POST /cart/items`, `PATCH|DELETE /cart/items/{id}`,
//! `POST /cart/quote` and `POST /cart/checkout`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use diesel::pg::PgConnection;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{CartCredential, Credential, TokenHash};
use crate::config::Config;
use crate::db::DbPool;
use crate::domain::{Price, Quantity, TaxMode};
use crate::http::address::AddressInput;
use crate::http::conditional::{etag_of, json_bytes, IfMatch, TagCondition};
use crate::http::extract::{
    idempotency_key, optional_whole_number, whole_number, ApiJson, JsonObject, OptionalJson,
    PriceInput,
};
use crate::http::responses;
use crate::http::schemas::nullable_price_schema;
use crate::http::{ApiError, CartResponse, FieldError, OrderResponse, Problem, QuoteResponse};
use crate::repository::carts::{self, CartWithLines, Precondition};
use crate::repository::checkout::{self, CheckoutOutcome, CheckoutRequest};
use crate::repository::pricing::{self, AddressChoice, DeliveryRequest};
use crate::repository::session_carts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/cart").route(web::get().to(show)))
        .service(web::resource("/cart/items").route(web::post().to(add_item)))
        .service(
            web::resource("/cart/items/{item_id}")
                .route(web::patch().to(set_quantity))
                .route(web::delete().to(remove_item)),
        )
        .service(web::resource("/cart/quote").route(web::post().to(quote)))
        .service(web::resource("/cart/checkout").route(web::post().to(checkout)));
}

/// `X-Cart-Token`, documented: how a guest names its cart on the cart routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct CartToken {
    /// A guest cart's token (from POST /api/v1/guest-carts), sent instead of
    /// `Authorization` (with both, `Authorization` wins). Unknown, expired or merged: 401.
    #[param(rename = "X-Cart-Token", value_type = String, required = false, example = "q1vX8yZ0-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456")]
    x_cart_token: Option<String>,
}

/// Get the open cart.
///
/// The user's open cart (created on first need), or a guest's (`X-Cart-Token` instead of
/// `Authorization`; with both, `Authorization` wins), with its lines, product names, current
/// unit prices, line totals, the total and the item count. A line whose product was
/// archived stays readable, `available: false`, and is left out of the total. The `ETag`
/// names the cart's current version, for `If-Match` on the changes.
#[utoipa::path(get, path = "/api/v1/cart", operation_id = "get_cart", tag = "cart", security(("bearer" = []), ()), params(CartToken),
    responses((status = 200, description = "The open cart", body = CartResponse, headers(("ETag" = String, description = "The cart's current version (a digest of the cart as shown); every change to the cart changes it. Send it in If-Match to change the cart only while it is as read."))), responses::Unauthorized, responses::Unavailable))]
async fn show(pool: web::Data<DbPool>, token: CartCredential) -> Result<HttpResponse, ApiError> {
    let cart = token
        .with_session_or_owner(
            &pool,
            |conn, session| Ok(session_carts::open_cart_with_lines(conn, session)?),
            |conn, owner| Ok(carts::open_cart_with_lines(conn, owner)?),
        )
        .await?;
    tagged(HttpResponse::Ok(), cart)
}

/// A cart response with its `ETag`: the digest of the body it carries, so every change
/// to what the cart shows (its lines, quantities, current prices, names, availability,
/// `updated_at`) gives another tag.
fn tagged(
    mut response: HttpResponseBuilder,
    cart: CartWithLines,
) -> Result<HttpResponse, ApiError> {
    let body = json_bytes(&CartResponse::from(cart))?;
    Ok(response
        .insert_header((header::ETAG, etag_of(&body)))
        .content_type("application/json")
        .body(body))
}

/// The request's `If-Match`, as a condition on the open cart; `None` without one, and for
/// `*`, which any cart matches (the open cart always exists: it is created on first need).
fn if_match(req: &HttpRequest) -> Option<TagCondition> {
    match TagCondition::from_headers(req.headers(), header::IF_MATCH)? {
        TagCondition::Any => None,
        tags => Some(tags),
    }
}

/// Runs `change` with the condition as the repository tests it: the cart as it stands
/// under its lock, rendered as a response would render it, must carry one of the tags.
fn with_condition<T>(
    condition: Option<TagCondition>,
    change: impl FnOnce(Precondition<'_>) -> T,
) -> T {
    match condition {
        None => change(None),
        Some(condition) => {
            let holds = move |cart: &CartWithLines| {
                json_bytes(&CartResponse::from(cart.clone()))
                    .is_ok_and(|body| condition.matches_strongly(&etag_of(&body)))
            };
            change(Some(&holds))
        }
    }
}

/// A quantity, or a 422 naming the `quantity` field.
fn valid_quantity(raw: i64) -> Result<Quantity, ApiError> {
    Quantity::parse(raw)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("quantity", message)]))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    /// A product id (ids are 32-bit; one that names no live product is a 404).
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 2147483647)]
    product_id: i64,
    /// 1 to 999 units.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 999)]
    quantity: i64,
}

/// Add to the cart.
///
/// Adds units of a live product; a product already in the cart adds to its line (one
/// atomic upsert). 409 `insufficient_stock` when the line would exceed the stock on
/// hand. Answers 201 with the cart and its new `ETag`. With `If-Match`, only if the cart
/// still has that tag (412 `precondition_failed` otherwise, nothing changed). A guest
/// sends `X-Cart-Token` instead of `Authorization`.
#[utoipa::path(post, path = "/api/v1/cart/items", operation_id = "add_cart_item", tag = "cart", security(("bearer" = []), ()), request_body = AddItemRequest, params(CartToken, IfMatch),
    responses((status = 201, description = "Added; the cart", body = CartResponse, headers(("ETag" = String, description = "The cart's current version (a digest of the cart as shown); every change to the cart changes it. Send it in If-Match to change the cart only while it is as read."))),
        responses::BadRequest, responses::Unauthorized, (status = 404, description = "No such product, or archived", body = Problem, content_type = "application/problem+json"), responses::OutOfStock, responses::PreconditionFailed, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn add_item(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    token: CartCredential,
    body: Result<ApiJson<AddItemRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let input = body.and_then(|body| {
        let quantity = valid_quantity(body.quantity)?;
        // An id outside the column's range (ids start at 1) names no product: a 404
        // decided here, before the cart is looked at (and so before any If-Match).
        let product_id = i32::try_from(body.product_id)
            .ok()
            .filter(|id| *id >= 1)
            .ok_or(ApiError::NotFound)?;
        Ok((product_id, quantity))
    });
    let (product_id, quantity) = token.report_after_authentication(&pool, input).await?;
    let condition = if_match(&req);
    let unconditional = condition.is_none();
    let add = move |conn: &mut PgConnection, owner| {
        with_condition(condition, |precondition| {
            Ok(carts::add_to_open_cart(
                conn,
                owner,
                product_id,
                quantity,
                precondition,
            )?)
        })
    };
    let cart = if unconditional {
        // The common case, a signed-in user's add without If-Match: one statement.
        let by_session = move |conn: &mut PgConnection, session: &TokenHash| {
            Ok(session_carts::add_to_open_cart(
                conn, session, product_id, quantity,
            )?)
        };
        token.with_session_or_owner(&pool, by_session, add).await?
    } else {
        token.with_owner(&pool, add).await?
    };
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, "/api/v1/cart"));
    tagged(response, cart)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    /// 1 to 999 units.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 999)]
    quantity: i64,
}

/// Set a cart line's quantity.
///
/// Sets the quantity of a line of the open cart (the user's, or with `X-Cart-Token` a
/// guest's; 1 to 999, within the stock on hand). A line of another cart is 404. With `If-Match`, only if the cart still has that
/// tag (412 `precondition_failed` otherwise, nothing changed).
#[utoipa::path(patch, path = "/api/v1/cart/items/{item_id}", operation_id = "set_cart_item_quantity", tag = "cart", security(("bearer" = []), ()), request_body = SetQuantityRequest,
    params(("item_id" = i32, Path, description = "Cart line id"), CartToken, IfMatch),
    responses((status = 200, description = "Changed; the cart", body = CartResponse, headers(("ETag" = String, description = "The cart's current version (a digest of the cart as shown); every change to the cart changes it. Send it in If-Match to change the cart only while it is as read."))),
        responses::BadRequest, responses::Unauthorized, (status = 404, description = "No such line in your cart", body = Problem, content_type = "application/problem+json"), responses::OutOfStock, responses::PreconditionFailed, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn set_quantity(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    token: CartCredential,
    item_id: web::Path<i32>,
    body: Result<ApiJson<SetQuantityRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let input = body.and_then(|body| valid_quantity(body.quantity));
    let quantity = token.report_after_authentication(&pool, input).await?;
    let item_id = item_id.into_inner();
    let condition = if_match(&req);
    let cart = token
        .with_owner(&pool, move |conn, owner| {
            with_condition(condition, |precondition| {
                Ok(carts::set_quantity_in_open_cart(
                    conn,
                    owner,
                    item_id,
                    quantity,
                    precondition,
                )?)
            })
        })
        .await?;
    tagged(HttpResponse::Ok(), cart)
}

/// Remove a cart line.
///
/// Removes a line of the open cart (the user's, or with `X-Cart-Token` a guest's). A line
/// of another cart is 404. The 204 carries
/// the `ETag` of the cart as the removal left it. With `If-Match`, only if the cart still
/// has that tag (412 `precondition_failed` otherwise, nothing changed).
#[utoipa::path(delete, path = "/api/v1/cart/items/{item_id}", operation_id = "remove_cart_item", tag = "cart", security(("bearer" = []), ()),
    params(("item_id" = i32, Path, description = "Cart line id"), CartToken, IfMatch),
    responses((status = 204, description = "Removed", headers(("ETag" = String, description = "The cart's current version (a digest of the cart as shown); every change to the cart changes it. Send it in If-Match to change the cart only while it is as read."))), responses::Unauthorized, (status = 404, description = "No such line in your cart", body = Problem, content_type = "application/problem+json"), responses::PreconditionFailed, responses::Unavailable))]
async fn remove_item(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    token: CartCredential,
    item_id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let item_id = item_id.into_inner();
    let condition = if_match(&req);
    let cart = token
        .with_owner(&pool, move |conn, owner| {
            with_condition(condition, |precondition| {
                Ok(carts::remove_from_open_cart(
                    conn,
                    owner,
                    item_id,
                    precondition,
                )?)
            })
        })
        .await?;
    // No body, but the tag of the cart as the removal left it, so the client can send
    // its next change with If-Match without reading the cart again.
    let body = json_bytes(&CartResponse::from(cart))?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::ETAG, etag_of(&body)))
        .finish())
}

/// Where an order goes: an address (inline, or one of the user's saved ones) and a
/// shipping method. Required once the shop has any shipping method; without one, the body
/// may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// The address to ship to, typed in (a guest's only choice). Not with `address_id`.
    #[serde(default)]
    #[schema(value_type = Option<AddressInput>)]
    shipping_address: Option<JsonObject<AddressInput>>,
    /// One of your saved addresses (`GET /api/v1/users/me/addresses`); another user's is
    /// 404. Not with `shipping_address`.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 1, maximum = 2147483647)]
    address_id: Option<i64>,
    /// One of `GET /api/v1/shipping-methods?country=XX`; one that does not ship to the
    /// address's country is a 422 naming this field.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 1, maximum = 2147483647)]
    shipping_method_id: Option<i64>,
}

/// A checkout: the quote's delivery, and the total the client showed its customer.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    /// The address to ship to, typed in; stored with the order as given. Not with
    /// `address_id`.
    #[serde(default)]
    #[schema(value_type = Option<AddressInput>)]
    shipping_address: Option<JsonObject<AddressInput>>,
    /// One of your saved addresses, copied into the order (later edits of the saved one
    /// do not change it); another user's is 404. Not with `shipping_address`.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 1, maximum = 2147483647)]
    address_id: Option<i64>,
    /// A method that ships to the address's country (422 naming this field otherwise).
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 1, maximum = 2147483647)]
    shipping_method_id: Option<i64>,
    /// The `total` of the quote the customer agreed to. When the order would charge
    /// another (a price, shipping method or tax rate changed since), nothing is placed:
    /// 409 `total_changed` with the new totals. Left out: the order is placed at the
    /// prices of the moment, which the 201 shows.
    #[schema(schema_with = nullable_price_schema)]
    expected_total: Option<PriceInput>,
}

/// The delivery a body names, checked for shape: every bad field listed at once.
fn delivery_of(
    address: Option<&AddressInput>,
    address_id: Option<i64>,
    shipping_method_id: Option<i64>,
) -> Result<DeliveryRequest, ApiError> {
    let mut errors = Vec::new();
    let address = match (address, address_id) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "address_id",
                "send either shipping_address or address_id, not both",
            ));
            None
        }
        (Some(input), None) => match input.parse("shipping_address.") {
            Ok(address) => Some(AddressChoice::Given(address)),
            Err(fields) => {
                errors.extend(fields);
                None
            }
        },
        // An id no row can have names no address of the user's: 404, as for another's.
        (None, Some(id)) => Some(AddressChoice::Saved(
            i32::try_from(id).map_err(|_| ApiError::NotFound)?,
        )),
        (None, None) => None,
    };
    // An id no row can have names no method: the same 422 as an unknown one.
    let shipping_method_id = match shipping_method_id.map(i32::try_from) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "shipping_method_id",
                "names no shipping method",
            ));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(DeliveryRequest {
        address,
        shipping_method_id,
    })
}

fn tax_mode(config: &Config) -> TaxMode {
    if config.prices_include_tax {
        TaxMode::Included
    } else {
        TaxMode::Excluded
    }
}

/// Quote the open cart.
///
/// What checking out the open cart would charge, for an address and a shipping method:
/// each line's total and tax, the subtotal, shipping (free from the method's `free_over`),
/// the tax and the total. Writes nothing and places nothing. Tax is the destination
/// country's rate, rounded per line, half-up to the cent; with `PRICES_INCLUDE_TAX` (the
/// default) it is the part of each price the rate makes up, else it is added on top. A
/// guest may ask too (`X-Cart-Token`, the address inline). 422 `empty_cart` when no line
/// can be ordered; 422 naming the field for a missing address or method, an unknown
/// method or one that does not ship to the country.
#[utoipa::path(post, path = "/api/v1/cart/quote", operation_id = "quote_cart", tag = "cart", security(("bearer" = []), ()), request_body = QuoteRequest, params(CartToken),
    responses((status = 200, description = "What the order would charge", body = QuoteResponse),
        responses::BadRequest, responses::Unauthorized, (status = 404, description = "address_id names no address of yours", body = Problem, content_type = "application/problem+json"), responses::TooLarge,
        (status = 422, description = "Invalid or missing fields (validation_failed), or nothing to order (empty_cart)", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn quote(
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
    token: CartCredential,
    body: Result<OptionalJson<QuoteRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let input = body.and_then(|body| {
        let body = body.0.unwrap_or_default();
        delivery_of(
            body.shipping_address
                .as_ref()
                .map(|JsonObject(address)| address),
            body.address_id,
            body.shipping_method_id,
        )
    });
    let delivery = token.report_after_authentication(&pool, input).await?;
    let mode = tax_mode(&config);
    let quote = token
        .with_owner(&pool, move |conn, owner| {
            Ok(pricing::quote(conn, owner, &delivery, mode)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(QuoteResponse::from(&quote)))
}

/// What a checkout asks for, parsed: the retry key, the delivery and the expected total.
struct CheckoutInput {
    key: Option<String>,
    delivery: DeliveryRequest,
    expected_total: Option<Price>,
}

fn checkout_input(
    req: &HttpRequest,
    body: Result<OptionalJson<CheckoutBody>, ApiError>,
) -> Result<CheckoutInput, ApiError> {
    let key = idempotency_key(req)?;
    let body = body?.0.unwrap_or_default();
    let delivery = delivery_of(
        body.shipping_address
            .as_ref()
            .map(|JsonObject(address)| address),
        body.address_id,
        body.shipping_method_id,
    );
    let expected_total = body
        .expected_total
        .as_ref()
        .map(PriceInput::parse)
        .transpose();
    match (delivery, expected_total) {
        (Ok(delivery), Ok(expected_total)) => Ok(CheckoutInput {
            key,
            delivery,
            expected_total,
        }),
        (delivery, expected_total) => {
            let mut errors = match delivery {
                Err(ApiError::Validation(errors)) => errors,
                Err(other) => return Err(other),
                Ok(_) => Vec::new(),
            };
            if let Err(message) = expected_total {
                errors.push(FieldError::new("expected_total", message));
            }
            Err(ApiError::Validation(errors))
        }
    }
}

/// Check out.
///
/// Turns the open cart into an order in one transaction: locks the products in id
/// order, checks stock, decrements inventory, freezes unit prices and each line's tax,
/// and stores the address and what the order charges (`subtotal`, `shipping`, `tax`,
/// `total`, computed as `POST /api/v1/cart/quote` computes them, at the prices of the
/// locked products). The body names the delivery as the quote's does, and is required once
/// the shop has any shipping method; without one it may be left out (no shipping; tax
/// from the address's country if one is given, else none). Send the quote's total as
/// `expected_total` to have a changed price refused (409 `total_changed`, nothing placed)
/// rather than charged. 409 `insufficient_stock` lists each short line; 422 `empty_cart`
/// for an empty cart. With an `Idempotency-Key`, a retry returns the first order again
/// with `Idempotent-Replayed: true`. With `If-Match`, only if the cart still has that
/// tag, its prices included (412 `precondition_failed` otherwise, nothing changed). Needs
/// an account: a guest (cart token only) gets 401 `login_required`, saying to log in,
/// which merges the guest cart into the account's.
#[utoipa::path(post, path = "/api/v1/cart/checkout", operation_id = "check_out", tag = "cart", security(("bearer" = [])),
    request_body(content = CheckoutBody, description = "The delivery (required once the shop has shipping methods) and the expected total; the body may be left out otherwise"),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "Makes a retried checkout return the first order (1-255 visible ASCII characters)"), IfMatch),
    responses((status = 201, description = "Order placed (or replayed: Idempotent-Replayed: true); Location: /api/v1/orders/{id}", body = OrderResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the first order again, for a retried Idempotency-Key; absent otherwise"))),
        responses::BadRequest, (status = 401, description = "unauthorized: missing, unknown, expired or revoked bearer token; login_required: only a cart token (a guest), whose detail says to log in: checkout needs an account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "address_id names no address of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough stock (insufficient_stock, with items), or the order would not charge expected_total (total_changed, with quote)", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed, responses::TooLarge, (status = 422, description = "Empty cart (empty_cart); invalid or missing delivery fields, or the key was used for another cart (validation_failed)", body = Problem, content_type = "application/problem+json"), responses::Unavailable))]
async fn checkout(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
    credential: CartCredential,
    body: Result<OptionalJson<CheckoutBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let payment_window = config.order_payment_window;
    let low_stock_threshold = config.low_stock_threshold;
    let tax_mode = tax_mode(&config);
    // A guest's cart is merged into an account's at login; it is never checked out.
    let token = credential.require_user()?;
    let input = checkout_input(&req, body);
    let input = token.report_after_authentication(&pool, input).await?;
    let condition = if_match(&req);
    let outcome = token
        .with_user(&pool, move |conn, user_id| {
            with_condition(condition, |precondition| {
                let request = CheckoutRequest {
                    user_id,
                    idempotency_key: input.key.as_deref(),
                    payment_window,
                    delivery: &input.delivery,
                    tax_mode,
                    expected_total: input.expected_total.as_ref().map(Price::as_decimal),
                    low_stock_threshold,
                };
                Ok(checkout::checkout(conn, request, precondition)?)
            })
        })
        .await?;
    let (order, replayed) = match outcome {
        CheckoutOutcome::Placed(order) => (order, false),
        CheckoutOutcome::Replayed(order) => (order, true),
    };
    let mut response = HttpResponse::Created();
    response.insert_header((
        header::LOCATION,
        format!("/api/v1/orders/{}", order.order.id),
    ));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(OrderResponse::from(order)))
}
