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

/// An email address: a pragmatic syntax check (one `@`, a local part of 1 to 64
/// characters, a dotted domain, no spaces or control characters), not RFC 5322 in full.
/// Delivery is what proves an address. Not trimmed: the OpenAPI pattern (`email_schema`)
/// says exactly what is accepted, and a front end trims what its user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        // Characters, as VARCHAR(255) and JSON Schema's maxLength count them.
        if raw.chars().count() > 255 {
            return Err("must be at most 255 characters long".into());
        }
        let valid = match raw.split_once('@') {
            Some((local, domain)) => {
                (1..=64).contains(&local.chars().count())
                    && domain.split('.').count() >= 2
                    && domain
                        .split('.')
                        .all(|label| !label.is_empty() && !label.contains('@'))
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

/// Rust's `char::is_whitespace` and `char::is_control` together, as a regex class body:
/// what `Email::parse` refuses anywhere in an address.
const SPACE_OR_CONTROL: &str =
    r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The OpenAPI schemas of the account fields: exactly what the parsers accept, so a
/// client (or a fuzzer) can tell valid input from the document alone.
pub fn username_schema() -> utoipa::openapi::Object {
    string_schema()
        .min_length(Some(3))
        .max_length(Some(50))
        .pattern(Some(r"^[A-Za-z0-9_.-]{3,50}$"))
        .description(Some("3 to 50 letters, digits, `_`, `-` or `.`."))
        .examples(["alice"])
        .build()
}

pub fn email_schema() -> utoipa::openapi::Object {
    let outside = SPACE_OR_CONTROL;
    string_schema()
        .min_length(Some(3))
        .max_length(Some(255))
        .pattern(Some(format!(
            "^[^@{outside}]{{1,64}}@[^@.{outside}]+(\\.[^@.{outside}]+)+$"
        )))
        .description(Some(
            "An address with one `@`, a local part of 1 to 64 characters and a dotted domain; no spaces or control characters; at most 255 characters.",
        ))
        .examples(["alice@example.com"])
        .build()
}

pub fn password_schema() -> utoipa::openapi::Object {
    string_schema()
        .min_length(Some(8))
        .max_length(Some(128))
        .description(Some("8 to 128 characters."))
        .examples(["correct horse"])
        .build()
}

fn string_schema() -> utoipa::openapi::ObjectBuilder {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new().schema_type(SchemaType::new(Type::String))
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

/// A price as the client sent it: the exact JSON text of the value (a string with its
/// quotes, or a number as written), so a number is never read through a float, where
/// `1.0000000000000001` would silently become `1`.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct PriceInput(Box<serde_json::value::RawValue>);

/// The OpenAPI schema of a price field: exactly what `parse_price` accepts.
pub fn price_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .pattern(Some(PRICE_PATTERN))
                .examples(["19.99"]),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Number))
                .minimum(Some(0))
                .maximum(Some(9_999_999_999.99))
                .multiple_of(Some(0.01))
                .description(Some("In plain decimal notation (no exponent); read exactly, never through a float.")),
        )
        .description(Some(
            "Non-negative, at most two decimal places, at most 9999999999.99: a decimal string (preferred) or a JSON number in plain notation.",
        ))
        .build()
        .into()
}

/// What a price looks like, as a string or as the text of a JSON number.
const PRICE_PATTERN: &str = r"^[0-9]{1,10}(\.[0-9]{1,2})?$";

/// A price: non-negative, at most two decimal places, within NUMERIC(12,2). A JSON string
/// (`"19.99"`, the documented form) or a JSON number, both read from their decimal text
/// with the same rules: plain notation only (`1e3` is refused in either form, as the
/// string pattern in the OpenAPI document says), so no float rounding ever happens.
pub fn parse_price(raw: &PriceInput) -> Result<BigDecimal, String> {
    const SHAPE: &str = "must be a decimal string such as \"19.99\"";
    let raw = raw.0.get();
    let text = if raw.starts_with('"') {
        serde_json::from_str::<String>(raw).map_err(|_| SHAPE.to_owned())?
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        raw.to_owned()
    } else {
        return Err(SHAPE.into());
    };
    let Some(price) = parse_decimal(&text) else {
        return Err(if text.contains(['e', 'E']) {
            "must be in plain decimal notation, without an exponent".into()
        } else {
            SHAPE.into()
        });
    };
    if text.starts_with('-') {
        return Err("must not be negative".into());
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if fraction.len() > 2 {
        return Err("must have at most two decimal places".into());
    }
    if whole.len() > 10 {
        return Err(format!(
            "must be at most {MAX_PRICE} (ten digits before the point)"
        ));
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

    #[test]
    fn usernames() {
        assert!(Username::parse("al_ice.B-2").is_ok());
        for bad in ["ab", "has space", "ünï", "semi;colon", &"x".repeat(51)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("a.b+c@d.co").unwrap().as_str(), "a.b+c@d.co");
        let long_local = format!("{}@b.co", "a".repeat(65));
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@@b.co",
            "a b@c.co",
            "a@.co",
            "a@b.co.",
            "a@b..co",
            " a@b.co",
            "a@b.co\u{0}",
            "a\u{a0}@b.co",
            &long_local,
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

    fn price(json: &str) -> Result<String, String> {
        let input: PriceInput = serde_json::from_str(json).expect("valid JSON");
        parse_price(&input).map(|p| format_money(&p))
    }

    #[test]
    fn prices_are_exact_two_place_decimals() {
        assert_eq!(price(r#""19.99""#).unwrap(), "19.99");
        assert_eq!(price(r#""5""#).unwrap(), "5.00");
        assert_eq!(price("0.1").unwrap(), "0.10");
        assert_eq!(price("17").unwrap(), "17.00");
        assert_eq!(price(r#""9999999999.99""#).unwrap(), "9999999999.99");
        assert_eq!(price("9999999999.99").unwrap(), "9999999999.99");
        for bad in [
            r#""-1""#,
            "-1",
            r#""1.999""#,
            // Through an f64 these two would be 1 and 20: read exactly, they have too
            // many places.
            "1.0000000000000001",
            "19.999999999999999999",
            // Exponents: refused as a string and as a number alike.
            r#""1e3""#,
            "1e3",
            "1E2",
            r#""NaN""#,
            r#""abc""#,
            r#""""#,
            r#"" 19.99""#,
            r#""10000000000.00""#,
            "10000000000",
            r#""00000000001""#,
            "true",
            "null",
            "[1]",
            "1e300",
        ] {
            assert!(price(bad).is_err(), "{bad}");
        }
    }
}
