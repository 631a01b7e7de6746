//! Authentication: argon2id password hashing, opaque bearer tokens backed by the
//! `sessions` table, guest cart tokens, the extractors that guard routes, and the
//! login, registration and guest-cart throttles.

mod extractor;
mod password;
mod throttle;
mod token;
mod work_area;

pub use extractor::{
    presented_cart_token_hash, AdminUser, AuthUser, BearerToken, CartCredential, Credential,
};
pub use password::{hash_blocking, Passwords};
pub use throttle::Throttle;
pub use token::{hash_token, new_token, TokenHash};
