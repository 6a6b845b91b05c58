//! # domain — Orderly's types that parse
//!
//! Every value a request carries into a service passes through one of these types
//! first (docs/standards.md §2, "parse, don't validate"). Once a handler holds an [`Email`], a
//! [`Sku`] or a [`Quantity`], nothing further down re-checks it, because no other way
//! of making one exists:
//!
//! ```
//! use domain::{Email, Money, Currency, Quantity, OrderStatus, ValidationError};
//!
//! let email: Email = "  Ada@Example.COM ".parse()?;
//! assert_eq!(email.as_str(), "Ada@example.com");
//!
//! let price = Money::new(1_999, Currency::parse("EUR")?)?;
//! let line = price.checked_mul(Quantity::new(3)?)?;
//! assert_eq!(line.to_string(), "59.97 EUR");
//!
//! let err = "not-an-email".parse::<Email>().unwrap_err();
//! assert_eq!(err.code(), "missing_at"); // what a 400's `errors[].code` carries
//!
//! assert!(OrderStatus::Pending.restocks_on(OrderStatus::Cancelled));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Errors
//! Each parser returns its own error enum whose variants are the rules it enforces.
//! All of them implement [`ValidationError`]: [`ValidationError::code`] is a stable
//! machine code for the `code` of a problem document's `errors[]` entry, and `Display`
//! is the human message. Messages never echo the rejected input, so a hostile or
//! secret value cannot travel into a response or a log line through them. The handler
//! knows which field it parsed and supplies the JSON pointer.
//!
//! ## Serde
//! Every type deserialises *through its parser* (`#[serde(try_from = …)]`), so a
//! request DTO whose field is an `Email` cannot hold a malformed one. Types that
//! serialise do so in their canonical form, which parses back to the same value.
//! The password types never serialise.
//!
//! ## What is not here
//! No I/O, no clock reads except [`UserId::generate`] and friends (UUIDv7 needs the
//! time and randomness), no `http` types: services map these errors to HTTP in the
//! handlers. It builds natively and for `wasm32-wasip2`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod allow_list;
pub mod email;
pub mod error;
pub mod id;
pub mod money;
pub mod order_status;
pub mod pagination;
pub mod password;
pub mod quantity;
pub mod role;
pub mod sku;
pub mod status;
pub mod text;

pub use allow_list::{
    AllowListed, FieldSelection, FieldSelectionError, SortDirection, SortError, SortKey, SortSpec,
};
pub use email::{Email, EmailError};
pub use error::ValidationError;
pub use id::{IdError, OrderId, ProductId, UserId};
pub use money::{Currency, CurrencyError, Money, MoneyError};
pub use order_status::{OrderStatus, OrderStatusError, TransitionError};
pub use pagination::{Limit, LimitError};
pub use password::{Password, PasswordError, PasswordInput};
pub use quantity::{Quantity, QuantityError, Stock, StockError};
pub use role::{Role, RoleError, Roles};
pub use sku::{Sku, SkuError};
pub use status::{AccountStatus, ProductStatus, StatusError};
pub use text::{Description, DisplayName, ProductName, TextError};
