//! What an order charges: each line's tax, the subtotal, shipping, the tax and the total,
//! in exact decimals. Tax is rounded per line, half-up to the cent, so the tax each line
//! shows adds up to the tax of the order (an invoice whose lines do not add up is wrong
//! to its reader, whatever the rounding theory says).

use bigdecimal::{BigDecimal, RoundingMode};

use super::catalogue::parse_decimal;

/// A tax rate: a percentage from 0 to 100 with up to three decimal places (`19`,
/// `8.875`), read from its decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate(BigDecimal);

impl TaxRate {
    /// 0 to 100 with up to three places (the string form; the number form has bounds).
    pub const PATTERN: &'static str = r"^(100(\.0{1,3})?|[0-9]{1,2}(\.[0-9]{1,3})?)$";

    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rate) = parse_decimal(text) else {
            return Err(
                "must be a percentage as a decimal string, such as \"19\" or \"8.875\"".into(),
            );
        };
        if text.starts_with('-') {
            return Err("must not be negative".into());
        }
        if text
            .split_once('.')
            .is_some_and(|(_, places)| places.len() > 3)
        {
            return Err("must have at most three decimal places".into());
        }
        if rate > 100_i64 {
            return Err("must be at most 100 (it is a percentage)".into());
        }
        Ok(Self(rate.with_scale(3)))
    }

    pub fn zero() -> Self {
        Self(BigDecimal::from(0))
    }

    pub fn from_decimal(rate: BigDecimal) -> Self {
        Self(rate)
    }

    pub fn as_decimal(&self) -> &BigDecimal {
        &self.0
    }
}

/// A rate as clients see it: two to three decimal places (`"19.00"`, `"8.875"`).
pub fn format_rate(rate: &BigDecimal) -> String {
    let text = rate.with_scale(3).to_plain_string();
    text.strip_suffix('0').map_or(text.clone(), str::to_owned)
}

/// How tax relates to the prices: contained in them (as EU shops show prices) or added on
/// top (as US shops do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxMode {
    Included,
    Excluded,
}

/// A shipping method's charge: its price, free from a subtotal on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingCharge {
    pub price: BigDecimal,
    pub free_over: Option<BigDecimal>,
}

/// One line to total: units at a unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineToTotal {
    pub item_id: i32,
    pub unit_price: BigDecimal,
    pub quantity: i32,
}

/// One line totalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTotal {
    pub item_id: i32,
    pub line_total: BigDecimal,
    pub tax: BigDecimal,
}

/// What an order charges. `total` is what the customer pays: the subtotal and shipping,
/// plus the tax when prices exclude it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: BigDecimal,
    pub shipping: BigDecimal,
    pub tax: BigDecimal,
    pub total: BigDecimal,
    pub lines: Vec<LineTotal>,
}

/// Totals of `lines` at `rate`, with `shipping` (none: free).
pub fn totals(
    lines: &[LineToTotal],
    rate: &TaxRate,
    mode: TaxMode,
    shipping: Option<&ShippingCharge>,
) -> Totals {
    let cent = |amount: BigDecimal| amount.with_scale_round(2, RoundingMode::HalfUp);
    let rate = rate.as_decimal();
    let hundred = BigDecimal::from(100);
    let lines: Vec<LineTotal> = lines
        .iter()
        .map(|line| {
            let line_total = cent(&line.unit_price * BigDecimal::from(line.quantity));
            // Included: the part of the price that is tax, price × rate / (100 + rate).
            // Excluded: rate % of the price, on top.
            let tax = match mode {
                TaxMode::Included => cent(&line_total * rate / (&hundred + rate)),
                TaxMode::Excluded => cent(&line_total * rate / &hundred),
            };
            LineTotal {
                item_id: line.item_id,
                line_total,
                tax,
            }
        })
        .collect();
    let zero = || BigDecimal::from(0).with_scale(2);
    let subtotal = lines
        .iter()
        .fold(zero(), |sum, line| sum + &line.line_total);
    let tax = lines.iter().fold(zero(), |sum, line| sum + &line.tax);
    let shipping = match shipping {
        Some(charge)
            if !charge
                .free_over
                .as_ref()
                .is_some_and(|from| &subtotal >= from) =>
        {
            cent(charge.price.clone())
        }
        _ => zero(),
    };
    let total = match mode {
        TaxMode::Included => &subtotal + &shipping,
        TaxMode::Excluded => &subtotal + &shipping + &tax,
    };
    Totals {
        subtotal,
        shipping,
        tax,
        total: cent(total),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::domain::catalogue::format_money;

    fn money(text: &str) -> BigDecimal {
        BigDecimal::from_str(text).unwrap()
    }

    fn line(item_id: i32, unit_price: &str, quantity: i32) -> LineToTotal {
        LineToTotal {
            item_id,
            unit_price: money(unit_price),
            quantity,
        }
    }

    fn shown(totals: &Totals) -> Vec<String> {
        let mut shown: Vec<String> = [
            &totals.subtotal,
            &totals.shipping,
            &totals.tax,
            &totals.total,
        ]
        .into_iter()
        .map(format_money)
        .collect();
        shown.extend(totals.lines.iter().map(|line| format_money(&line.tax)));
        shown
    }

    /// The worked example of the documentation (docs/api.md, "Checkout totals"): three
    /// mugs at 9.99 and a sticker at 0.10, 19 % tax, shipping 4.90.
    #[test]
    fn the_documented_worked_example() {
        let lines = [line(1, "9.99", 3), line(2, "0.10", 1)];
        let rate = TaxRate::parse("19").unwrap();
        let shipping = ShippingCharge {
            price: money("4.90"),
            free_over: None,
        };
        // Prices include tax: 29.97 × 19 / 119 = 4.7851… → 4.79; 0.10 × 19 / 119 =
        // 0.0159… → 0.02. Rounded once over 30.07 it would be 4.80, not 4.81.
        let included = totals(&lines, &rate, TaxMode::Included, Some(&shipping));
        assert_eq!(
            shown(&included),
            ["30.07", "4.90", "4.81", "34.97", "4.79", "0.02"]
        );
        // Prices exclude tax: 29.97 × 0.19 = 5.6943 → 5.69; 0.10 × 0.19 = 0.019 → 0.02.
        let excluded = totals(&lines, &rate, TaxMode::Excluded, Some(&shipping));
        assert_eq!(
            shown(&excluded),
            ["30.07", "4.90", "5.71", "40.68", "5.69", "0.02"]
        );
    }

    #[test]
    fn half_a_cent_rounds_up() {
        // 0.50 × 1 % = 0.005 → 0.01 (half-up; half-even would give 0.00).
        let rate = TaxRate::parse("1").unwrap();
        let excluded = totals(&[line(1, "0.50", 1)], &rate, TaxMode::Excluded, None);
        assert_eq!(format_money(&excluded.tax), "0.01");
        // 2.50 × 0.1 % = 0.0025 → 0.00.
        let rate = TaxRate::parse("0.1").unwrap();
        let excluded = totals(&[line(1, "2.50", 1)], &rate, TaxMode::Excluded, None);
        assert_eq!(format_money(&excluded.tax), "0.00");
    }

    #[test]
    fn shipping_is_free_from_its_threshold() {
        let charge = ShippingCharge {
            price: money("4.90"),
            free_over: Some(money("50.00")),
        };
        let zero = TaxRate::zero();
        let below = totals(
            &[line(1, "49.99", 1)],
            &zero,
            TaxMode::Included,
            Some(&charge),
        );
        assert_eq!(format_money(&below.shipping), "4.90");
        assert_eq!(format_money(&below.total), "54.89");
        let at = totals(
            &[line(1, "25.00", 2)],
            &zero,
            TaxMode::Included,
            Some(&charge),
        );
        assert_eq!(format_money(&at.shipping), "0.00");
        assert_eq!(format_money(&at.total), "50.00");
    }

    #[test]
    fn rates_are_percentages_up_to_100() {
        assert_eq!(
            format_rate(TaxRate::parse("19").unwrap().as_decimal()),
            "19.00"
        );
        assert_eq!(
            format_rate(TaxRate::parse("8.875").unwrap().as_decimal()),
            "8.875"
        );
        assert_eq!(
            format_rate(TaxRate::parse("100").unwrap().as_decimal()),
            "100.00"
        );
        for bad in ["-1", "100.001", "101", "1e1", "abc", "", "19.1234", "NaN"] {
            assert!(TaxRate::parse(bad).is_err(), "{bad}");
        }
    }
}
