//! Login sessions: `POST /sessions` (log in) and `DELETE /sessions/current` (log out).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{new_token, presented_cart_token_hash, AuthUser, Passwords, Throttle};
use crate::config::Config;
use crate::db::DbPool;
use crate::http::client_addr;
use crate::http::extract::ApiJson;
use crate::http::responses;
use crate::http::schemas::string_enum;
use crate::http::with_conn;
use crate::http::UserResponse;
use crate::http::{ApiError, Problem};
use crate::models::NewSession;
use crate::repository::guest_carts::{merge_guest_cart, CartMerge};
use crate::repository::{in_transaction, sessions, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sessions").route(web::post().to(log_in)))
        .service(web::resource("/sessions/current").route(web::delete().to(log_out)));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email address.
    login: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse<'a> {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    #[schema(schema_with = bearer_schema)]
    token_type: &'static str,
    expires_at: DateTime<Utc>,
    user: UserResponse<'a>,
    /// What logging in with `X-Cart-Token` did to the guest cart; null without the
    /// header. A token that names no live guest cart (unknown, expired, or merged by an
    /// earlier login) merges nothing: zero lines, nothing capped or dropped.
    #[schema(required = true)]
    cart_merge: Option<CartMergeResponse>,
}

/// The guest cart merged into the user's open cart at login.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartMergeResponse {
    /// Guest lines whose units (all or some) went into the user's cart.
    merged_lines: u32,
    /// Lines held back by the stock on hand or the per-line maximum (999).
    capped: Vec<CappedLineResponse>,
    /// Products of guest lines left out because they were archived.
    dropped: Vec<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CappedLineResponse {
    product_id: i32,
    /// The user's and the guest's units of the product together.
    requested: i32,
    /// The units the user's cart line has now (0: none left in stock, no line).
    kept: i32,
}

impl From<CartMerge> for CartMergeResponse {
    fn from(merge: CartMerge) -> Self {
        Self {
            merged_lines: merge.merged_lines,
            capped: merge
                .capped
                .into_iter()
                .map(|line| CappedLineResponse {
                    product_id: line.product_id,
                    requested: line.requested,
                    kept: line.kept,
                })
                .collect(),
            dropped: merge.dropped,
        }
    }
}

/// `token_type` is always `Bearer`.
fn bearer_schema() -> utoipa::openapi::Object {
    string_enum(["Bearer"])
}

/// Log in.
///
/// Exchanges a username or email and a password for a bearer token (`Authorization:
/// Bearer <token>`) valid until `expires_at`. A wrong password and an unknown login get
/// the same 401. Failed logins are limited per login, per account and per client
/// address, across all instances (429 + Retry-After). The response is `Cache-Control:
/// no-store`.
///
/// With `X-Cart-Token`, a successful login also merges that guest cart into the user's
/// open cart (one transaction): the same product adds up, capped at the stock on hand
/// and at 999; archived products are dropped; the guest cart is closed and its token
/// stops working. `cart_merge` says what happened. A token that names no live guest cart
/// merges nothing and never fails the login; a failed login merges nothing.
#[utoipa::path(post, path = "/api/v1/sessions", operation_id = "log_in", tag = "accounts", request_body = LoginRequest,
    params(("X-Cart-Token" = Option<String>, Header, nullable = false, description = "A guest cart's token (POST /api/v1/guest-carts): merged into the user's open cart at login")),
    responses((status = 200, description = "Logged in", body = SessionResponse,
            headers(("Cache-Control" = String, description = "`no-store`: the body is a credential."))),
        responses::BadRequest, (status = 401, description = "Unknown login or wrong password", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid,
        (status = 429, description = "Too many failed logins for this login or address (Retry-After)", body = Problem, content_type = "application/problem+json"), responses::Unavailable, responses::Bug))]
async fn log_in(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    passwords: web::Data<Passwords>,
    throttle: web::Data<Throttle>,
    config: web::Data<Config>,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { login, password } = body.into_inner();
    let address = client_addr(&req);
    // `Some(None)`: a header that cannot be one of our tokens, which merges nothing.
    let cart_token = presented_cart_token_hash(&req);

    // One hop: find the account, then count the attempt against the name, the account
    // and the address (429 when any is used up) before any password is checked.
    let user = {
        let (login, throttle) = (login.clone(), throttle.clone());
        with_conn(&pool, move |conn| {
            // PostgreSQL text cannot hold NUL: such a login names nobody.
            let user = if login.contains('\0') {
                None
            } else {
                users::find_for_login(conn, &login)?
            };
            let account = user.as_ref().map(|user| user.profile.id);
            throttle.take_login(conn, &login, address, account)?;
            Ok(user)
        })
        .await?
    };
    // Unknown login and wrong password take the same time and give the same answer; the
    // attempt taken above is the failure's count.
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let verified = passwords.verify(password, stored_hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(ApiError::LoginFailed);
    };

    let (token, token_hash) = new_token();
    let lifetime = chrono::Duration::from_std(config.session_lifetime)
        .map_err(|err| ApiError::Internal(format!("session lifetime: {err}")))?;
    let expires_at = Utc::now() + lifetime;
    let user_id = user.profile.id;
    let (session, cart_merge) = with_conn(&pool, move |conn| {
        throttle.login_succeeded(conn, &login, address, user_id)?;
        sessions::delete_expired_for(conn, user_id)?;
        // The merge and the session commit together: a login that fails here leaves the
        // guest cart (and its token) as they were, for the retry.
        in_transaction(conn, |conn| {
            let cart_merge = match cart_token {
                None => None,
                Some(None) => Some(CartMerge::default()),
                Some(Some(cart_token)) => {
                    Some(merge_guest_cart(conn, &cart_token, user_id)?.unwrap_or_default())
                }
            };
            let session = sessions::insert(
                conn,
                &NewSession {
                    user_id,
                    token_hash: &token_hash,
                    expires_at,
                },
            )?;
            Ok((session, cart_merge))
        })
    })
    .await?;
    // The body is a credential: no cache, shared or private, may keep it.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionResponse {
            token,
            token_type: "Bearer",
            expires_at: session.expires_at,
            user: UserResponse::from(&user.profile),
            cart_merge: cart_merge.map(CartMergeResponse::from),
        }))
}

/// Log out.
///
/// Revokes the session whose token authenticated this request: the token stops working
/// at once. Other sessions of the same user (other devices) stay logged in.
#[utoipa::path(delete, path = "/api/v1/sessions/current", operation_id = "log_out", tag = "accounts", security(("bearer" = [])),
    responses((status = 204, description = "Logged out; the token no longer works"), responses::Unauthorized, responses::Unavailable))]
async fn log_out(pool: web::Data<DbPool>, auth: AuthUser) -> Result<HttpResponse, ApiError> {
    let token_hash = auth.token_hash;
    with_conn(&pool, move |conn| Ok(sessions::delete(conn, &token_hash)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
