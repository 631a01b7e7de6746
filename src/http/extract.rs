//! Extractor settings, so malformed input never reaches a handler and every rejection is
//! problem+json: malformed JSON is 400, a bad query parameter 400 naming it, JSON of the
//! wrong shape (unknown, missing, duplicate field, wrong type) 422 naming the field, an
//! oversized body 413, a path id that cannot exist 404. Also the serde helpers request bodies share.

use actix_web::error::{JsonPayloadError, PathError};
use actix_web::{web, HttpRequest};
use serde::de::{self, Deserialize, Deserializer, Unexpected};
use serde_json::value::RawValue;

use super::error::{ApiError, FieldError};
use crate::domain::Price;

/// Largest JSON body accepted. Every request of this API is far smaller.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

pub fn path_config() -> web::PathConfig {
    // Ids are integers; a segment that is not one names nothing that exists.
    web::PathConfig::default()
        .error_handler(|_err: PathError, _req: &HttpRequest| ApiError::NotFound.into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => {
            ApiError::BadRequest("expected a JSON body with Content-Type: application/json".into())
        }
        JsonPayloadError::Deserialize(err) => {
            ApiError::BadRequest(format!("malformed JSON: {err}"))
        }
        // A broken Content-Encoding stream, a connection cut mid-body, ...: the details
        // (I/O error debug text) are ours, not the client's.
        other => {
            tracing::debug!(error = %other, "unreadable request body");
            ApiError::BadRequest(
                "the request body could not be read (is its Content-Encoding right?)".into(),
            )
        }
    }
}

/// The field a shape error is about: its path in the body (`username`), or, for errors
/// about the object itself (`unknown field `x``, `missing field `x``, `duplicate field
/// `x``), the field its message names; `body` when the body as a whole is wrong.
fn shape_error(err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let message = err.inner().to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    field_error(&err.path().to_string(), message, "body")
}

/// `shape_error` for any format: `path` as serde_path_to_error prints it, `whole` the
/// field named when the error is about the input as a whole.
fn field_error(path: &str, message: &str, whole: &'static str) -> FieldError {
    let field = if path != "." && !path.is_empty() {
        path
    } else {
        ["unknown field", "missing field", "duplicate field"]
            .iter()
            .any(|prefix| message.starts_with(prefix))
            .then(|| message.split('`').nth(1))
            .flatten()
            .unwrap_or(whole)
    };
    FieldError::new(field, message)
}

/// A query string parsed into `T` (as `web::Query` does, with serde_urlencoded), whose
/// errors name the parameter: a value that does not parse as its type, an unknown,
/// missing or repeated parameter is a 400 `bad_request` with `errors: [{field, message}]`.
/// `web::Query` says only "invalid digit found in string", not where.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T> ApiQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        ApiError::BadQuery(vec![field_error(
            &err.path().to_string(),
            &err.inner().to_string(),
            "query",
        )])
    })
}

/// A JSON request body, parsed in two steps so the status says what is wrong: text that
/// is not JSON at all is a 400 (`bad_request`), JSON of the wrong shape (unknown, missing
/// or duplicate field, wrong type) a 422 naming the field. `web::Json` alone reports both
/// as one, depending on which problem serde happens to meet first.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ApiJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A JSON body that may be left out: a request with no body at all (no Content-Length,
/// or 0, and no Transfer-Encoding) is `None`; any body is read as [`ApiJson`] reads one,
/// with the same errors.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
        let headers = req.headers();
        let no_body = match headers.get(CONTENT_LENGTH) {
            Some(length) => length.as_bytes() == b"0",
            None => !headers.contains_key(TRANSFER_ENCODING),
        };
        if no_body {
            return Box::pin(std::future::ready(Ok(Self(None))));
        }
        let body = ApiJson::<T>::from_request(req, payload);
        Box::pin(async move { body.await.map(|ApiJson(body)| Self(Some(body))) })
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        // Limit, content type, Content-Encoding and syntax are checked here, as `web::Json`
        // checks them (a JSON media type required). `RawValue` only validates and keeps the
        // text, so the shape is then read from the text itself: numbers keep their exact
        // spelling (a price is never read through a float), duplicate keys are seen, and
        // serde_path_to_error names the field a `serde_json::Value` round trip would lose.
        let raw =
            web::JsonBody::<Box<RawValue>>::new(req, payload, None, true).limit(JSON_BODY_LIMIT);
        Box::pin(async move {
            let raw = raw.await.map_err(json_error)?;
            if let Some(error) = not_an_object(raw.get()) {
                return Err(ApiError::Validation(vec![error]));
            }
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            serde_path_to_error::deserialize(&mut deserializer)
                .map(ApiJson)
                .map_err(|err| ApiError::Validation(vec![shape_error(&err)]))
        })
    }
}

/// Every request body of this API is an object. serde would read an array as a struct's
/// fields in order (`["alice", "secret"]` as a login), so any other JSON value is refused
/// before serde sees it: a 422 naming `body`. A nested struct (an inline address) is read
/// through [`JsonObject`], which holds its field to the same rule.
fn not_an_object(json: &str) -> Option<FieldError> {
    let kind = match json.trim_start().bytes().next() {
        Some(b'{') => return None,
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Some(FieldError::new(
        "body",
        format!("must be a JSON object, not {kind}"),
    ))
}

/// A nested object field: only a JSON object is read as `T` (serde's derived structs would
/// also take an array as the fields in order). Errors inside keep their path
/// (`shipping_address.city`): the map is handed to `T` as it is read, not re-parsed.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(JsonObject)
    }
}

/// An integer field: a JSON integer, or a number with no fractional part (`3.0`), which
/// JSON Schema (and so the OpenAPI document) counts as the integer 3 and some encoders
/// write for whole floats. Anything else is a 422 naming the field.
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    WholeNumber::deserialize(deserializer).map(|n| n.0)
}

/// `whole_number` for an optional field: null or absent is `None`.
pub fn optional_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Option::<WholeNumber>::deserialize(deserializer).map(|n| n.map(|n| n.0))
}

/// `whole_number` for a field that may be absent (with `#[serde(default)]`) but, when
/// present, must not be null.
pub fn present_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    WholeNumber::deserialize(deserializer).map(|n| Some(n.0))
}

/// A field that may be absent (with `#[serde(default)]`) but not null: in a partial
/// update, null would otherwise read as "leave unchanged", which a client that meant
/// "clear" would never learn.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A field of a partial update that may be absent (`None`: unchanged, with
/// `#[serde(default)]`), null (`Some(None)`: cleared) or a value.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A price as the client sent it: the exact JSON text of the value (a string with its
/// quotes, or a number as written), so a number is never read through a float, where
/// `1.0000000000000001` would silently become `1`.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct PriceInput(Box<RawValue>);

impl PriceInput {
    /// The price it spells: a JSON string (`"19.99"`, the documented form) or a JSON
    /// number, both read from their decimal text with the same rules.
    pub fn parse(&self) -> Result<Price, String> {
        Price::parse(&self.decimal_text(Price::SHAPE_MESSAGE)?)
    }

    /// The decimal text of a string or a number (`shape`: the complaint about anything
    /// else), for other decimals sent the same way (a tax rate).
    pub fn decimal_text(&self, shape: &str) -> Result<String, String> {
        let raw = self.0.get();
        if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).map_err(|_| shape.to_owned())
        } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(raw.to_owned())
        } else {
            Err(shape.into())
        }
    }
}

struct WholeNumber(i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_i64(WholeNumberVisitor)
            .map(WholeNumber)
    }
}

struct WholeNumberVisitor;

impl de::Visitor<'_> for WholeNumberVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i64, E> {
        Ok(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i64, E> {
        i64::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i64, E> {
        // 2^63 is exact as an f64; every whole float below it converts without loss.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
            Ok(value as i64)
        } else {
            Err(E::invalid_value(Unexpected::Float(value), &self))
        }
    }
}

/// Longest Idempotency-Key accepted (the column's width).
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`, if it sent one: 1-255 visible ASCII characters (a
/// malformed one is a 400).
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| {
            (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::format_money;

    fn price(json: &str) -> Result<String, String> {
        let input: PriceInput = serde_json::from_str(json).expect("valid JSON");
        input.parse().map(|p| format_money(p.as_decimal()))
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        id: i64,
        limit: Option<i64>,
        in_stock: Option<bool>,
    }

    /// The (field, message) of the 400 a query string gets, or `None` when it parses.
    fn query_error(query: &str) -> Option<(String, String)> {
        match parse_query::<Strict>(query) {
            Ok(_) => None,
            Err(ApiError::BadQuery(fields)) => {
                assert_eq!(fields.len(), 1, "{fields:?}");
                Some((fields[0].field.clone(), fields[0].message.clone()))
            }
            Err(other) => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(query_error("id=1&limit=5&in_stock=true"), None);
        for (query, field, message) in [
            ("id=1&limit=ten", "limit", "invalid digit"),
            ("id=1&limit=99999999999999999999", "limit", "too large"),
            ("id=1&in_stock=maybe", "in_stock", "`true` or `false`"),
            ("id=x", "id", "invalid digit"),
            ("id=1&limit=1&limit=2", "limit", "duplicate field"),
            ("id=1&colour=red", "colour", "unknown field"),
            ("limit=1", "id", "missing field"),
            ("", "id", "missing field"),
        ] {
            let (named, said) = query_error(query).unwrap_or_else(|| panic!("{query} parsed"));
            assert_eq!(named, field, "{query}: {said}");
            assert!(said.contains(message), "{query}: {said}");
        }
    }

    #[test]
    fn prices_are_exact_two_place_decimals() {
        assert_eq!(price(r#""19.99""#).unwrap(), "19.99");
        assert_eq!(price(r#""5""#).unwrap(), "5.00");
        assert_eq!(price("0.1").unwrap(), "0.10");
        assert_eq!(price("17").unwrap(), "17.00");
        assert_eq!(price(r#""9999999999.99""#).unwrap(), "9999999999.99");
        assert_eq!(price("9999999999.99").unwrap(), "9999999999.99");
        for bad in [
            r#""-1""#,
            "-1",
            r#""1.999""#,
            // Through an f64 these two would be 1 and 20: read exactly, they have too
            // many places.
            "1.0000000000000001",
            "19.999999999999999999",
            // Exponents: refused as a string and as a number alike.
            r#""1e3""#,
            "1e3",
            "1E2",
            r#""NaN""#,
            r#""abc""#,
            r#""""#,
            r#"" 19.99""#,
            r#""10000000000.00""#,
            "10000000000",
            r#""00000000001""#,
            "true",
            "null",
            "[1]",
            "1e300",
        ] {
            assert!(price(bad).is_err(), "{bad}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Option<JsonObject<Inner>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        city: String,
    }

    fn outer(json: &str) -> Result<(), (String, String)> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize::<_, Outer>(&mut deserializer)
            .map(drop)
            .map_err(|err| {
                let field = shape_error(&err);
                (field.field, field.message)
            })
    }

    #[test]
    fn nested_objects_must_be_objects_and_keep_their_paths() {
        assert_eq!(outer(r#"{"inner": {"city": "Köln"}}"#), Ok(()));
        assert_eq!(outer(r#"{"inner": null}"#), Ok(()));
        // Without JsonObject, serde reads ["Köln"] as the struct's fields in order.
        let (field, message) = outer(r#"{"inner": ["Köln"]}"#).unwrap_err();
        assert_eq!(field, "inner");
        assert!(message.contains("a JSON object"), "{message}");
        let (field, _) = outer(r#"{"inner": {"city": 5}}"#).unwrap_err();
        assert_eq!(field, "inner.city");
        let (field, message) = outer(r#"{"inner": {"town": "x"}}"#).unwrap_err();
        assert_eq!(
            (field.as_str(), message.contains("unknown field")),
            ("inner.town", true)
        );
    }
}
