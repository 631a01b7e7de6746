//! Authentication: argon2id password hashing, opaque bearer tokens backed by the
//! `sessions` table, the extractors that guard routes, and the failed-login throttle.

mod extractor;
mod password;
mod throttle;
mod token;

pub use extractor::{AdminUser, AuthUser, BearerToken};
pub use password::{hash_blocking, Passwords};
pub use throttle::Throttle;
pub use token::{hash_token, new_token, TokenHash};
