//! OpenAPI schemas of the validated fields: exactly what the `domain` parsers accept, so
//! a client (or a fuzzer) can tell valid input from the document alone. Limits come from
//! the domain types; the patterns restate their rules as regular expressions.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::Object;

use crate::domain::address::{limits, PHONE_PATTERN, POSTAL_CODE_PATTERN};
use crate::domain::country::ASSIGNED;
use crate::domain::{
    CancelReason, Carrier, CatalogueName, CategorySlug, Description, DisplayName, Email, Password,
    Price, ProductImages, ProductName, TaxRate, TrackingNumber, Username, MAX_AXES, MAX_OPTION_LEN,
    MAX_VALUES,
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

/// A query filter on one of those words: empty (`status=`, as an HTML form's "any"
/// sends it) is no filter.
pub fn filter_enum(words: &'static [&'static str]) -> Object {
    string_schema()
        .enum_values(Some(std::iter::once("").chain(words.iter().copied())))
        .description(Some("Empty: no filter."))
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

/// A price that may be null (none: "never free", "not sent").
pub fn nullable_price_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number, Type::Null]))
        .pattern(Some(Price::PATTERN))
        .minimum(Some(0))
        .maximum(Some(9_999_999_999.99))
        .multiple_of(Some(0.01))
        .description(Some(
            "Null, or as a price: non-negative, at most two decimal places, at most 9999999999.99, a decimal string (preferred) or a JSON number in plain notation.",
        ))
        .examples(["50.00"])
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

/// Control characters (Rust's `char::is_control`), as a regex class body.
const CONTROL: &str = "\\u0000-\\u001F\\u007F-\\u009F";

/// A required address line: no control characters anywhere, 1 to `max` characters, not
/// all whitespace (trimmed).
fn address_text_schema(max: usize, example: &str) -> Object {
    string_schema()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(format!(
            "^[^{CONTROL}]*[^{CONTROL}{WHITESPACE}][^{CONTROL}]*$"
        )))
        .description(Some(format!(
            "1 to {max} characters, not all whitespace, no control characters (trimmed)."
        )))
        .examples([example])
        .build()
}

/// An optional address line: null, blank (none), or up to `max` characters without
/// control characters (trimmed).
fn optional_address_text_schema(max: usize, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(max))
        .pattern(Some(format!("^[^{CONTROL}]*$")))
        .description(Some(format!(
            "Up to {max} characters, no control characters; null or blank: none."
        )))
        .examples([example])
        .build()
}

pub fn recipient_name_schema() -> Object {
    address_text_schema(limits::NAME, "Erika Mustermann")
}

pub fn line1_schema() -> Object {
    address_text_schema(limits::LINE, "Heidestraße 17")
}

pub fn line2_schema() -> Object {
    optional_address_text_schema(limits::LINE, "2nd floor")
}

pub fn city_schema() -> Object {
    address_text_schema(limits::CITY, "Köln")
}

pub fn region_schema() -> Object {
    optional_address_text_schema(limits::REGION, "NRW")
}

pub fn postal_code_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(limits::POSTAL_CODE))
        .pattern(Some(POSTAL_CODE_PATTERN))
        .description(Some(
            "Up to 20 letters, digits, spaces and hyphens, starting with a letter or digit; null or spaces: none (not every country has postal codes).",
        ))
        .examples(["51147"])
        .build()
}

pub fn phone_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(limits::PHONE))
        .pattern(Some(PHONE_PATTERN))
        .description(Some(
            "Up to 30 characters: an optional leading +, then digits, spaces, hyphens, dots and parentheses, at least one digit; null or spaces: none.",
        ))
        .examples(["+49 221 123456"])
        .build()
}

/// A country: one of the ISO 3166-1 alpha-2 codes, in capitals.
pub fn country_schema() -> Object {
    string_schema()
        .enum_values(Some(ASSIGNED))
        .description(Some("ISO 3166-1 alpha-2 country code, in capitals."))
        .examples(["DE"])
        .build()
}

/// A tax rate: a percentage from 0 to 100, up to three decimal places, as a decimal
/// string or a JSON number in plain notation.
pub fn tax_rate_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .pattern(Some(TaxRate::PATTERN))
        .minimum(Some(0))
        .maximum(Some(100))
        .multiple_of(Some(0.001))
        .description(Some(
            "A percentage from 0 to 100 with at most three decimal places (\"19\" is 19 %): a decimal string (preferred) or a JSON number in plain notation.",
        ))
        .examples(["19"])
        .build()
        .into()
}

/// A rate as the service writes it.
pub fn tax_rate_out_schema() -> Object {
    string_schema()
        .pattern(Some(r"^[0-9]{1,3}\.[0-9]{2,3}$"))
        .description(Some(
            "A percentage, two or three decimal places (\"19.00\", \"8.875\").",
        ))
        .examples(["19.00"])
        .build()
}

/// An amount as the service writes it: a decimal string with two places.
pub fn money_out_schema() -> Object {
    string_schema()
        .pattern(Some(r"^[0-9]+\.[0-9]{2}$"))
        .description(Some("Decimal string, two places."))
        .examples(["39.80"])
        .build()
}

/// What `CatalogueName::parse` accepts: a category's or a variant group's name.
pub fn catalogue_name_schema() -> Object {
    trimmed_text_schema(CatalogueName::MAX_LEN)
        .examples(["Shirts"])
        .build()
}

/// What `CategorySlug::parse` accepts.
pub fn category_slug_schema() -> Object {
    string_schema()
        .min_length(Some(1))
        .max_length(Some(CategorySlug::MAX_LEN))
        .pattern(Some(CategorySlug::PATTERN))
        .examples(["shirts"])
        .build()
}

/// An option's name or value: 1 to 100 characters, no whitespace at either end.
fn option_text_schema() -> ObjectBuilder {
    string_schema()
        .min_length(Some(1))
        .max_length(Some(MAX_OPTION_LEN))
        .pattern(Some(format!(
            "^[^\\u0000{WHITESPACE}]([^\\u0000]*[^\\u0000{WHITESPACE}])?$"
        )))
        .examples(["size"])
}

/// A variant group's options: each option's name to its distinct values, in display
/// order (what `OptionAxes::parse` accepts).
pub fn option_axes_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .min_properties(Some(1))
        .max_properties(Some(MAX_AXES))
        .property_names(Some(option_text_schema()))
        .additional_properties(Some(
            ArrayBuilder::new()
                .items(option_text_schema())
                .min_items(Some(1))
                .max_items(Some(MAX_VALUES))
                .unique_items(true),
        ))
        .description(Some(format!(
            "Each option's name and its values, in display order: 1 to {MAX_AXES} options, each with 1 to {MAX_VALUES} distinct values; names and values 1 to {MAX_OPTION_LEN} characters."
        )))
        .examples([serde_json::json!({"size": ["S", "M", "L"], "colour": ["white", "blue"]})])
        .build()
}

/// A variant's options: a value for each option of its group.
pub fn variant_options_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .min_properties(Some(1))
        .max_properties(Some(MAX_AXES))
        .property_names(Some(option_text_schema()))
        .additional_properties(Some(option_text_schema()))
        .description(Some(
            "A value for each option of the variant's group, as the group lists them.",
        ))
        .examples([serde_json::json!({"size": "M", "colour": "white"})])
        .build()
}

/// A variant's options, or null (not a variant).
pub fn nullable_variant_options_schema() -> Object {
    let mut schema = variant_options_schema();
    schema.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
    schema
}

/// What `ProductImages::parse` accepts as an image URL: absolute https, a host of letters,
/// digits, dots and hyphens (an optional port), no whitespace, control characters or
/// backslashes.
pub fn image_url_schema() -> Object {
    string_schema()
        .min_length(Some(9))
        .max_length(Some(ProductImages::MAX_URL_LEN))
        .pattern(Some(format!(
            "^https://[A-Za-z0-9.-]+(:[0-9]{{1,4}})?([/?#][^{SPACE_OR_CONTROL}\\\\]*)?$"
        )))
        .examples(["https://cdn.example.com/teapot-front.jpg"])
        .build()
}
