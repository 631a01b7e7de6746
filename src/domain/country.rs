//! Countries: ISO 3166-1 alpha-2 codes, from a list kept here (the standard changes a
//! few times a decade; a fetched list would make validation depend on the network).

/// A country, as its ISO 3166-1 alpha-2 code in capitals (`DE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// What a code looks like (the list decides which exist).
    pub const PATTERN: &'static str = "^[A-Z]{2}$";

    /// A code of the list, in capitals; `de` or `XX` is refused (a client that sends
    /// lowercase has a bug worth seeing, and one spelling keeps comparisons exact).
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.as_bytes() {
            [a, b] if ASSIGNED.binary_search(&raw).is_ok() => Ok(Self([*a, *b])),
            _ => Err(format!(
                "must be an ISO 3166-1 alpha-2 country code in capitals, such as \"DE\" (got {:?})",
                raw.chars().take(8).collect::<String>()
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Built only from ASCII codes of the list.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The officially assigned ISO 3166-1 alpha-2 codes (249), sorted for binary search.
pub const ASSIGNED: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_codes_are_accepted_and_others_refused() {
        assert!(
            ASSIGNED.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, no repeats"
        );
        for code in ["DE", "FR", "US", "GB", "AX", "ZW"] {
            assert_eq!(Country::parse(code).unwrap().as_str(), code);
        }
        for bad in ["de", "XX", "UK", "D", "DEU", "", "D\u{0}", "ÄÖ"] {
            assert!(Country::parse(bad).is_err(), "{bad:?}");
        }
    }
}
