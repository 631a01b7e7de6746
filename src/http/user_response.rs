//! A user as clients see it: the body of registration, the profile routes and a login's
//! answer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::UserProfile;

/// A user as clients see it. Built from `UserProfile`, which has no password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse<'a> {
    pub id: i32,
    pub username: &'a str,
    pub email: &'a str,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The name to greet the user by; the username unless they gave one.
    pub name: &'a str,
}

impl<'a> From<&'a UserProfile> for UserResponse<'a> {
    fn from(user: &'a UserProfile) -> Self {
        Self {
            id: user.id,
            username: &user.username,
            name: &user.name,
            email: &user.email,
            is_admin: user.is_admin,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}
