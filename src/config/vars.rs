//! `Vars`: typed reads of the settings in `defaults.rs` from any variable source. An empty
//! value counts as unset; each error (`ConfigError`) names its variable and the form it
//! expects.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use url::Url;

use super::defaults::{Flag, Number, Text, Unset};

/// A setting that is missing or malformed. Displays as one line naming the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// A variable source (`std::env::var`, or a map in tests), and the machine's core count
/// that some defaults scale with.
pub(super) struct Vars<'a, F> {
    lookup: &'a F,
    cores: u32,
}

impl<'a, F: Fn(&str) -> Option<String>> Vars<'a, F> {
    pub(super) fn new(lookup: &'a F, cores: u32) -> Self {
        Self { lookup, cores }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    pub(super) fn required<T>(
        &self,
        setting: &Unset,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        self.optional(setting, parse)?.ok_or_else(|| ConfigError {
            variable: setting.name,
            problem: "is not set (see .env.example)".into(),
        })
    }

    /// A setting without a default: `None` when unset or empty.
    pub(super) fn optional<T>(
        &self,
        setting: &Unset,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(setting.name)
            .map(|raw| {
                parse(raw.trim()).map_err(|problem| ConfigError {
                    variable: setting.name,
                    problem,
                })
            })
            .transpose()
    }

    /// A comma-separated list of whole seconds (`5,300,1800`), at least one, each at
    /// most a day.
    pub(super) fn seconds_list(&self, setting: &Text) -> Result<Vec<Duration>, ConfigError> {
        let raw = self
            .get(setting.name)
            .unwrap_or_else(|| setting.default.to_owned());
        let parsed: Option<Vec<Duration>> = raw
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|secs| *secs <= 86_400)
                    .map(Duration::from_secs)
            })
            .collect();
        parsed
            .filter(|list| !list.is_empty() && list.len() <= 20)
            .ok_or_else(|| ConfigError {
                variable: setting.name,
                problem: format!(
                    "expected 1 to 20 comma-separated whole seconds (each at most 86400) such as 5,300,1800, got {raw:?}"
                ),
            })
    }

    /// `host:port`; a host name is resolved now, so a typo fails the start, not the bind.
    pub(super) fn socket_addr(&self, setting: &Text) -> Result<SocketAddr, ConfigError> {
        let raw = self
            .get(setting.name)
            .unwrap_or_else(|| setting.default.to_owned());
        let error = || ConfigError {
            variable: setting.name,
            problem: format!("expected host:port such as 127.0.0.1:8080, got {raw:?}"),
        };
        if let Ok(addr) = raw.trim().parse() {
            return Ok(addr);
        }
        raw.trim()
            .to_socket_addrs()
            .map_err(|_| error())?
            .next()
            .ok_or_else(error)
    }

    /// A comma-separated list of origins exactly as browsers send them (scheme, host and
    /// port if not the default; no path, no trailing slash), or `*`.
    pub(super) fn origins(&self, setting: &Unset) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.get(setting.name) else {
            return Ok(Vec::new());
        };
        let origins: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect();
        if origins == ["*"] {
            return Ok(origins);
        }
        for origin in &origins {
            let canonical = Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .map(|url| url.origin().ascii_serialization());
            if canonical.as_deref() != Some(origin.as_str()) {
                return Err(ConfigError {
                    variable: setting.name,
                    problem: format!(
                        "expected * or origins such as https://shop.example.com,http://localhost:3000 \
                         (scheme://host[:port], no path), got {origin:?}"
                    ),
                });
            }
        }
        Ok(origins)
    }

    pub(super) fn log_filter(&self, setting: &Text) -> Result<String, ConfigError> {
        let raw = self
            .get(setting.name)
            .unwrap_or_else(|| setting.default.to_owned());
        tracing_subscriber::EnvFilter::try_new(raw.trim()).map_err(|err| ConfigError {
            variable: setting.name,
            problem: format!(
                "expected a log filter such as info or storefront=debug ({err}), got {raw:?}"
            ),
        })?;
        Ok(raw.trim().to_owned())
    }

    /// A whole number within the setting's range; its default when unset.
    pub(super) fn number(&self, setting: &Number) -> Result<u32, ConfigError> {
        let Some(raw) = self.get(setting.name) else {
            return Ok(setting.default.for_cores(self.cores));
        };
        match raw.trim().parse::<u32>() {
            Ok(value) if setting.range.contains(&value) => Ok(value),
            _ => Err(ConfigError {
                variable: setting.name,
                problem: format!(
                    "expected a whole number from {} to {}, got {raw:?}",
                    setting.range.start(),
                    setting.range.end()
                ),
            }),
        }
    }

    pub(super) fn millis(&self, setting: &Number) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.number(setting)?.into()))
    }

    pub(super) fn secs(&self, setting: &Number) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.number(setting)?.into()))
    }

    /// Seconds, where 0 means "never".
    pub(super) fn optional_secs(&self, setting: &Number) -> Result<Option<Duration>, ConfigError> {
        let secs = self.number(setting)?;
        Ok((secs > 0).then(|| Duration::from_secs(secs.into())))
    }

    pub(super) fn boolean(&self, setting: &Flag) -> Result<bool, ConfigError> {
        let Some(raw) = self.get(setting.name) else {
            return Ok(setting.default);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError {
                variable: setting.name,
                problem: format!("expected true or false, got {raw:?}"),
            }),
        }
    }
}
