//! Account fields: username, email, password.

/// 3 to 50 letters, digits, `_`, `-` or `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, String> {
        length_within(raw, Self::MIN_LEN, Self::MAX_LEN)?;
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
/// Delivery is what proves an address. Not trimmed: the OpenAPI pattern says exactly
/// what is accepted, and a front end trims what its user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Characters, as VARCHAR(255) and JSON Schema's maxLength count them.
    pub const MAX_LEN: usize = 255;
    pub const MAX_LOCAL_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err("must be at most 255 characters long".into());
        }
        let valid = match raw.split_once('@') {
            Some((local, domain)) => {
                (1..=Self::MAX_LOCAL_LEN).contains(&local.chars().count())
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

/// The name a user is greeted by: up to 255 characters, trimmed, not all whitespace, no
/// NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = 255;

    /// Lengths are counted before trimming, as the document's maxLength counts them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        super::text::trimmed_within(raw, Self::MAX_LEN).map(|name| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8 to 128 characters. Not trimmed: spaces are legitimate password characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        length_within(raw, Self::MIN_LEN, Self::MAX_LEN)?;
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

/// Lengths in characters, as JSON Schema's minLength and maxLength count them.
fn length_within(raw: &str, min: usize, max: usize) -> Result<(), String> {
    if (min..=max).contains(&raw.chars().count()) {
        Ok(())
    } else {
        Err(format!("must be {min} to {max} characters long"))
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
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Alice A. ").unwrap().as_str(),
            "Alice A."
        );
        assert!(DisplayName::parse(" ").is_err());
        assert!(DisplayName::parse("a\0b").is_err());
        assert!(DisplayName::parse(&"é".repeat(255)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(256)).is_err());
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"p".repeat(129)).is_err());
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
