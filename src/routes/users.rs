//! Accounts: `POST /users` (register) and `GET /users/me`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{AuthUser, Passwords, Throttle};
use crate::db::DbPool;
use crate::domain::{DisplayName, Email, Password, Username};
use crate::http::client_addr;
use crate::http::extract::ApiJson;
use crate::http::responses;
use crate::http::schemas::{display_name_schema, email_schema, password_schema, username_schema};
use crate::http::validate::all_valid;
use crate::http::with_conn;
use crate::http::{ApiError, FieldError, Problem, UserResponse};
use crate::models::NewUser;
use crate::repository::users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::post().to(register)))
        .service(
            web::resource("/users/me")
                .route(web::get().to(me))
                .route(web::patch().to(update_me)),
        );
}

/// Only these fields; anything else (`is_admin`, `id`, ...) is rejected, not ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(schema_with = username_schema)]
    username: String,
    #[schema(schema_with = email_schema)]
    email: String,
    #[schema(schema_with = password_schema)]
    password: String,
    /// Optional; absent or null: the username.
    #[serde(default)]
    #[schema(schema_with = display_name_schema, nullable = true)]
    name: Option<String>,
}

/// Only `name` can be changed here.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(schema_with = display_name_schema)]
    name: String,
}

/// Register an account.
///
/// Creates a customer account and answers 201 with the user and `Location:
/// /api/v1/users/me`. A taken username or email (emails compare case-insensitively) is
/// 409 naming every taken field; invalid fields are 422 naming each. Registrations are
/// limited per client address (429 + Retry-After).
#[utoipa::path(post, path = "/api/v1/users", operation_id = "register_user", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, description = "Registered; Location: /api/v1/users/me", body = UserResponse),
        responses::BadRequest, (status = 409, description = "Username or email already taken", body = Problem, content_type = "application/problem+json"), responses::TooLarge, responses::Invalid,
        (status = 429, description = "Too many registrations from this client address (Retry-After)", body = Problem, content_type = "application/problem+json"), responses::Unavailable, responses::Bug))]
async fn register(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    passwords: web::Data<Passwords>,
    throttle: web::Data<Throttle>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (username, email, password, name) = all_valid!(
        username: "username" => Username::parse(&body.username),
        email: "email" => Email::parse(&body.email),
        password: "password" => Password::parse(&body.password),
        name: "name" => body.name.as_deref().map(DisplayName::parse).transpose(),
    )?;

    // Counted before the expensive hash, so a script cannot make the server hash (or
    // fill the table) faster than the allowance.
    let address = client_addr(&req);
    let registrations = throttle.clone();
    with_conn(&pool, move |conn| {
        registrations.take_registration(conn, address)
    })
    .await?;

    let password_hash = passwords.hash(password).await?;
    let user = with_conn(&pool, move |conn| {
        let new_user = NewUser {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &password_hash,
            name: name.as_ref().map(DisplayName::as_str),
        };
        Ok(users::register(conn, &new_user)?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/v1/users/me"))
        .json(UserResponse::from(&user)))
}

/// The current user.
///
/// The profile of the user whose bearer token came with the request.
#[utoipa::path(get, path = "/api/v1/users/me", operation_id = "get_current_user", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The token holder's profile", body = UserResponse), responses::Unauthorized, responses::Unavailable))]
async fn me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(UserResponse::from(&auth.user))
}

/// Change the current user's name.
///
/// Sets the name the shop greets the user by (trimmed; 1 to 255 characters). 422 when it
/// is empty, blank or too long.
#[utoipa::path(patch, path = "/api/v1/users/me", operation_id = "update_current_user", tag = "accounts", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, description = "The changed profile", body = UserResponse), responses::BadRequest, responses::Unauthorized, responses::TooLarge, responses::Invalid, responses::Unavailable))]
async fn update_me(
    auth: AuthUser,
    pool: web::Data<DbPool>,
    // A Result, so the 401 comes before any complaint about the body.
    body: Result<ApiJson<UpdateMeRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?.into_inner();
    let name = DisplayName::parse(&body.name)
        .map_err(|message| ApiError::Validation(vec![FieldError::new("name", message)]))?;
    let user_id = auth.user.id;
    let user = with_conn(&pool, move |conn| {
        Ok(users::set_name(conn, user_id, name.as_str())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(&user)))
}
