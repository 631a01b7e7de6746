//! Conditional requests (RFC 9110 §13) and the catalogue's caching headers: entity tags
//! derived from the bytes of a response body, `If-None-Match` / `If-Modified-Since` for
//! reads (304), `If-Match` for cart changes (412), and `Cache-Control`.
//!
//! A tag is a digest of the exact JSON a client would receive, so any change to what a
//! response shows changes its tag, including fields computed at read time that no
//! `updated_at` tracks. Tags are strong: equal tags mean byte-identical bodies.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap, HttpDate};
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use utoipa::IntoParams;

use super::credentials::carries_credentials;
use super::error::ApiError;

/// `If-None-Match`, documented (the handlers read the header themselves).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfNoneMatch {
    /// Entity tags of copies the client holds (`"tag"`, `W/"tag"`, comma-separated) or
    /// `*`: when one matches the current tag (weak comparison), the answer is 304 with no
    /// body.
    #[param(rename = "If-None-Match", value_type = String, required = false)]
    if_none_match: Option<String>,
}

/// `If-Modified-Since`, documented.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfModifiedSince {
    /// An HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`): 304 when the product has not
    /// changed since. Ignored when If-None-Match is sent, and when it is not a valid
    /// HTTP-date.
    #[param(rename = "If-Modified-Since", value_type = String, required = false)]
    if_modified_since: Option<String>,
}

/// `If-Match`, documented.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatch {
    /// The cart's `ETag` as last read (or `*`: any cart): the change is made only if the
    /// cart still has that tag, otherwise 412 `precondition_failed` and nothing changes.
    #[param(rename = "If-Match", value_type = String, required = false)]
    if_match: Option<String>,
}

/// The JSON a response will carry, as bytes: its tag is computed from exactly these.
pub fn json_bytes(value: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|err| ApiError::Internal(format!("serialize: {err}")))
}

/// The strong entity tag of a body: `"` + its 128-bit XXH3 hash, base64url + `"`.
///
/// A tag only has to change when the body does; no one gains by making two bodies
/// collide (their content is the shop's), so a fast non-cryptographic hash does: a
/// profile of product reads had SHA-256 at a quarter of the service's instructions.
pub fn etag_of(body: &[u8]) -> String {
    let digest = xxhash_rust::xxh3::xxh3_128(body).to_be_bytes();
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(digest))
}

/// An `If-Match` or `If-None-Match` field value: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagCondition {
    /// `*`: any current representation.
    Any,
    /// The listed tags as sent (`"xyz"` or `W/"xyz"`).
    Tags(Vec<String>),
}

impl TagCondition {
    /// The condition of every `name` header line together; `None` when there is none. A
    /// value that cannot be read as `*` or entity tags names no current tag: it is kept
    /// as an empty list, which matches nothing (a garbled `If-Match` must refuse the
    /// change, not wave it through).
    pub fn from_headers(headers: &HeaderMap, name: header::HeaderName) -> Option<Self> {
        let mut tags = Vec::new();
        let mut any = false;
        let mut seen = false;
        let mut malformed = false;
        for value in headers.get_all(name) {
            seen = true;
            match value.to_str().map(str::trim) {
                Ok("*") => any = true,
                Ok(list) => match parse_tag_list(list) {
                    Some(parsed) => tags.extend(parsed),
                    None => malformed = true,
                },
                Err(_) => malformed = true,
            }
        }
        if !seen {
            None
        } else if malformed {
            Some(Self::Tags(Vec::new()))
        } else if any {
            Some(Self::Any)
        } else {
            Some(Self::Tags(tags))
        }
    }

    /// Weak comparison (`If-None-Match`, RFC 9110 §13.1.2): `W/"x"` matches `"x"`.
    pub fn matches_weakly(&self, current: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| opaque(tag) == opaque(current)),
        }
    }

    /// Strong comparison (`If-Match`, RFC 9110 §13.1.1): a weak tag matches nothing.
    pub fn matches_strongly(&self, current: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags
                .iter()
                .any(|tag| !tag.starts_with("W/") && tag == current),
        }
    }
}

/// The tag without its weakness prefix.
fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// `#entity-tag`: comma-separated, each `[W/]"<etagc>*"` (commas may sit inside the
/// quotes). `None` when the list is malformed.
fn parse_tag_list(value: &str) -> Option<Vec<String>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        let inner = quoted.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &inner[..end];
        if !opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push(format!("{}\"{opaque}\"", if weak { "W/" } else { "" }));
        rest = &inner[end + 1..];
        if !(rest.is_empty() || rest.starts_with([' ', '\t', ','])) {
            return None;
        }
    }
}

/// Whether a GET/HEAD may be answered 304 (RFC 9110 §13.2.2): `If-None-Match` decides
/// when present (weak comparison); only without it does `If-Modified-Since` count, for
/// representations with a modification time.
pub fn not_modified(req: &HttpRequest, etag: &str, last_modified: Option<SystemTime>) -> bool {
    let headers = req.headers();
    if let Some(condition) = TagCondition::from_headers(headers, header::IF_NONE_MATCH) {
        return condition.matches_weakly(etag);
    }
    let (Some(last_modified), Some(since)) = (last_modified, if_modified_since(headers)) else {
        return false;
    };
    last_modified <= since
}

/// A valid `If-Modified-Since` (one line, an HTTP-date); anything else is ignored.
fn if_modified_since(headers: &HeaderMap) -> Option<SystemTime> {
    let mut values = headers.get_all(header::IF_MODIFIED_SINCE);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    HttpDate::from_str(value.to_str().ok()?)
        .ok()
        .map(SystemTime::from)
}

/// A timestamp at the one-second resolution of HTTP dates (rounded down), so that
/// `Last-Modified` and the `If-Modified-Since` it is compared with agree.
pub fn http_time(at: DateTime<Utc>) -> SystemTime {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Who may store a catalogue response: shared caches for anonymous requests (for
/// `max_age`, or revalidating each time when it is zero); only the client itself when the
/// request carried credentials (`Authorization` or `X-Cart-Token`), whose reads come from
/// the primary and are the user's own view.
pub fn catalogue_cache_control(req: &HttpRequest, max_age: Duration) -> String {
    if carries_credentials(req.headers()) {
        "private, no-cache".into()
    } else if max_age.is_zero() {
        "public, no-cache".into()
    } else {
        format!("public, max-age={}", max_age.as_secs())
    }
}

/// A catalogue read's answer: 304 with the validators and no body when the client's copy
/// is current, otherwise 200 with the JSON body and the validators.
pub fn catalogue_response(
    req: &HttpRequest,
    body: Vec<u8>,
    last_modified: Option<SystemTime>,
    max_age: Duration,
) -> HttpResponse {
    let etag = etag_of(&body);
    let fresh = not_modified(req, &etag, last_modified);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, catalogue_cache_control(req, max_age)));
    if let Some(at) = last_modified {
        response.insert_header((header::LAST_MODIFIED, HttpDate::from(at)));
    }
    if fresh {
        response.finish()
    } else {
        response.content_type("application/json").body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;

    fn condition(values: &[&str]) -> Option<TagCondition> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        TagCondition::from_headers(&headers, header::IF_MATCH)
    }

    #[test]
    fn tag_lists_parse_with_weak_tags_commas_and_several_lines() {
        assert_eq!(condition(&[]), None);
        assert_eq!(condition(&["*"]), Some(TagCondition::Any));
        assert_eq!(
            condition(&[r#""a", W/"b""#, r#""c,d""#]),
            Some(TagCondition::Tags(vec![
                r#""a""#.into(),
                r#"W/"b""#.into(),
                r#""c,d""#.into()
            ]))
        );
        for malformed in ["a", r#""a"b"#, r#""a"#, r#"w/"a""#, r#""a b""#] {
            assert_eq!(
                condition(&[malformed]),
                Some(TagCondition::Tags(Vec::new())),
                "{malformed}"
            );
        }
    }

    #[test]
    fn weak_comparison_ignores_weakness_and_strong_comparison_refuses_it() {
        let tags = condition(&[r#"W/"x", "y""#]).unwrap();
        assert!(tags.matches_weakly(r#""x""#));
        assert!(tags.matches_weakly(r#""y""#));
        assert!(!tags.matches_weakly(r#""z""#));
        assert!(!tags.matches_strongly(r#""x""#));
        assert!(tags.matches_strongly(r#""y""#));
        assert!(TagCondition::Any.matches_strongly(r#""anything""#));
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let modified = http_time(Utc::now());
        let later = HttpDate::from(modified + Duration::from_secs(60)).to_string();
        let earlier = HttpDate::from(modified - Duration::from_secs(60)).to_string();
        let tag = etag_of(b"{}");
        let req = TestRequest::default()
            .insert_header((header::IF_MODIFIED_SINCE, later.as_str()))
            .to_http_request();
        assert!(not_modified(&req, &tag, Some(modified)));
        let req = TestRequest::default()
            .insert_header((header::IF_MODIFIED_SINCE, earlier.as_str()))
            .to_http_request();
        assert!(!not_modified(&req, &tag, Some(modified)));
        // A tag that does not match wins over a date that would.
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, r#""other""#))
            .insert_header((header::IF_MODIFIED_SINCE, later.as_str()))
            .to_http_request();
        assert!(!not_modified(&req, &tag, Some(modified)));
        // Not a date: ignored.
        let req = TestRequest::default()
            .insert_header((header::IF_MODIFIED_SINCE, "yesterday"))
            .to_http_request();
        assert!(!not_modified(&req, &tag, Some(modified)));
    }

    #[test]
    fn tags_follow_the_bytes() {
        assert_eq!(etag_of(b"{\"a\":1}"), etag_of(b"{\"a\":1}"));
        assert_ne!(etag_of(b"{\"a\":1}"), etag_of(b"{\"a\":2}"));
        assert_eq!(etag_of(b"").len(), 24);
    }
}
