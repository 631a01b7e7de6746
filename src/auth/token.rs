//! Bearer tokens: 256 random bits, base64url-encoded for the client. Only the token's
//! SHA-256 is stored, so the sessions table cannot be replayed if it leaks.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub type TokenHash = [u8; 32];

/// Length of an encoded token: 32 bytes in unpadded base64.
const TOKEN_LEN: usize = 43;

/// A new token and the hash to store for it.
pub fn new_token() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = digest(&token);
    (token, hash)
}

/// The stored hash of a presented token; `None` when it cannot be one of ours, which
/// spares the database a lookup for garbage.
pub fn hash_token(token: &str) -> Option<TokenHash> {
    let well_formed = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| digest(token))
}

fn digest(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_consistently() {
        let (token, hash) = new_token();
        let (other, _) = new_token();
        assert_ne!(token, other);
        assert_eq!(token.len(), TOKEN_LEN);
        assert_eq!(hash_token(&token), Some(hash));
        assert_eq!(hash_token("garbage"), None);
        assert_eq!(hash_token(&format!("{}!", &token[1..])), None);
    }

    #[test]
    fn the_stored_hash_is_the_sha256_of_the_token_text() {
        // Computed apart from this crate: printf %s <token> | sha256sum
        let token = "q1vX8yZ0-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456";
        let expected = "912619dcc0495234a9af3eac9ee2ae0d088a4a800c884ebb8a5ef6168f432a22";
        let hash = hash_token(token).expect("a well-formed token");
        let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, expected);
    }
}
