//! What a user is: a customer, an administrator, or both.
//!
//! Roles describe the person; OAuth scopes (in the `tokens` crate) describe what a
//! token may do. The names match `users.roles SET('customer', 'admin')`, and [`Roles`]
//! writes and reads the comma-separated form MariaDB uses for a `SET` column.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;

/// One role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Role {
    /// Shops: reads the catalogue, places and reads their own orders.
    Customer,
    /// Administers users, products and everyone's orders.
    Admin,
}

/// Why a value is not a [`Role`] or [`Roles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RoleError {
    /// Not one of the role names.
    #[error("role must be one of: customer, admin")]
    Unknown,
    /// The same role named twice in a list.
    #[error("each role may be listed only once")]
    Duplicate,
}

impl ValidationError for RoleError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unknown => "unknown_role",
            Self::Duplicate => "duplicate_role",
        }
    }
}

impl Role {
    /// Every role, in the order [`Roles`] lists them.
    pub const ALL: [Role; 2] = [Role::Customer, Role::Admin];

    /// Parses an exact, lower-case role name.
    pub fn parse(input: &str) -> Result<Self, RoleError> {
        match input {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            _ => Err(RoleError::Unknown),
        }
    }

    /// The role's name on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Customer => 0b01,
            Self::Admin => 0b10,
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Role {
    type Error = RoleError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Role> for &'static str {
    fn from(role: Role) -> Self {
        role.as_str()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles; may be empty (a user with no role can do nothing).
///
/// On the wire it is a JSON array (`["customer","admin"]`), always written in
/// [`Role::ALL`] order; reading refuses unknown names and duplicates. `Display` and
/// `FromStr` use the comma-separated `SET` form (`customer,admin`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<&'static str>")]
pub struct Roles(u8);

impl Roles {
    /// No roles.
    pub const EMPTY: Roles = Roles(0);

    /// Just one role.
    pub const fn only(role: Role) -> Self {
        Self(role.bit())
    }

    /// Builds a set from roles; naming one twice is an error, as on the wire.
    pub fn from_roles<I: IntoIterator<Item = Role>>(roles: I) -> Result<Self, RoleError> {
        roles.into_iter().try_fold(Self::EMPTY, |set, role| {
            if set.contains(role) {
                Err(RoleError::Duplicate)
            } else {
                Ok(set.with(role))
            }
        })
    }

    /// Parses the `SET` column form: names joined by commas, no spaces; `""` is empty.
    pub fn parse(input: &str) -> Result<Self, RoleError> {
        if input.is_empty() {
            return Ok(Self::EMPTY);
        }
        input
            .split(',')
            .map(Role::parse)
            .collect::<Result<Vec<_>, _>>()
            .and_then(Self::from_roles)
    }

    /// This set plus `role`.
    #[must_use]
    pub const fn with(self, role: Role) -> Self {
        Self(self.0 | role.bit())
    }

    /// This set without `role`.
    #[must_use]
    pub const fn without(self, role: Role) -> Self {
        Self(self.0 & !role.bit())
    }

    /// Whether `role` is in the set.
    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the set holds [`Role::Admin`].
    pub const fn is_admin(self) -> bool {
        self.contains(Role::Admin)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, role) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(role.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Roles {
    type Err = RoleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<Vec<String>> for Roles {
    type Error = RoleError;

    fn try_from(names: Vec<String>) -> Result<Self, Self::Error> {
        names
            .iter()
            .map(|name| Role::parse(name))
            .collect::<Result<Vec<_>, _>>()
            .and_then(Self::from_roles)
    }
}

impl From<Roles> for Vec<&'static str> {
    fn from(roles: Roles) -> Self {
        roles.iter().map(Role::as_str).collect()
    }
}

impl FromIterator<Role> for Roles {
    /// Collects roles, ignoring repeats (use [`Roles::from_roles`] to refuse them).
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_set_column_form() -> Result<(), RoleError> {
        assert_eq!(Roles::parse("")?, Roles::EMPTY);
        assert_eq!(Roles::parse("customer")?, Roles::only(Role::Customer));
        let both = Roles::parse("admin,customer")?;
        assert!(both.is_admin() && both.contains(Role::Customer));
        assert_eq!(both.to_string(), "customer,admin");
        assert_eq!(format!("{both:?}"), "{Customer, Admin}");
        Ok(())
    }

    #[test]
    fn rejects_bad_roles_naming_the_rule() {
        let cases: &[(&str, RoleError, &str)] = &[
            ("Admin", RoleError::Unknown, "roles are lower-case"),
            ("root", RoleError::Unknown, "not a role"),
            ("customer,", RoleError::Unknown, "trailing comma"),
            ("customer, admin", RoleError::Unknown, "space after comma"),
            ("admin,admin", RoleError::Duplicate, "listed twice"),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(Roles::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn json_is_an_array_read_strictly() -> Result<(), serde_json::Error> {
        let roles: Roles = serde_json::from_str(r#"["admin","customer"]"#)?;
        assert_eq!(serde_json::to_string(&roles)?, r#"["customer","admin"]"#);
        assert_eq!(serde_json::to_string(&Roles::EMPTY)?, "[]");
        assert!(serde_json::from_str::<Roles>(r#"["admin","admin"]"#).is_err());
        assert!(serde_json::from_str::<Roles>(r#"["superuser"]"#).is_err());
        assert!(serde_json::from_str::<Role>(r#""ADMIN""#).is_err());
        Ok(())
    }

    #[test]
    fn with_and_without_edit_the_set() {
        let roles = Roles::only(Role::Customer)
            .with(Role::Admin)
            .without(Role::Customer);
        assert_eq!(roles, Roles::only(Role::Admin));
        assert!(Roles::EMPTY.is_empty());
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Roles::parse(&input);
            let _ = Role::parse(&input);
        }

        #[test]
        fn display_round_trips(bits in 0u8..4) {
            let roles: Roles = Role::ALL.into_iter().filter(|r| bits & r.bit() != 0).collect();
            prop_assert_eq!(Roles::parse(&roles.to_string()), Ok(roles));
        }
    }
}
