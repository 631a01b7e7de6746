//! Accounts: `POST /users` (register) and `GET /users/me`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::with_conn;
use crate::auth::{AuthUser, Passwords};
use crate::db::DbPool;
use crate::domain::{Email, Password, Username, Validator};
use crate::error::{ApiError, FieldError, Problem};
use crate::models::{NewUser, UserProfile};
use crate::repository::users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::post().to(register)))
        .service(web::resource("/users/me").route(web::get().to(me)));
}

/// A user as clients see it. Built from `UserProfile`, which has no password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i32,
    pub username: String,
    pub email: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserProfile> for UserResponse {
    fn from(user: UserProfile) -> Self {
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            is_admin: user.is_admin,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Only these fields; anything else (`is_admin`, `id`, ...) is rejected, not ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(schema_with = crate::domain::username_schema)]
    username: String,
    #[schema(schema_with = crate::domain::email_schema)]
    email: String,
    #[schema(schema_with = crate::domain::password_schema)]
    password: String,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, description = "Registered; Location: /api/v1/users/me", body = UserResponse),
        (status = 400, description = "Malformed JSON, query or body type", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Username or email already taken", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json"), (status = 500, description = "A bug; the body carries no internals", body = Problem, content_type = "application/problem+json")))]
async fn register(
    pool: web::Data<DbPool>,
    passwords: web::Data<Passwords>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut validator = Validator::default();
    let username = validator.check("username", Username::parse(&body.username));
    let email = validator.check("email", Email::parse(&body.email));
    let password = validator.check("password", Password::parse(&body.password));
    validator.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(ApiError::Internal("validator passed without values".into()));
    };

    let password_hash = passwords.hash(password).await?;
    // A taken username or email surfaces as a unique violation, mapped to 409: checking
    // first and inserting after would race. Only then are the taken fields looked up, so
    // the 409 names each of them, not just the constraint PostgreSQL hit first.
    let user = with_conn(&pool, move |conn| {
        let new_user = NewUser {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &password_hash,
        };
        match users::insert(conn, &new_user) {
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                let (name_taken, email_taken) =
                    users::taken_fields(conn, username.as_str(), email.as_str())?;
                let mut taken = Vec::new();
                if name_taken {
                    taken.push(FieldError::username_taken());
                }
                if email_taken {
                    taken.push(FieldError::email_taken());
                }
                Err(if taken.is_empty() {
                    // The holder is gone already: report what PostgreSQL said.
                    DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info).into()
                } else {
                    ApiError::AlreadyExists(taken)
                })
            }
            result => Ok(result?),
        }
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/v1/users/me"))
        .json(UserResponse::from(user)))
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The token holder's profile", body = UserResponse), (status = 401, description = "Missing, unknown, expired or revoked token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable or pool exhausted (Retry-After)", body = Problem, content_type = "application/problem+json")))]
async fn me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(UserResponse::from(auth.user))
}
