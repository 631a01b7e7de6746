//! Opaque keyset cursors: the last row's sort key and id, as base64url JSON. Clients pass
//! them back unchanged; anything that does not decode to a well-formed position is
//! rejected (400), never trusted into a query.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{is_negative, parse_decimal};
use crate::repository::catalogue::After;

/// Longest cursor accepted; real ones are well under 100 characters.
const MAX_CURSOR_LEN: usize = 200;

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", deny_unknown_fields)]
enum Wire {
    #[serde(rename = "r")]
    Relevance { r: f32, id: i32 },
    #[serde(rename = "p")]
    Price { p: String, id: i32 },
    #[serde(rename = "n")]
    Newest { t: String, id: i32 },
}

pub fn encode(after: &After) -> String {
    let wire = match after {
        After::Relevance { rank, id } => Wire::Relevance { r: *rank, id: *id },
        After::Price { price, id } => Wire::Price {
            p: price.to_plain_string(),
            id: *id,
        },
        After::Newest { created_at, id } => Wire::Newest {
            t: created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            id: *id,
        },
    };
    // Serializing these plain structs cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

pub fn decode(raw: &str) -> Option<After> {
    if raw.len() > MAX_CURSOR_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    Some(match serde_json::from_slice(&bytes).ok()? {
        Wire::Relevance { r, id } if r.is_finite() => After::Relevance { rank: r, id },
        Wire::Relevance { .. } => return None,
        Wire::Price { p, id } => After::Price {
            price: parse_decimal(&p).filter(|p| !is_negative(p))?,
            id,
        },
        Wire::Newest { t, id } => After::Newest {
            created_at: DateTime::parse_from_rfc3339(&t).ok()?.with_timezone(&Utc),
            id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bigdecimal::BigDecimal;
    use std::str::FromStr;

    #[test]
    fn cursors_round_trip() {
        let positions = [
            After::Relevance {
                rank: 0.607_927_1,
                id: 7,
            },
            After::Price {
                price: BigDecimal::from_str("19.99").unwrap(),
                id: 3,
            },
            After::Newest {
                created_at: DateTime::parse_from_rfc3339("2026-11-22T17:00:00.123456Z")
                    .unwrap()
                    .with_timezone(&Utc),
                id: 9,
            },
        ];
        for after in positions {
            assert_eq!(decode(&encode(&after)), Some(after));
        }
    }

    #[test]
    fn tampered_cursors_are_rejected() {
        let valid = encode(&After::Price {
            price: BigDecimal::from(1),
            id: 1,
        });
        for bad in [
            "",
            "!!!",
            &valid[1..],
            &URL_SAFE_NO_PAD.encode(r#"{"k":"p","p":"1e999","id":1}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"k":"p","p":"-1","id":1}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"k":"n","t":"yesterday","id":1}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"k":"x","id":1}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"k":"p","p":"1","id":1,"sql":"drop"}"#),
            &"A".repeat(500),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
