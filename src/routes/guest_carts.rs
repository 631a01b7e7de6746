//! Guest carts: `POST /guest-carts` gives an anonymous shopper an empty cart and the
//! token that owns it. The cart routes (`routes/carts.rs`) then accept the token in
//! `X-Cart-Token`; logging in with it (`routes/sessions.rs`) merges the cart into the
//! account's.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{new_token, Throttle};
use crate::config::Config;
use crate::db::DbPool;
use crate::http::client_addr;
use crate::http::conditional::{etag_of, json_bytes};
use crate::http::responses;
use crate::http::with_conn;
use crate::http::CartResponse;
use crate::http::{ApiError, Problem};
use crate::repository::guest_carts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/guest-carts").route(web::post().to(create)));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestCartResponse {
    /// Send as `X-Cart-Token: <token>` to the cart routes, and to `POST /sessions` to merge
    /// the cart into the account's at login. Shown once: only its SHA-256 is stored.
    #[schema(example = "q1vX8yZ0-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456")]
    token: String,
    /// The token stops working, and the cart is removed, at this time.
    expires_at: DateTime<Utc>,
    /// The new, empty cart.
    cart: CartResponse,
}

/// Create a guest cart.
///
/// An empty cart for a shopper without an account, and the cart token that owns it
/// (256 random bits; only its SHA-256 is stored), valid until `expires_at`. Send it as
/// `X-Cart-Token` to `GET /cart`, `POST /cart/items`, `PATCH` and `DELETE
/// /cart/items/{item_id}`; log in (`POST /sessions`) with it to merge the cart into the
/// account's. Creation is limited per client address (429 + Retry-After). The response
/// is `Cache-Control: no-store`; its `ETag` names the cart's version, for `If-Match`.
#[utoipa::path(post, path = "/api/v1/guest-carts", operation_id = "create_guest_cart", tag = "cart",
    responses((status = 201, description = "Created: the token, its expiry and the empty cart; Location: /api/v1/cart", body = GuestCartResponse,
            headers(("ETag" = String, description = "The cart's current version, for If-Match on its changes"), ("Location" = String, description = "/api/v1/cart"), ("Cache-Control" = String, description = "`no-store`: the body holds the cart's token."))),
        (status = 429, description = "Too many guest carts created from this client address (Retry-After)", body = Problem, content_type = "application/problem+json"),
        responses::Unavailable))]
async fn create(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    throttle: web::Data<Throttle>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let address = client_addr(&req);
    let (token, token_hash) = new_token();
    let lifetime = chrono::Duration::from_std(config.guest_cart_lifetime)
        .map_err(|err| ApiError::Internal(format!("guest cart lifetime: {err}")))?;
    // To the microsecond, as stored.
    let expires_at = (Utc::now() + lifetime).trunc_subsecs(6);
    let cart = with_conn(&pool, move |conn| {
        throttle.take_guest_cart(conn, address)?;
        Ok(guest_carts::create_guest_cart(
            conn,
            &token_hash,
            expires_at,
        )?)
    })
    .await?;
    let cart = CartResponse::from((cart, Vec::new()));
    let etag = etag_of(&json_bytes(&cart)?);
    let body = GuestCartResponse {
        token,
        expires_at,
        cart,
    };
    // The body holds a credential: no cache may keep it.
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/v1/cart"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
