//! Cart quantities.

/// Units of one product on a cart line: 1 to 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i32);

impl Quantity {
    /// Most units of one product a single request may add or set.
    pub const MAX: i32 = 999;

    pub fn parse(raw: i64) -> Result<Self, String> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as i32))
        } else {
            Err(format!("must be a whole number from 1 to {}", Self::MAX))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_one_to_999() {
        assert_eq!(Quantity::parse(1).map(Quantity::get), Ok(1));
        assert_eq!(Quantity::parse(999).map(Quantity::get), Ok(999));
        for bad in [0, -1, 1000, i64::from(i32::MAX) + 1] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }
}
