//! Variant groups: the option axes of a group (size, colour) and a variant's choice on
//! each of them.

use std::collections::BTreeMap;

/// One axis: its name and the values a variant may take on it, in display order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OptionAxis {
    pub name: String,
    pub values: Vec<String>,
}

/// A group's axes, in display order: 1 to 5, names distinct, each with 1 to 100 distinct
/// values; names and values 1 to 100 characters, without whitespace at either end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionAxes(Vec<OptionAxis>);

pub const MAX_AXES: usize = 5;
pub const MAX_VALUES: usize = 100;
pub const MAX_OPTION_LEN: usize = 100;

impl OptionAxes {
    pub fn parse(raw: Vec<(String, Vec<String>)>) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_AXES {
            return Err(format!("must have 1 to {MAX_AXES} option names"));
        }
        let mut axes: Vec<OptionAxis> = Vec::with_capacity(raw.len());
        for (name, values) in raw {
            let name = option_text(&name).map_err(|m| format!("option name {name:?} {m}"))?;
            if axes.iter().any(|a| a.name == name) {
                return Err(format!("option {name:?} is named twice"));
            }
            if values.is_empty() || values.len() > MAX_VALUES {
                return Err(format!(
                    "option {name:?} must have 1 to {MAX_VALUES} values"
                ));
            }
            let mut kept: Vec<String> = Vec::with_capacity(values.len());
            for value in values {
                let value = option_text(&value)
                    .map_err(|m| format!("value {value:?} of option {name:?} {m}"))?;
                if kept.contains(&value) {
                    return Err(format!("value {value:?} of option {name:?} is given twice"));
                }
                kept.push(value);
            }
            axes.push(OptionAxis { name, values: kept });
        }
        Ok(Self(axes))
    }

    /// Axes as stored (already valid).
    pub fn from_stored(axes: Vec<OptionAxis>) -> Self {
        Self(axes)
    }

    pub fn axes(&self) -> &[OptionAxis] {
        &self.0
    }

    /// Whether `options` names every axis once, each with one of its values.
    pub fn admits(&self, options: &VariantOptions) -> Result<(), String> {
        for (name, value) in &options.0 {
            match self.0.iter().find(|axis| &axis.name == name) {
                None => return Err(format!("the group has no option {name:?}")),
                Some(axis) if !axis.values.contains(value) => {
                    return Err(format!(
                        "{value:?} is not one of the group's values for {name:?} ({})",
                        axis.values.join(", ")
                    ))
                }
                Some(_) => {}
            }
        }
        match self
            .0
            .iter()
            .find(|axis| !options.0.contains_key(&axis.name))
        {
            Some(axis) => Err(format!("must give a value for {:?}", axis.name)),
            None => Ok(()),
        }
    }
}

/// A variant's value on each axis of its group: `{"size": "M", "colour": "red"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct VariantOptions(BTreeMap<String, String>);

impl VariantOptions {
    /// Checks each name and value; whether they fit a group is [`OptionAxes::admits`].
    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_AXES {
            return Err(format!("must give 1 to {MAX_AXES} option values"));
        }
        let mut options = BTreeMap::new();
        for (name, value) in raw {
            let name = option_text(&name).map_err(|m| format!("option name {name:?} {m}"))?;
            let value = option_text(&value).map_err(|m| format!("value of option {name:?} {m}"))?;
            if options.insert(name.clone(), value).is_some() {
                return Err(format!("option {name:?} is named twice"));
            }
        }
        Ok(Self(options))
    }

    /// Options as stored (already valid).
    pub fn from_stored(options: BTreeMap<String, String>) -> Self {
        Self(options)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// 1 to 100 characters, no NUL, not starting or ending with whitespace (so two names or
/// values never differ by spaces a shopper cannot see).
fn option_text(raw: &str) -> Result<String, String> {
    let text = super::text::trimmed_within(raw, MAX_OPTION_LEN)?;
    if text.len() != raw.len() {
        return Err("must not start or end with whitespace".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes() -> OptionAxes {
        OptionAxes::parse(vec![
            ("size".into(), vec!["S".into(), "M".into()]),
            ("colour".into(), vec!["red".into()]),
        ])
        .unwrap()
    }

    fn options(pairs: &[(&str, &str)]) -> VariantOptions {
        VariantOptions::parse(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_variant_names_every_axis_once_with_one_of_its_values() {
        assert_eq!(
            axes().admits(&options(&[("size", "M"), ("colour", "red")])),
            Ok(())
        );
        assert!(axes().admits(&options(&[("size", "M")])).is_err());
        assert!(axes()
            .admits(&options(&[("size", "XL"), ("colour", "red")]))
            .is_err());
        assert!(axes()
            .admits(&options(&[
                ("size", "M"),
                ("colour", "red"),
                ("fit", "slim")
            ]))
            .is_err());
    }

    #[test]
    fn axes_keep_their_order_and_refuse_repeats() {
        assert_eq!(axes().axes()[0].name, "size");
        assert!(OptionAxes::parse(vec![]).is_err());
        assert!(OptionAxes::parse(vec![("size".into(), vec![])]).is_err());
        assert!(OptionAxes::parse(vec![("size".into(), vec!["S".into(), "S".into()])]).is_err());
        assert!(OptionAxes::parse(vec![
            ("a".into(), vec!["1".into()]),
            ("a".into(), vec!["2".into()])
        ])
        .is_err());
    }
}
