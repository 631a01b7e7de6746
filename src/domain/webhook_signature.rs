//! Standard Webhooks v1 signatures, pure computation (no IO) (<https://www.standardwebhooks.com>): the sender signs
//! `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under a `whsec_` secret and
//! sends `webhook-signature: v1,<base64>`; the receiver recomputes it, compares in
//! constant time, and refuses a timestamp too far from its clock, so a captured delivery
//! cannot be replayed later.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a webhook's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing secret: `whsec_` and the base64 of the key. `Debug` never shows the key.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
    /// Keyed once, when parsed: cloned for each signature.
    keyed: Hmac<Sha256>,
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for WebhookSecret {}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub const PREFIX: &'static str = "whsec_";

    /// `whsec_<base64>` with a key of at least 16 bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| format!("must start with {}", Self::PREFIX))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "must be whsec_ followed by base64".to_owned())?;
        if key.len() < 16 {
            return Err("the key must be at least 16 bytes".into());
        }
        let keyed = Hmac::<Sha256>::new_from_slice(&key).map_err(|err| err.to_string())?;
        Ok(Self { key, keyed })
    }

    /// A new secret with a random 24-byte key (from the operating system's generator).
    pub fn random() -> Self {
        let mut key = [0u8; 24];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let keyed = Hmac::<Sha256>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        Self {
            key: key.to_vec(),
            keyed,
        }
    }

    /// The secret as it is written in configuration.
    pub fn to_text(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.key))
    }

    /// `v1,<base64 of HMAC-SHA256(id.timestamp.body)>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        self.keyed_over(id, timestamp, body)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    fn keyed_over(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac
    }

    /// Checks a delivery's headers against its body at `now` (Unix seconds): one of the
    /// space-separated `v1,` signatures must match, and the timestamp be within
    /// [`TOLERANCE_SECS`].
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::Timestamp)?;
        if (now - timestamp).abs() > TOLERANCE_SECS {
            return Err(VerifyError::Timestamp);
        }
        let mac = self.keyed_over(id, timestamp, body);
        let matches = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .any(|encoded| {
                STANDARD
                    .decode(encoded)
                    .is_ok_and(|signature| mac.clone().verify_slice(&signature).is_ok())
            });
        if matches {
            Ok(())
        } else {
            Err(VerifyError::Signature)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no signature matches")]
    Signature,
    #[error("the timestamp is missing, malformed or more than 5 minutes away")]
    Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks specification's libraries.
    #[test]
    fn the_standard_webhooks_test_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let now = 1614265330 + 60;
        assert_eq!(
            secret.verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &format!("v1,bogus {signature}"),
                body,
                now
            ),
            Ok(())
        );
        assert_eq!(
            secret.verify("msg_other", "1614265330", &signature, body, now),
            Err(VerifyError::Signature)
        );
        assert_eq!(
            secret.verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &signature,
                body,
                1614265330 + 301
            ),
            Err(VerifyError::Timestamp)
        );
        assert_eq!(secret.to_text(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
    }
}
