//! Collecting field errors, so a client learns of every invalid field at once.

use super::error::{ApiError, FieldError};

#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Records the error, if any, and passes the value on.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    /// Records a complaint about a field that has no value to pass on.
    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// The 422 listing every field recorded so far.
    pub fn into_error(self) -> ApiError {
        ApiError::Validation(self.errors)
    }
}

/// Parses several fields at once: `Ok` with every value, or a 422 listing each invalid
/// field (not only the first).
///
/// ```ignore
/// let (username, email) = all_valid!(
///     username: "username" => Username::parse(&body.username),
///     email: "email" => Email::parse(&body.email),
/// )?;
/// ```
macro_rules! all_valid {
    ($($name:ident: $field:literal => $result:expr),+ $(,)?) => {{
        let mut validator = $crate::http::validate::Validator::default();
        $(let $name = validator.check($field, $result);)+
        match ($($name,)+) {
            ($(Some($name),)+) => Ok(($($name,)+)),
            // A field without a value is one the validator recorded an error for.
            _ => Err(validator.into_error()),
        }
    }};
}
pub(crate) use all_valid;
