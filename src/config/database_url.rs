//! `DatabaseUrl`: a PostgreSQL connection URL, checked when the configuration is read, that
//! can be shown in logs and errors without its password.

use std::fmt;

use url::Url;

/// A PostgreSQL connection URL. Its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Url);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|err| format!("not a URL ({err})"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err("expected a postgres:// or postgresql:// URL".into());
        }
        let url = Self(url);
        if url.database_name().is_empty() {
            return Err("the URL names no database (postgres://user@host:5432/dbname)".into());
        }
        Ok(url)
    }

    /// The full URL, password included: only for handing to libpq.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn database_name(&self) -> &str {
        self.0.path().trim_start_matches('/')
    }

    /// `host:port` as libpq will dial it, for error messages.
    pub fn host_description(&self) -> String {
        let socket_dir = self
            .0
            .query_pairs()
            .find(|(key, _)| key == "host")
            .map(|(_, value)| value.into_owned());
        let host = self
            .0
            .host_str()
            .filter(|host| !host.is_empty())
            .map(str::to_owned)
            .or(socket_dir)
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}:{}", self.0.port().unwrap_or(5432))
    }

    /// The same server, another database (used to create ours, and by the test harness).
    pub fn with_database(&self, name: &str) -> Self {
        let mut url = self.0.clone();
        url.set_path(&format!("/{name}"));
        Self(url)
    }

    /// Adds a libpq parameter unless the URL already sets it, so the operator's choice wins.
    pub fn with_default_param(&self, key: &str, value: &str) -> Self {
        if self.0.query_pairs().any(|(k, _)| k == key) {
            return self.clone();
        }
        let mut url = self.0.clone();
        url.query_pairs_mut().append_pair(key, value);
        Self(url)
    }

    fn redacted(&self) -> String {
        let mut url = self.0.clone();
        if url.password().is_some() {
            // Cannot fail: the URL has a host, or it would have no password.
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}
