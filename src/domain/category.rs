//! Category fields: the slug a front end puts in its URLs, and the name.

/// A category's URL name: 1 to 100 lowercase ASCII letters and digits in words joined by
/// single hyphens (`mens-shirts`), as the column's CHECK has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategorySlug(String);

impl CategorySlug {
    pub const MAX_LEN: usize = 100;
    /// The JSON Schema pattern of the same rule.
    pub const PATTERN: &'static str = "^[a-z0-9]+(-[a-z0-9]+)*$";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let well_formed = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.split('-').all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "must be 1 to {} lowercase letters and digits, in words joined by single hyphens (like `mens-shirts`)",
                Self::MAX_LEN
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A category's or a variant group's name: the same rule as a product's (1 to 255
/// characters once trimmed).
pub type CatalogueName = super::catalogue::ProductName;

/// A sibling position: 0 to 1,000,000 (siblings are shown in ascending order).
pub fn parse_position(raw: i64) -> Result<i32, String> {
    i32::try_from(raw)
        .ok()
        .filter(|p| (0..=MAX_POSITION).contains(p))
        .ok_or_else(|| format!("must be a whole number from 0 to {MAX_POSITION}"))
}

pub const MAX_POSITION: i32 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_words_joined_by_single_hyphens() {
        for good in ["shirts", "mens-shirts", "a1-b2-c3", "x"] {
            assert!(CategorySlug::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(101);
        for bad in [
            "",
            "Shirts",
            "mens--shirts",
            "-shirts",
            "shirts-",
            "mens shirts",
            "café",
            "a_b",
            long.as_str(),
        ] {
            assert!(CategorySlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn positions_are_bounded() {
        assert_eq!(parse_position(0), Ok(0));
        assert_eq!(parse_position(1_000_000), Ok(1_000_000));
        assert!(parse_position(-1).is_err());
        assert!(parse_position(1_000_001).is_err());
    }
}
