//! The configuration guide's table (docs/configuration.md) and `.env.example` agree with the
//! settings the code reads (`storefront::config::defaults::ALL`): every variable listed
//! once in each, none unknown, and every default as the code has it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use storefront::config::defaults::{Setting, Unset, WhenUnset, ALL};

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn setting(name: &str) -> Option<Setting> {
    ALL.iter().copied().find(|setting| setting.name() == name)
}

/// The table's rows as variable -> default cell, in the order they stand.
fn documented_defaults(guide: &str) -> Vec<(String, String)> {
    guide
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // "| `NAME` | default | meaning |" splits into ["", name, default, meaning, ""].
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn the_guide_lists_every_setting_once_with_its_default() {
    let rows = documented_defaults(&read("docs/configuration.md"));
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (name, default) in &rows {
        *seen.entry(name.as_str()).or_insert(0) += 1;
        match setting(name) {
            None => problems.push(format!(
                "{name}: documented, but the code reads no such variable"
            )),
            Some(setting) if setting.documented_default() != *default => problems.push(format!(
                "{name}: documented default {default}, the code's is {}",
                setting.documented_default()
            )),
            Some(_) => {}
        }
    }
    for setting in ALL {
        match seen.get(setting.name()) {
            None => problems.push(format!("{}: missing from the table", setting.name())),
            Some(1) => {}
            Some(n) => problems.push(format!("{}: {n} rows", setting.name())),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `NAME=value` lines of `.env.example`: (name, value, whether commented out).
fn example_lines(example: &str) -> Vec<(String, String, bool)> {
    example
        .lines()
        .filter_map(|line| {
            let (commented, rest) = match line.strip_prefix('#') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, line),
            };
            let (name, value) = rest.split_once('=')?;
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            // A commented example may carry a note after its value.
            let value = value.split_whitespace().next().unwrap_or_default();
            is_name.then(|| (name.to_owned(), value.to_owned(), commented))
        })
        .collect()
}

#[test]
fn env_example_shows_every_setting_once_with_its_default() {
    let lines = example_lines(&read(".env.example"));
    let mut problems = Vec::new();
    for setting in ALL {
        let name = setting.name();
        let shown: Vec<_> = lines.iter().filter(|(n, _, _)| n == name).collect();
        let [(_, value, commented)] = shown[..] else {
            problems.push(format!("{name}: shown {} times", shown.len()));
            continue;
        };
        match (setting.example_value(), setting) {
            // A default is shown as a live line, so copying the file changes nothing.
            (Some(default), _) if *commented || *value != default => problems.push(format!(
                "{name}: shows {value:?}{}, the default is {default:?}",
                if *commented { " commented out" } else { "" }
            )),
            (Some(_), _) => {}
            (
                None,
                Setting::Unset(Unset {
                    when_unset: WhenUnset::Required,
                    ..
                }),
            ) => {
                if *commented || value.is_empty() {
                    problems.push(format!("{name}: required, so shown set"));
                }
            }
            // Without one default to show: commented out, or set to nothing.
            (None, Setting::Number(_)) if !*commented => problems.push(format!(
                "{name}: its default depends on the machine; comment it out"
            )),
            (None, Setting::Unset(_)) if !*commented && !value.is_empty() => {
                problems.push(format!("{name}: has no default, shown set to {value:?}"))
            }
            (None, _) => {}
        }
    }
    for (name, _, _) in &lines {
        if setting(name).is_none() {
            problems.push(format!(
                "{name}: in .env.example, but the code reads no such variable"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
