//! The one trait every parse error in this crate implements.

/// A rule a value broke, in the shape a 400's per-field `errors[]` entry needs.
///
/// The handler that parsed the field supplies the pointer (`/email`, `query/limit`);
/// the error supplies the rest:
///
/// ```
/// use domain::{Quantity, ValidationError};
///
/// let err = Quantity::new(0).unwrap_err();
/// assert_eq!(err.code(), "too_small");
/// assert_eq!(err.to_string(), "quantity must be at least 1");
/// ```
pub trait ValidationError: std::error::Error {
    /// A stable machine code clients can switch on (`too_long`, `invalid_format`,
    /// `common_password`). Codes are part of the API: change them like a field name.
    fn code(&self) -> &'static str;
}
