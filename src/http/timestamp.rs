//! Timestamps in response bodies, written exactly as chrono's serde writes them
//! (`2026-12-07T22:07:20.845321Z`: UTC as `Z`, the fraction in 0, 3, 6 or 9 digits, the
//! fewest that hold it) but into a stack buffer instead of through `core::fmt`: chrono's
//! way cost about 2,500 instructions a timestamp, a fifth of a product's serialisation
//! and two of them per product in every list (callgrind). Used with
//! `#[serde(serialize_with = ...)]` on the busiest responses; the output is the same.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `YYYY-MM-DDTHH:MM:SS` + `.` and up to 9 digits + `Z`.
const LONGEST: usize = 30;

/// Serialises `at` as chrono does (see the module doc).
pub fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; LONGEST];
    match write(at, &mut buffer) {
        Some(len) => serializer.serialize_str(as_str(&buffer[..len])),
        // Years outside 0..=9999 and leap seconds: chrono's own way.
        None => at.serialize(serializer),
    }
}

/// `rfc3339` for an optional timestamp (`null` for `None`).
pub fn rfc3339_opt<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// Writes `at` into `out`; its length, or `None` for what only chrono writes (a year
/// outside 0..=9999, a leap second).
fn write(at: &DateTime<Utc>, out: &mut [u8; LONGEST]) -> Option<usize> {
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    digits(&mut out[0..4], year);
    out[4] = b'-';
    digits(&mut out[5..7], at.month());
    out[7] = b'-';
    digits(&mut out[8..10], at.day());
    out[10] = b'T';
    digits(&mut out[11..13], at.hour());
    out[13] = b':';
    digits(&mut out[14..16], at.minute());
    out[16] = b':';
    digits(&mut out[17..19], at.second());
    let mut len = 19;
    let fraction = if nanos == 0 {
        None
    } else if nanos % 1_000_000 == 0 {
        Some((nanos / 1_000_000, 3))
    } else if nanos % 1_000 == 0 {
        Some((nanos / 1_000, 6))
    } else {
        Some((nanos, 9))
    };
    if let Some((value, width)) = fraction {
        out[len] = b'.';
        digits(&mut out[len + 1..len + 1 + width], value);
        len += 1 + width;
    }
    out[len] = b'Z';
    Some(len + 1)
}

/// `value` in decimal, zero-padded to fill `out` (its high digits dropped if it has more).
fn digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The buffer holds only ASCII digits and separators.
fn as_str(ascii: &[u8]) -> &str {
    std::str::from_utf8(ascii).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ours(at: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        rfc3339(at, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_what_chrono_writes() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let seconds = (next() % 400_000_000_000) as i64 - 62_000_000_000;
            // Whole seconds, milli-, micro- and nanoseconds, and their edges.
            let nanos = match round % 6 {
                0 => 0,
                1 => (next() % 1000) as u32 * 1_000_000,
                2 => (next() % 1_000_000) as u32 * 1_000,
                3 => (next() % 1_000_000_000) as u32,
                4 => 999_999_000,
                _ => 1_000,
            };
            let at = Utc.timestamp_opt(seconds, nanos).unwrap();
            assert_eq!(ours(&at), serde_json::to_string(&at).unwrap(), "{at:?}");
        }
    }

    #[test]
    fn leaves_the_rare_cases_to_chrono() {
        let far = Utc.with_ymd_and_hms(12_345, 1, 2, 3, 4, 5).unwrap();
        let leap = Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap();
        for at in [far, leap] {
            assert_eq!(ours(&at), serde_json::to_string(&at).unwrap());
        }
        let some = Some(far);
        assert_eq!(
            serde_json::to_string(&Wrapper { at: some }).unwrap(),
            serde_json::to_string(&serde_json::json!({ "at": some })).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&Wrapper { at: None }).unwrap(),
            r#"{"at":null}"#
        );
    }

    #[derive(Serialize)]
    struct Wrapper {
        #[serde(serialize_with = "rfc3339_opt")]
        at: Option<DateTime<Utc>>,
    }
}
