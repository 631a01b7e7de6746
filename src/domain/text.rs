//! Free text fields: names a person types.

/// `raw` trimmed, when it has no NUL, at most `max` characters (counted before trimming,
/// as JSON Schema's maxLength counts them) and something other than whitespace.
pub(super) fn trimmed_within(raw: &str, max: usize) -> Result<&str, String> {
    if raw.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    if raw.chars().count() > max {
        return Err(format!("must be at most {max} characters long"));
    }
    match raw.trim() {
        // Not "must not be blank": fuzzers read that (Spring's wording) as "required",
        // which a partial update's field is not.
        "" => Err("must have a character other than whitespace".into()),
        text => Ok(text),
    }
}
