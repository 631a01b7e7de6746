//! What staff and customers type about an order: a cancel reason, a shipment's carrier
//! and tracking number.

use super::text::trimmed_within;

/// Why an order is cancelled: 1 to 500 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelReason(String);

impl CancelReason {
    pub const MAX_LEN: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, String> {
        trimmed_within(raw, Self::MAX_LEN).map(|reason| Self(reason.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who carries a shipment ("DHL"): 1 to 100 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier(String);

impl Carrier {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        trimmed_within(raw, Self::MAX_LEN).map(|carrier| Self(carrier.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A carrier's tracking number: 1 to 100 characters once trimmed, no control characters
/// (carriers print them with spaces, "1Z 999 AA1 01 2345 6784", so spaces are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingNumber(String);

impl TrackingNumber {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let number = trimmed_within(raw, Self::MAX_LEN)?;
        if number.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(number.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipment_fields_are_trimmed_and_bounded() {
        assert_eq!(Carrier::parse("  DHL ").unwrap().as_str(), "DHL");
        assert!(Carrier::parse("   ").is_err());
        assert!(Carrier::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            TrackingNumber::parse("1Z 999 AA1").unwrap().as_str(),
            "1Z 999 AA1"
        );
        assert!(TrackingNumber::parse("12\t34").is_err());
        assert!(TrackingNumber::parse("").is_err());
        assert!(CancelReason::parse(&"y".repeat(500)).is_ok());
        assert!(CancelReason::parse(&"y".repeat(501)).is_err());
    }
}
