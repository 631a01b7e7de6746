//! Catalogue fields: product name, description, price, inventory; and money as text.

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};

/// A product name: 1 to 255 characters once trimmed, not all whitespace, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    pub const MAX_LEN: usize = 255;

    /// Lengths are counted before trimming, as the document's maxLength counts them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        super::text::trimmed_within(raw, Self::MAX_LEN).map(|name| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A product description: up to 10,000 characters, no NUL, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_LEN: usize = 10_000;

    /// A blank description is none at all (`Ok(None)`).
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        if raw.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters long", Self::MAX_LEN));
        }
        Ok(Some(raw.trim())
            .filter(|d| !d.is_empty())
            .map(|d| Self(d.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Units in stock: 0 to `i32::MAX` (the column is INTEGER with a CHECK >= 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryCount(i32);

impl InventoryCount {
    pub fn parse(raw: i64) -> Result<Self, String> {
        i32::try_from(raw)
            .ok()
            .filter(|count| *count >= 0)
            .map(Self)
            .ok_or_else(|| format!("must be a whole number from 0 to {}", i32::MAX))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A price: non-negative, at most two decimal places, within NUMERIC(12,2), read from
/// its decimal text in plain notation only (`1e3` is refused), so no float rounding
/// ever happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price(BigDecimal);

impl Price {
    /// Largest price NUMERIC(12,2) holds.
    pub const MAX: &'static str = "9999999999.99";
    /// What a price looks like, as a string or as the text of a JSON number.
    pub const PATTERN: &'static str = r"^[0-9]{1,10}(\.[0-9]{1,2})?$";
    /// The complaint about a value that is not decimal text at all.
    pub const SHAPE_MESSAGE: &'static str = "must be a decimal string such as \"19.99\"";

    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(price) = parse_decimal(text) else {
            return Err(if text.contains(['e', 'E']) {
                "must be in plain decimal notation, without an exponent".into()
            } else {
                Self::SHAPE_MESSAGE.into()
            });
        };
        if text.starts_with('-') {
            return Err("must not be negative".into());
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if fraction.len() > 2 {
            return Err("must have at most two decimal places".into());
        }
        if whole.len() > 10 {
            return Err(format!(
                "must be at most {} (ten digits before the point)",
                Self::MAX
            ));
        }
        Ok(Self(price.with_scale(2)))
    }

    pub fn as_decimal(&self) -> &BigDecimal {
        &self.0
    }

    pub fn into_decimal(self) -> BigDecimal {
        self.0
    }
}

/// A plain decimal (`12`, `12.5`, `-0.25`); rejects exponents, `NaN` and the like that
/// BigDecimal's own parser would accept.
pub fn parse_decimal(text: &str) -> Option<BigDecimal> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !whole.is_empty()
        && whole.len() <= 20
        && fraction.len() <= 20
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (fraction.is_empty() != digits.contains('.'));
    plain.then(|| BigDecimal::from_str(text).ok()).flatten()
}

/// Money as clients see it: a decimal string with exactly two places (further places
/// are cut, as `BigDecimal::with_scale` does).
pub fn format_money(amount: &BigDecimal) -> String {
    // Every amount the database holds (NUMERIC(12,2)) has two places or fewer and fits an
    // i64 of cents: written directly, it skips BigDecimal's copy and big-integer
    // conversion, which a listing paid twice per product.
    let (digits, scale) = amount.as_bigint_and_scale();
    let cents = u32::try_from(2 - scale)
        .ok()
        .and_then(|shift| digits.to_i64()?.checked_mul(10_i64.checked_pow(shift)?));
    match cents {
        Some(cents) => cents_text(cents),
        None => amount.with_scale(2).to_plain_string(),
    }
}

/// `cents` as a decimal string with two places, written digit by digit: `format!` cost
/// a list page two thousand instructions a product (callgrind).
fn cents_text(cents: i64) -> String {
    let mut magnitude = cents.unsigned_abs();
    // Digits from the right: two places, the point, at least one unit, the sign.
    let mut reversed = Vec::with_capacity(24);
    for place in 0..2 {
        reversed.push(b'0' + (magnitude % 10) as u8);
        magnitude /= 10;
        if place == 1 {
            reversed.push(b'.');
        }
    }
    loop {
        reversed.push(b'0' + (magnitude % 10) as u8);
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if cents < 0 {
        reversed.push(b'-');
    }
    reversed.reverse();
    String::from_utf8(reversed).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(text: &str) -> Result<String, String> {
        Price::parse(text).map(|p| format_money(p.as_decimal()))
    }

    #[test]
    fn prices_are_exact_two_place_decimals() {
        assert_eq!(price("19.99").unwrap(), "19.99");
        assert_eq!(price("5").unwrap(), "5.00");
        assert_eq!(price("9999999999.99").unwrap(), "9999999999.99");
        for bad in [
            "-1",
            "1.999",
            // Through an f64 these two would be 1 and 20: read exactly, they have too
            // many places.
            "1.0000000000000001",
            "19.999999999999999999",
            "1e3",
            "1E2",
            "NaN",
            "abc",
            "",
            " 19.99",
            "10000000000.00",
            "00000000001",
            "1e300",
        ] {
            assert!(price(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_is_written_as_the_general_formatting_writes_it() {
        let general = |amount: &BigDecimal| amount.with_scale(2).to_plain_string();
        let mut checked = 0;
        for scale in -3..=5 {
            for digits in [
                0,
                1,
                -1,
                5,
                99,
                -100,
                1999,
                123_456,
                -999_999_999_999,
                i64::MAX / 1000,
                i64::MAX,
                i64::MIN,
            ] {
                let amount = BigDecimal::new(digits.into(), scale);
                assert_eq!(
                    format_money(&amount),
                    general(&amount),
                    "{digits} at scale {scale}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 108);
        assert_eq!(format_money(&BigDecimal::new(5.into(), 1)), "0.50");
        assert_eq!(format_money(&BigDecimal::new((-5).into(), 2)), "-0.05");
        let huge = BigDecimal::from_str("123456789012345678901234567890.129").unwrap();
        assert_eq!(format_money(&huge), "123456789012345678901234567890.12");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ProductName::parse("  Teapot ").unwrap().as_str(), "Teapot");
        assert!(ProductName::parse(" \t").is_err());
        assert!(ProductName::parse("a\0b").is_err());
        assert!(ProductName::parse(&"x".repeat(256)).is_err());
        assert_eq!(Description::parse("  ").unwrap(), None);
        assert!(Description::parse(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn inventory_is_a_non_negative_i32() {
        assert_eq!(InventoryCount::parse(0).map(InventoryCount::get), Ok(0));
        assert!(InventoryCount::parse(-1).is_err());
        assert!(InventoryCount::parse(i64::from(i32::MAX) + 1).is_err());
    }
}
