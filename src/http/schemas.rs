//! OpenAPI schemas of the validated fields: exactly what the `domain` parsers accept, so
//! a client (or a fuzzer) can tell valid input from the document alone. Limits come from
//! the domain types; the patterns restate their rules as regular expressions.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::Object;

use crate::domain::{
    CancelReason, Carrier, Description, DisplayName, Email, Password, Price, ProductName,
    TrackingNumber, Username,
};

/// Rust's `char::is_whitespace` and `char::is_control` together, as a regex class body:
/// what `Email::parse` refuses anywhere in an address.
const SPACE_OR_CONTROL: &str =
    r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Rust's `char::is_whitespace` (what `str::trim` removes) as a regex class body.
const WHITESPACE: &str =
    r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A string that is one of `values` (a closed set, so generated clients get a union type).
pub fn string_enum<const N: usize>(values: [&'static str; N]) -> Object {
    string_schema().enum_values(Some(values)).build()
}

/// A string that is one of a text enum's words (`ALL` of a `models` enum).
pub fn word_enum(words: &'static [&'static str]) -> Object {
    string_schema()
        .enum_values(Some(words.iter().copied()))
        .build()
}

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::String))
}

pub fn username_schema() -> Object {
    string_schema()
        .min_length(Some(Username::MIN_LEN))
        .max_length(Some(Username::MAX_LEN))
        .pattern(Some(r"^[A-Za-z0-9_.-]{3,50}$"))
        .description(Some("3 to 50 letters, digits, `_`, `-` or `.`."))
        .examples(["alice"])
        .build()
}

pub fn email_schema() -> Object {
    let outside = SPACE_OR_CONTROL;
    let local = Email::MAX_LOCAL_LEN;
    string_schema()
        .min_length(Some(3))
        .max_length(Some(Email::MAX_LEN))
        .pattern(Some(format!(
            "^[^@{outside}]{{1,{local}}}@[^@.{outside}]+(\\.[^@.{outside}]+)+$"
        )))
        .description(Some(
            "An address with one `@`, a local part of 1 to 64 characters and a dotted domain; no spaces or control characters; at most 255 characters.",
        ))
        .examples(["alice@example.com"])
        .build()
}

pub fn password_schema() -> Object {
    string_schema()
        .min_length(Some(Password::MIN_LEN))
        .max_length(Some(Password::MAX_LEN))
        .description(Some("8 to 128 characters."))
        .examples(["correct horse"])
        .build()
}

/// A price field: a decimal string or a JSON number in plain notation. One schema of two
/// types rather than a `oneOf` (which generators would render as numbered anonymous
/// types): `pattern` constrains the string, the bounds the number.
pub fn price_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .pattern(Some(Price::PATTERN))
        .minimum(Some(0))
        .maximum(Some(9_999_999_999.99))
        .multiple_of(Some(0.01))
        .description(Some(
            "Non-negative, at most two decimal places, at most 9999999999.99: a decimal string (preferred) or a JSON number in plain notation (no exponent), read exactly, never through a float.",
        ))
        .examples(["19.99"])
        .build()
        .into()
}

/// What `ProductName::parse` accepts: 1 to 255 characters, not all whitespace, no NUL.
pub fn product_name_schema() -> Object {
    trimmed_text_schema(ProductName::MAX_LEN)
        .examples(["Blue teapot"])
        .build()
}

/// What `DisplayName::parse` accepts: the same rule as a product name.
pub fn display_name_schema() -> Object {
    trimmed_text_schema(DisplayName::MAX_LEN)
        .examples(["Alice Liddell"])
        .build()
}

fn trimmed_text_schema(max: usize) -> ObjectBuilder {
    string_schema()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(format!(
            "^[^\\u0000]*[^\\u0000{WHITESPACE}][^\\u0000]*$"
        )))
        .description(Some(format!(
            "1 to {max} characters, not all whitespace (leading and trailing whitespace is trimmed)."
        )))
}

/// What `CancelReason::parse` accepts.
pub fn cancel_reason_schema() -> Object {
    trimmed_text_schema(CancelReason::MAX_LEN)
        .examples(["Ordered the wrong size"])
        .build()
}

/// What `Carrier::parse` accepts.
pub fn carrier_schema() -> Object {
    trimmed_text_schema(Carrier::MAX_LEN)
        .examples(["DHL"])
        .build()
}

/// What `TrackingNumber::parse` accepts: a trimmed text without control characters.
pub fn tracking_number_schema() -> Object {
    const CONTROL: &str = "\\u0000-\\u001F\\u007F-\\u009F";
    string_schema()
        .min_length(Some(1))
        .max_length(Some(TrackingNumber::MAX_LEN))
        .pattern(Some(format!(
            "^[^{CONTROL}]*[^{CONTROL}{WHITESPACE}][^{CONTROL}]*$"
        )))
        .description(Some(format!(
            "1 to {} characters, not all whitespace, no control characters (leading and trailing whitespace is trimmed).",
            TrackingNumber::MAX_LEN
        )))
        .examples(["00340434161094042557"])
        .build()
}

/// What `Description::parse` accepts; blank or null means no description.
pub fn description_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(Description::MAX_LEN))
        .pattern(Some(r"^[^\u0000]*$"))
        .description(Some(
            "Up to 10,000 characters; null or blank: no description (on update: clears it).",
        ))
        .build()
}
