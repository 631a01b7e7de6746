//! Page sizes of keyset-paginated listings.

/// Rows a page shows: 1 to 100, 20 when the client does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(i64);

impl PageSize {
    pub const DEFAULT: i64 = 20;
    pub const MAX: i64 = 100;

    /// `None` is the default size.
    pub fn parse(raw: Option<i64>) -> Result<Self, String> {
        let size = raw.unwrap_or(Self::DEFAULT);
        if (1..=Self::MAX).contains(&size) {
            Ok(Self(size))
        } else {
            Err(format!("must be from 1 to {}", Self::MAX))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Rows to fetch: one more than a page shows, to learn whether another page follows.
    pub fn with_lookahead(self) -> i64 {
        self.0 + 1
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_to_20_and_stay_within_1_to_100() {
        assert_eq!(PageSize::parse(None).map(PageSize::get), Ok(20));
        assert_eq!(PageSize::parse(Some(100)).map(PageSize::get), Ok(100));
        assert!(PageSize::parse(Some(0)).is_err());
        assert!(PageSize::parse(Some(101)).is_err());
    }
}
