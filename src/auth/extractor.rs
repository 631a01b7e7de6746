//! `AuthUser` and `AdminUser`: extractors that admit a request only with a valid bearer
//! token (and, for `AdminUser`, an admin account), answering 401 / 403 otherwise.
//! `CartCredential`: the cart routes' credential, a bearer token or a guest's cart token
//! (`X-Cart-Token`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use diesel::pg::PgConnection;

use super::token::{hash_token, TokenHash};
use crate::db::DbPool;
use crate::http::credentials::CART_TOKEN_HEADER;
use crate::http::{with_conn, ApiError};
use crate::models::UserProfile;
use crate::repository::carts::CartOwner;
use crate::repository::guest_carts::find_guest_cart;
use crate::repository::sessions;

/// The hash of the request's `X-Cart-Token`: `None` without the header, `Some(None)` for
/// a value that cannot be one of our tokens (which names no cart).
pub fn presented_cart_token_hash(req: &HttpRequest) -> Option<Option<TokenHash>> {
    let value = req.headers().get(CART_TOKEN_HEADER)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|token| hash_token(token.trim())),
    )
}

/// The user whose unexpired session token came with the request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: UserProfile,
    /// Identifies the session, so logout can revoke exactly this one.
    pub token_hash: TokenHash,
}

/// An authenticated user who is an admin.
#[derive(Debug, Clone)]
pub struct AdminUser(pub UserProfile);

/// The token from `Authorization: Bearer <token>` (scheme case-insensitive), hashed.
fn presented_token_hash(req: &HttpRequest) -> Option<TokenHash> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    hash_token(token.trim())
}

/// The 401 for a request without a usable bearer token at a route that needs an account:
/// `login_required` for a guest (a cart token and no `Authorization`), so a front end
/// knows to log in rather than to refresh a token; `unauthorized` otherwise.
fn no_bearer_token(req: &HttpRequest) -> ApiError {
    if !req.headers().contains_key(header::AUTHORIZATION)
        && req.headers().contains_key(CART_TOKEN_HEADER)
    {
        ApiError::LoginRequired
    } else {
        ApiError::Unauthorized
    }
}

/// The request's bearer token, checked for form but not yet looked up. Handlers that
/// query anyway call `authenticate` inside their own `with_conn`, so the session lookup
/// and the work share one blocking-pool hop and one pooled connection.
#[derive(Debug, Clone, Copy)]
pub struct BearerToken(TokenHash);

impl BearerToken {
    /// The user holding this token's unexpired session; 401 otherwise.
    pub fn authenticate(&self, conn: &mut PgConnection) -> Result<UserProfile, ApiError> {
        sessions::find_user(conn, &self.0)?.ok_or(ApiError::Unauthorized)
    }

    /// Runs `work` for the token's user, given a pooled connection and the user's id: the
    /// session lookup and the work share one blocking call and one connection.
    pub async fn with_user<T, F>(self, pool: &DbPool, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection, i32) -> Result<T, ApiError> + Send + 'static,
    {
        self.with_holder(pool, work).await
    }
}

impl Credential for BearerToken {
    type Holder = i32;

    fn look_up(&self, conn: &mut PgConnection) -> Result<i32, ApiError> {
        Ok(self.authenticate(conn)?.id)
    }
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            presented_token_hash(req)
                .map(Self)
                .ok_or_else(|| no_bearer_token(req)),
        )
    }
}

/// Who a cart route works for: a user by bearer token, or a guest by cart token. With
/// both headers `Authorization` wins (a bad bearer token is a 401 even beside a good cart
/// token); neither is a 401. Checked for form here, looked up by `with_owner` inside the
/// handler's own blocking call, as `BearerToken` is.
#[derive(Debug, Clone, Copy)]
pub enum CartCredential {
    Bearer(BearerToken),
    /// `None`: a value that cannot be one of our tokens (so names no cart).
    Guest(Option<TokenHash>),
}

impl CartCredential {
    /// The bearer token; a guest gets 401 `login_required` (checkout needs an account).
    pub fn require_user(self) -> Result<BearerToken, ApiError> {
        match self {
            Self::Bearer(token) => Ok(token),
            Self::Guest(_) => Err(ApiError::LoginRequired),
        }
    }

    /// The cart owner this credential names; 401 for an unknown or expired session, or a
    /// cart token that is unknown, expired or already merged.
    pub fn owner(&self, conn: &mut PgConnection) -> Result<CartOwner, ApiError> {
        match self {
            Self::Bearer(token) => Ok(CartOwner::User(token.authenticate(conn)?.id)),
            Self::Guest(Some(hash)) => find_guest_cart(conn, hash)?
                .map(CartOwner::Guest)
                .ok_or(ApiError::CartTokenInvalid),
            Self::Guest(None) => Err(ApiError::CartTokenInvalid),
        }
    }

    /// Runs `work` for the credential's cart owner: the lookup and the work share one
    /// blocking call and one pooled connection.
    pub async fn with_owner<T, F>(self, pool: &DbPool, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection, CartOwner) -> Result<T, ApiError> + Send + 'static,
    {
        self.with_holder(pool, work).await
    }

    /// As `with_owner`, for a route whose statement finds a signed-in user's cart by the
    /// session token itself (`repository::session_carts`), a round trip less: with a
    /// bearer token `by_session` runs first, and only when it finds nothing (no such
    /// session, or no open cart yet; it must then have changed nothing) is the credential
    /// looked up and `work` run, on the same connection in the same blocking call. A
    /// guest's cart token goes straight to `work`.
    pub async fn with_session_or_owner<T, G, F>(
        self,
        pool: &DbPool,
        by_session: G,
        work: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        G: FnOnce(&mut PgConnection, &TokenHash) -> Result<Option<T>, ApiError> + Send + 'static,
        F: FnOnce(&mut PgConnection, CartOwner) -> Result<T, ApiError> + Send + 'static,
    {
        with_conn(pool, move |conn| {
            if let Self::Bearer(BearerToken(session)) = self {
                if let Some(found) = by_session(conn, &session)? {
                    return Ok(found);
                }
            }
            let owner = self.owner(conn)?;
            work(conn, owner)
        })
        .await
    }
}

impl Credential for CartCredential {
    type Holder = CartOwner;

    fn look_up(&self, conn: &mut PgConnection) -> Result<CartOwner, ApiError> {
        self.owner(conn)
    }
}

/// A credential checked for form when the request is extracted and looked up later,
/// inside the handler's own blocking call: `BearerToken` (its holder the user's id) and
/// `CartCredential` (the cart owner).
pub trait Credential: Copy + Send + 'static {
    /// Whom the credential names once looked up.
    type Holder;

    /// The holder; 401 for a credential that names nobody (now).
    fn look_up(&self, conn: &mut PgConnection) -> Result<Self::Holder, ApiError>;

    /// Runs `work` for the credential's holder: the lookup and the work share one
    /// blocking call and one pooled connection.
    fn with_holder<T, F>(self, pool: &DbPool, work: F) -> impl Future<Output = Result<T, ApiError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection, Self::Holder) -> Result<T, ApiError> + Send + 'static,
    {
        with_conn(pool, move |conn| {
            let holder = self.look_up(conn)?;
            work(conn, holder)
        })
    }

    /// Passes a request's own problem (unreadable body, invalid field, bad header) on
    /// only to a client whose credential is valid: anyone else learns 401 and nothing
    /// about what the route expects. The lookup costs a hop only on this error path.
    fn report_after_authentication<T>(
        &self,
        pool: &DbPool,
        input: Result<T, ApiError>,
    ) -> impl Future<Output = Result<T, ApiError>> {
        let credential = *self;
        async move {
            match input {
                Ok(value) => Ok(value),
                Err(problem) => {
                    credential.with_holder(pool, |_, _| Ok(())).await?;
                    Err(problem)
                }
            }
        }
    }
}

impl FromRequest for CartCredential {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credential = if req.headers().contains_key(header::AUTHORIZATION) {
            presented_token_hash(req)
                .map(|hash| Self::Bearer(BearerToken(hash)))
                .ok_or(ApiError::Unauthorized)
        } else {
            match presented_cart_token_hash(req) {
                Some(hash) => Ok(Self::Guest(hash)),
                None => Err(ApiError::Unauthorized),
            }
        };
        std::future::ready(credential)
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token_hash = presented_token_hash(req).ok_or_else(|| no_bearer_token(req));
        let pool = req.app_data::<web::Data<DbPool>>().cloned();
        Box::pin(async move {
            let token_hash = token_hash?;
            let pool = pool.ok_or_else(|| ApiError::Internal("no pool in app data".into()))?;
            let user = with_conn(&pool, move |conn| {
                Ok(sessions::find_user(conn, &token_hash)?)
            })
            .await?
            .ok_or(ApiError::Unauthorized)?;
            Ok(Self { user, token_hash })
        })
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticated = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let AuthUser { user, .. } = authenticated.await?;
            if user.is_admin {
                Ok(Self(user))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}
