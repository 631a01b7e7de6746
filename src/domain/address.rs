//! Postal addresses: what a customer types to have an order delivered. Each field is
//! parsed on its own (no rule spans two fields), so a partial update checks only the
//! fields it sends, and a whole address reports every bad field at once.

use super::country::Country;
use super::text::trimmed_within;

/// A whole, valid address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: Country,
    pub phone: Option<String>,
}

/// An address as a client sent it: `None` for a field left out (or null).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawAddress<'a> {
    pub name: Option<&'a str>,
    pub line1: Option<&'a str>,
    pub line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub region: Option<&'a str>,
    pub country: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// The longest each field may be, in characters (the columns' widths).
pub mod limits {
    pub const NAME: usize = 100;
    pub const LINE: usize = 200;
    pub const CITY: usize = 100;
    pub const POSTAL_CODE: usize = 20;
    pub const REGION: usize = 100;
    pub const PHONE: usize = 30;
}

/// What a postal code may hold: letters, digits, spaces and hyphens ("SW1A 1AA",
/// "10115", "1010-001"), and a phone number: digits with an optional leading `+`, spaces,
/// hyphens, dots and parentheses.
/// Both may be blank (or null): no postal code, no phone.
pub const POSTAL_CODE_PATTERN: &str = r"^ *([A-Za-z0-9][A-Za-z0-9 -]*)?$";
pub const PHONE_PATTERN: &str = r"^ *(\+?[0-9 ().-]*[0-9][0-9 ().-]*)?$";

const REQUIRED: &str = "is required";

impl Address {
    /// Every field checked; `Err` lists each bad one by its name.
    pub fn parse(raw: RawAddress<'_>) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let mut check = |field, result| checked(&mut errors, field, result);
        let name = check("name", required(raw.name).and_then(parse_name).map(Some));
        let line1 = check("line1", required(raw.line1).and_then(parse_line).map(Some));
        let line2 = check("line2", raw.line2.map_or(Ok(None), parse_line2));
        let city = check("city", required(raw.city).and_then(parse_city).map(Some));
        let postal_code = check(
            "postal_code",
            raw.postal_code.map_or(Ok(None), parse_postal_code),
        );
        let region = check("region", raw.region.map_or(Ok(None), parse_region));
        let country = checked(
            &mut errors,
            "country",
            required(raw.country).and_then(Country::parse),
        );
        let phone = checked(
            &mut errors,
            "phone",
            raw.phone.map_or(Ok(None), parse_phone),
        );
        match (
            name,
            line1,
            line2,
            city,
            postal_code,
            region,
            country,
            phone,
        ) {
            (
                Some(Some(name)),
                Some(Some(line1)),
                Some(line2),
                Some(Some(city)),
                Some(postal_code),
                Some(region),
                Some(country),
                Some(phone),
            ) => Ok(Self {
                name,
                line1,
                line2,
                city,
                postal_code,
                region,
                country,
                phone,
            }),
            _ => Err(errors),
        }
    }
}

/// The value, or `None` with the complaint recorded against `field`.
fn checked<T>(
    errors: &mut Vec<(&'static str, String)>,
    field: &'static str,
    result: Result<T, String>,
) -> Option<T> {
    result.map_err(|message| errors.push((field, message))).ok()
}

fn required(raw: Option<&str>) -> Result<&str, String> {
    raw.ok_or_else(|| REQUIRED.to_owned())
}

/// An optional text field: blank is none; otherwise as `label_text`.
fn optional_text(raw: &str, max: usize) -> Result<Option<String>, String> {
    refuse_controls(raw)?;
    if raw.trim().is_empty() {
        if raw.chars().count() > max {
            return Err(format!("must be at most {max} characters long"));
        }
        return Ok(None);
    }
    label_text(raw, max).map(Some)
}

/// Control characters are refused anywhere, even where trimming would remove them: one
/// simple rule that a client (and the schema's pattern) can state exactly.
fn refuse_controls(raw: &str) -> Result<(), String> {
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Free text printed on a parcel label: no control characters, at most `max` characters,
/// not blank; trimmed.
fn label_text(raw: &str, max: usize) -> Result<String, String> {
    refuse_controls(raw)?;
    Ok(trimmed_within(raw, max)?.to_owned())
}

/// Who receives the parcel: 1 to 100 characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    label_text(raw, limits::NAME)
}

/// A street line: 1 to 200 characters.
pub fn parse_line(raw: &str) -> Result<String, String> {
    label_text(raw, limits::LINE)
}

/// The second street line: up to 200 characters; blank is none.
pub fn parse_line2(raw: &str) -> Result<Option<String>, String> {
    optional_text(raw, limits::LINE)
}

/// 1 to 100 characters.
pub fn parse_city(raw: &str) -> Result<String, String> {
    label_text(raw, limits::CITY)
}

/// A state, province or county: up to 100 characters; blank is none.
pub fn parse_region(raw: &str) -> Result<Option<String>, String> {
    optional_text(raw, limits::REGION)
}

/// Up to 20 characters: letters, digits, spaces and hyphens, the first that is not a
/// space a letter or digit (`POSTAL_CODE_PATTERN`); spaces alone are none.
pub fn parse_postal_code(raw: &str) -> Result<Option<String>, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || c == '-';
    let code = raw.trim_matches(' ');
    if raw.chars().count() > limits::POSTAL_CODE {
        return Err(format!(
            "must be at most {} characters long",
            limits::POSTAL_CODE
        ));
    }
    if !raw.chars().all(allowed) || code.starts_with('-') {
        return Err("must be letters, digits, spaces and hyphens, such as \"10115\"".into());
    }
    Ok(Some(code.to_owned()).filter(|code| !code.is_empty()))
}

/// Up to 30 characters: digits, spaces, hyphens, dots and parentheses, with at least one
/// digit, after an optional `+` (`PHONE_PATTERN`); spaces alone are none.
pub fn parse_phone(raw: &str) -> Result<Option<String>, String> {
    let phone = raw.trim_matches(' ');
    if phone.is_empty() && raw.chars().count() <= limits::PHONE {
        return Ok(None);
    }
    if raw.chars().count() > limits::PHONE {
        return Err(format!("must be at most {} characters long", limits::PHONE));
    }
    let body = phone.strip_prefix('+').unwrap_or(phone);
    let allowed = |c: char| c.is_ascii_digit() || " ().-".contains(c);
    if !body.chars().all(allowed) || !body.chars().any(|c| c.is_ascii_digit()) {
        return Err("must be a phone number: digits, an optional leading +, spaces, hyphens, dots and parentheses".into());
    }
    Ok(Some(phone.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> RawAddress<'static> {
        RawAddress {
            name: Some(" Erika Mustermann "),
            line1: Some("Heidestraße 17"),
            city: Some("Köln"),
            postal_code: Some("51147"),
            country: Some("DE"),
            phone: Some("+49 221 1234-56"),
            ..RawAddress::default()
        }
    }

    #[test]
    fn a_whole_address_is_trimmed_and_blank_optionals_are_none() {
        let address = Address::parse(RawAddress {
            line2: Some("  "),
            ..berlin()
        })
        .unwrap();
        assert_eq!(address.name, "Erika Mustermann");
        assert_eq!(address.line2, None);
        assert_eq!(address.country.as_str(), "DE");
        assert_eq!(address.phone.as_deref(), Some("+49 221 1234-56"));
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = Address::parse(RawAddress {
            name: None,
            city: Some(&"x".repeat(101)),
            country: Some("XX"),
            postal_code: Some("10115!"),
            phone: Some("call me"),
            line2: Some("a\tb"),
            ..berlin()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(field, _)| *field).collect();
        assert_eq!(
            fields,
            ["name", "line2", "city", "postal_code", "country", "phone"]
        );
    }

    #[test]
    fn phone_numbers_and_postal_codes() {
        assert!(parse_phone("(030) 123 456").is_ok());
        assert!(parse_phone("+").is_err());
        assert!(parse_phone("++49").is_err());
        assert!(parse_postal_code("SW1A 1AA").is_ok());
        assert!(parse_postal_code("-123").is_err());
        assert_eq!(parse_postal_code("   "), Ok(None));
        assert_eq!(parse_phone(" "), Ok(None));
        assert!(parse_region(&" ".repeat(101)).is_err());
        assert_eq!(parse_region("  "), Ok(None));
        assert!(parse_postal_code(&"1".repeat(21)).is_err());
    }
}
