//! Opaque keyset cursors for the catalogue: where the previous page ended, as 32 base64url
//! characters (24 bytes). A cursor carries every sort key of its row (price, creation
//! time, search rank) and the id, so it names a position in any of the listing's orders,
//! and every string of that shape decodes to some position: the OpenAPI pattern says
//! exactly which cursors are accepted (`^([A-Za-z0-9_-]{32})?$`, empty being none), and one
//! that is not of that shape is a 400. A
//! forged cursor can only name a position, which is no secret; it is never trusted into
//! the SQL text (all values are bound).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::{DateTime, Utc};

use crate::repository::catalogue::{After, ListedProduct, ProductSort};

const BYTES: usize = 24;

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
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a cursor names, as the listing in `sort` order continues from it; `None`
/// only for a string that is not a cursor at all (wrong length or alphabet).
pub fn decode(raw: &str, sort: ProductSort) -> Option<After> {
    let bytes: [u8; BYTES] = URL_SAFE_NO_PAD.decode(raw).ok()?.try_into().ok()?;
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
    use crate::models::Product;
    use std::str::FromStr;

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
            rank,
        }
    }

    #[test]
    fn a_cursor_names_its_row_in_every_order() {
        let row = row("19.99", Some(0.607_927_1));
        let cursor = encode(&row);
        assert_eq!(cursor.len(), 32);
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
    fn every_string_of_the_shape_is_a_position_and_nothing_else_is() {
        for sort in [
            ProductSort::PriceAsc,
            ProductSort::Newest,
            ProductSort::Relevance,
        ] {
            assert!(decode(&"_".repeat(32), sort).is_some());
            assert!(decode(&"A".repeat(32), sort).is_some());
            for bad in [
                "",
                "!!!",
                &"A".repeat(31),
                &"A".repeat(33),
                &"+/".repeat(16),
            ] {
                assert_eq!(decode(bad, sort), None, "{bad}");
            }
        }
        assert_eq!(
            decode(&"_".repeat(32), ProductSort::Relevance),
            Some(After::Relevance {
                rank: f32::INFINITY,
                id: -1
            })
        );
        assert_eq!(timestamp(i64::MIN).timestamp(), -62_135_596_800);
        assert_eq!(timestamp(i64::MAX).timestamp(), 253_402_300_799);
    }
}
