//! Opaque keyset cursors: where the previous page ended. A catalogue cursor carries every
//! sort key of its row (price, creation time, search rank) and the id, so it names a
//! position in any of the listing's orders. Every cursor ends in a check of its bytes, so
//! one that was altered or made up is a 400 (`bad_request`), never a wrong page or a 500.
//! The check is a tamper seal, not a secret: a cursor only names a position, and its
//! values are always bound into the SQL, never spliced into it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::error::{ApiError, FieldError};
use crate::repository::catalogue::{After, ListedProduct, ProductSort};

/// Bytes of SHA-256 kept as the check: 48 bits, so a changed cursor passes by chance
/// once in 2^48 tries; with the 24-byte payload the cursor is 40 characters, no padding.
const CHECK: usize = 6;

/// The 400 for a `cursor` parameter that no `seal` of this listing made.
pub fn rejected() -> ApiError {
    ApiError::BadQuery(vec![FieldError::new(
        "cursor",
        "is not one this service issued; start again without it",
    )])
}

/// base64url of `payload` followed by its check; `kind` keeps one listing's cursors from
/// passing as another's.
pub fn seal(kind: &str, payload: &[u8]) -> String {
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(&check(kind, payload));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a cursor `seal` made for `kind`; `None` for anything else.
pub fn open<const N: usize>(kind: &str, raw: &str) -> Option<[u8; N]> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    if bytes.len() != N + CHECK {
        return None;
    }
    let (payload, seal) = bytes.split_at(N);
    (seal == check(kind, payload)).then(|| payload.try_into().ok())?
}

fn check(kind: &str, payload: &[u8]) -> [u8; CHECK] {
    let digest = Sha256::new()
        .chain_update(b"storefront cursor\0")
        .chain_update(kind.as_bytes())
        .chain_update(b"\0")
        .chain_update(payload)
        .finalize();
    let mut out = [0u8; CHECK];
    out.copy_from_slice(&digest[..CHECK]);
    out
}

const BYTES: usize = 24;
const KIND: &str = "products";

/// The position after `row`: price in cents, creation time in microseconds, rank (0
/// unless the listing ranked), id; big-endian.
pub fn encode(row: &ListedProduct) -> String {
    let product = &row.product;
    let cents = (&product.price * BigDecimal::from(100))
        .with_scale(0)
        .to_i64()
        .unwrap_or_default();
    let mut bytes = [0u8; BYTES];
    bytes[0..8].copy_from_slice(&cents.to_be_bytes());
    bytes[8..16].copy_from_slice(&product.created_at.timestamp_micros().to_be_bytes());
    bytes[16..20].copy_from_slice(&row.rank.unwrap_or(0.0).to_be_bytes());
    bytes[20..24].copy_from_slice(&product.id.to_be_bytes());
    seal(KIND, &bytes)
}

/// The position a cursor names, as the listing in `sort` order continues from it; `None`
/// for a string that is not a catalogue cursor this service issued.
pub fn decode(raw: &str, sort: ProductSort) -> Option<After> {
    let bytes: [u8; BYTES] = open(KIND, raw)?;
    let int = |range: std::ops::Range<usize>| -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(&bytes[range]);
        out
    };
    let word = |range: std::ops::Range<usize>| -> [u8; 4] {
        let mut out = [0u8; 4];
        out.copy_from_slice(&bytes[range]);
        out
    };
    let id = i32::from_be_bytes(word(20..24));
    Some(match sort {
        ProductSort::PriceAsc | ProductSort::PriceDesc => After::Price {
            price: BigDecimal::new(BigInt::from(i64::from_be_bytes(int(0..8))), 2),
            id,
        },
        ProductSort::Newest => After::Newest {
            created_at: timestamp(i64::from_be_bytes(int(8..16))),
            id,
        },
        ProductSort::Relevance => {
            let rank = f32::from_be_bytes(word(16..20));
            After::Relevance {
                // PostgreSQL ranks NaN above every number; say so without a NaN.
                rank: if rank.is_nan() { f32::INFINITY } else { rank },
                id,
            }
        }
    })
}

/// Microseconds since the epoch as a time PostgreSQL can compare with: beyond years 1 to
/// 9999 (every row's `created_at` lies within) the position is the same as at the bound.
pub fn timestamp(micros: i64) -> DateTime<Utc> {
    const MIN: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
    DateTime::from_timestamp_micros(micros.clamp(MIN, MAX)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Product, ProductStructure};
    use std::str::FromStr;

    /// What the OpenAPI pattern of `cursor` says.
    const PRODUCT_CURSOR_LEN: usize = 40;

    fn row(price: &str, rank: Option<f32>) -> ListedProduct {
        let at = DateTime::parse_from_rfc3339("2026-11-22T17:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        ListedProduct {
            product: Product {
                id: 7,
                name: "Teapot".into(),
                description: None,
                price: BigDecimal::from_str(price).unwrap(),
                inventory_count: 1,
                archived_at: None,
                created_at: at,
                updated_at: at,
            },
            structure: ProductStructure {
                category_ids: Vec::new(),
                images: Default::default(),
                group_id: None,
                options: None,
            },
            rank,
            lowest_price_30d: BigDecimal::from_str(price).unwrap(),
        }
    }

    #[test]
    fn a_cursor_names_its_row_in_every_order() {
        let row = row("19.99", Some(0.607_927_1));
        let cursor = encode(&row);
        assert_eq!(cursor.len(), PRODUCT_CURSOR_LEN);
        assert_eq!(
            decode(&cursor, ProductSort::PriceAsc),
            Some(After::Price {
                price: BigDecimal::from_str("19.99").unwrap(),
                id: 7
            })
        );
        assert_eq!(
            decode(&cursor, ProductSort::Newest),
            Some(After::Newest {
                created_at: row.product.created_at,
                id: 7
            })
        );
        assert_eq!(
            decode(&cursor, ProductSort::Relevance),
            Some(After::Relevance {
                rank: 0.607_927_1,
                id: 7
            })
        );
    }

    #[test]
    fn an_altered_or_made_up_cursor_is_refused() {
        let cursor = encode(&row("19.99", None));
        assert_eq!(cursor.len(), PRODUCT_CURSOR_LEN);
        for sort in [
            ProductSort::PriceAsc,
            ProductSort::Newest,
            ProductSort::Relevance,
        ] {
            assert!(decode(&cursor, sort).is_some());
            // Every single-character change, at every position, is caught.
            for at in 0..cursor.len() {
                for replacement in ['A', 'z', '0', '_', '-'] {
                    let mut altered: Vec<char> = cursor.chars().collect();
                    if altered[at] == replacement {
                        continue;
                    }
                    altered[at] = replacement;
                    let altered: String = altered.into_iter().collect();
                    assert_eq!(decode(&altered, sort), None, "{altered}");
                }
            }
            for bad in [
                "",
                "!!!",
                &"_".repeat(PRODUCT_CURSOR_LEN),
                &"A".repeat(PRODUCT_CURSOR_LEN),
                &cursor[..PRODUCT_CURSOR_LEN - 1],
                &format!("{cursor}A"),
                &"+/".repeat(PRODUCT_CURSOR_LEN / 2),
            ] {
                assert_eq!(decode(bad, sort), None, "{bad}");
            }
        }
        // A seal for one listing does not open another's.
        let payload = [7u8; BYTES];
        assert_eq!(open::<BYTES>(KIND, &seal(KIND, &payload)), Some(payload));
        assert_eq!(open::<BYTES>("orders", &seal(KIND, &payload)), None);
    }

    #[test]
    fn positions_beyond_the_representable_are_clamped() {
        assert_eq!(timestamp(i64::MIN).timestamp(), -62_135_596_800);
        assert_eq!(timestamp(i64::MAX).timestamp(), 253_402_300_799);
    }
}
