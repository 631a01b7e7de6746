//! Validated input values. Request bodies are parsed into these at the boundary, so code
//! past a handler's first lines holds only valid values; each parser says what is wrong
//! in words a client can show its user.

use std::str::FromStr;

use bigdecimal::BigDecimal;

use crate::error::FieldError;

/// 3 to 50 letters, digits, `_`, `-` or `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let length = raw.chars().count();
        if !(3..=50).contains(&length) {
            return Err("must be 3 to 50 characters long".into());
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err("may contain only letters, digits, '_', '-' and '.'".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: a pragmatic syntax check (one `@`, a non-empty local part, a dotted
/// domain, no spaces), not RFC 5322 in full. Delivery is what proves an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() > 255 {
            return Err("must be at most 255 characters long".into());
        }
        let valid = match raw.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err("is not a valid email address".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8 to 128 characters. Not trimmed: spaces are legitimate password characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let length = raw.chars().count();
        if !(8..=128).contains(&length) {
            return Err("must be 8 to 128 characters long".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Largest price NUMERIC(12,2) holds.
const MAX_PRICE: &str = "9999999999.99";

/// A price: non-negative, at most two decimal places, within NUMERIC(12,2). Accepts a
/// JSON string (`"19.99"`, the documented form) or a JSON number, read from its decimal
/// text so no float rounding ever happens.
pub fn parse_price(raw: &serde_json::Value) -> Result<BigDecimal, String> {
    let text = match raw {
        serde_json::Value::String(text) => text.trim().to_owned(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return Err("must be a decimal string such as \"19.99\"".into()),
    };
    let price = parse_decimal(&text).ok_or("must be a decimal string such as \"19.99\"")?;
    if is_negative(&price) {
        return Err("must not be negative".into());
    }
    if price.fractional_digit_count() > 2 {
        return Err("must have at most two decimal places".into());
    }
    if price > BigDecimal::from_str(MAX_PRICE).unwrap_or_default() {
        return Err(format!("must be at most {MAX_PRICE}"));
    }
    Ok(price.with_scale(2))
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

/// Below zero (`-0` is not).
pub fn is_negative(amount: &BigDecimal) -> bool {
    amount.sign() == bigdecimal::num_bigint::Sign::Minus
}

/// Money as clients see it: a decimal string with exactly two places.
pub fn format_money(amount: &BigDecimal) -> String {
    amount.with_scale(2).to_plain_string()
}

/// A cart line that cannot be filled: what was asked for and what is left (0 for a
/// product that has been archived).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StockShortage {
    pub product_id: i32,
    pub requested: i32,
    pub available: i32,
}

/// Collects field errors so a client learns of every invalid field at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Records the error, if any, and passes the value on.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), crate::error::ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::error::ApiError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usernames() {
        assert!(Username::parse("al_ice.B-2").is_ok());
        for bad in ["ab", "has space", "ünï", "semi;colon", &"x".repeat(51)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" a@b.co ").unwrap().as_str(), "a@b.co");
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@.co", "a@b.co.", "a@b..co",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"p".repeat(129)).is_err());
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn prices_are_exact_two_place_decimals() {
        assert_eq!(
            format_money(&parse_price(&json!("19.99")).unwrap()),
            "19.99"
        );
        assert_eq!(format_money(&parse_price(&json!("5")).unwrap()), "5.00");
        assert_eq!(format_money(&parse_price(&json!(0.1)).unwrap()), "0.10");
        assert_eq!(
            format_money(&parse_price(&json!("9999999999.99")).unwrap()),
            "9999999999.99"
        );
        for bad in [
            json!("-1"),
            json!("1.999"),
            json!("1e3"),
            json!("NaN"),
            json!("abc"),
            json!(""),
            json!("10000000000.00"),
            json!(true),
            json!(null),
            json!(1e300),
        ] {
            assert!(parse_price(&bad).is_err(), "{bad}");
        }
    }
}
