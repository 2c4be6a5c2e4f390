//! Checks on fields that come from outside: names of products, users and hosts, client
//! ids. Anything a client sends is bounded and printable before it reaches storage.

use thiserror::Error;

/// The longest product, user, host or client id accepted.
pub const MAX_NAME_LEN: usize = 128;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("`{0}` must not be empty")]
    Empty(&'static str),
    #[error("`{0}` is longer than {1} characters")]
    TooLong(&'static str, usize),
    #[error("`{0}` contains a control character")]
    ControlCharacter(&'static str),
    #[error("`{0}` has surrounding whitespace")]
    Whitespace(&'static str),
    #[error("`{0}` must not contain a comma")]
    Comma(&'static str),
}

/// A user-visible name: 1..=128 characters, no control characters, no surrounding spaces.
pub fn name(field: &'static str, value: &str) -> Result<(), FieldError> {
    bounded(field, value, MAX_NAME_LEN)
}

/// Like [`name`] with a chosen length bound.
pub fn bounded(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::Empty(field));
    }
    if value.chars().count() > max {
        return Err(FieldError::TooLong(field, max));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::ControlCharacter(field));
    }
    if value.trim() != value {
        return Err(FieldError::Whitespace(field));
    }
    Ok(())
}

/// A product id: like a name, and also free of commas (they separate products on the
/// command line).
pub fn product(value: &str) -> Result<(), FieldError> {
    name("product", value)?;
    if value.contains(',') {
        return Err(FieldError::Comma("product"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(name("user", "anna").is_ok());
        assert!(name("user", "Łukasz Żółć").is_ok());
        assert_eq!(name("user", ""), Err(FieldError::Empty("user")));
        assert_eq!(
            name("user", &"x".repeat(129)),
            Err(FieldError::TooLong("user", 128))
        );
        assert_eq!(
            name("host", "a\nb"),
            Err(FieldError::ControlCharacter("host"))
        );
        assert_eq!(name("host", " pc1"), Err(FieldError::Whitespace("host")));
        assert_eq!(product("acad,revit"), Err(FieldError::Comma("product")));
    }
}
