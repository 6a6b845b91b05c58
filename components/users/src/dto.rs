//! What clients send: the registration and merge-patch bodies (checked by the kit's strict
//! JSON parser against a schema, then parsed into domain types, every problem reported with
//! its pointer) and the admin list's query.

use domain::{
    AccountStatus, DisplayName, Email, Limit, Password, PasswordInput, Roles, ValidationError,
};
use edge_http::query::{QueryParams, QueryRules, query_pointer};
use edge_http::{ApiError, FieldError, QueryString};
use kit::PageCursors;
use kit::json::{Kind, Member, Schema, parse_body_collecting, parse_patch_collecting};
use serde_json::Value;

use crate::cursor;
use crate::service::{Direction, Patch, Position, SortOrder};

/// The registration body: `email`, `password`, optional `display_name`. Nothing else (roles
/// and status cannot be chosen by the caller, OWASP API3).
pub static REGISTER_SCHEMA: Schema = Schema::new(&[
    Member::required("email", Kind::String),
    Member::required("password", Kind::String),
    Member::nullable("display_name", Kind::String),
]);

/// The largest `roles` array accepted (there are fewer roles than this).
pub const MAX_ROLES: usize = 8;

static ROLE_NAME: Kind = Kind::String;

/// A merge patch (RFC 7396) of a user: `display_name` (`null` clears it), `roles` and
/// `status` (admin only, checked by the service).
pub static PATCH_SCHEMA: Schema = Schema::new(&[
    Member::nullable("display_name", Kind::String),
    Member::optional(
        "roles",
        Kind::Array {
            items: &ROLE_NAME,
            max_items: MAX_ROLES,
        },
    ),
    Member::optional("status", Kind::String),
]);

/// A valid registration.
#[derive(Debug)]
pub struct Registration {
    /// The account's email.
    pub email: Email,
    /// The password, checked against the NIST rules and the common-password list.
    pub password: Password,
    /// An optional display name.
    pub display_name: Option<DisplayName>,
}

fn rule_error(pointer: &str, error: &dyn ValidationError) -> FieldError {
    FieldError::new(pointer, error.code(), error.to_string())
}

fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

/// Parses a registration body.
///
/// # Errors
/// 400 with every invalid field.
pub fn parse_registration(bytes: &[u8]) -> Result<Registration, ApiError> {
    let body = parse_body_collecting(bytes, &REGISTER_SCHEMA)?;
    let sound = |name: &str| {
        if body.is_sound(name) {
            text(&body.value, name)
        } else {
            None
        }
    };
    let mut errors = Vec::new();
    let email = sound("email").and_then(|raw| {
        Email::parse(raw)
            .map_err(|e| errors.push(rule_error("/email", &e)))
            .ok()
    });
    let password = match (
        sound("password").map(|raw| PasswordInput::parse(raw.to_owned())),
        &email,
    ) {
        (Some(Err(e)), _) => {
            errors.push(rule_error("/password", &e));
            None
        }
        (Some(Ok(input)), Some(email)) => Password::new(input, email)
            .map_err(|e| errors.push(rule_error("/password", &e)))
            .ok(),
        // The email is invalid and already reported; the password rules need it.
        _ => None,
    };
    let display_name = sound("display_name").and_then(|raw| {
        DisplayName::parse(raw)
            .map_err(|e| errors.push(rule_error("/display_name", &e)))
            .ok()
    });
    body.finish(errors)?;
    match (email, password) {
        (Some(email), Some(password)) => Ok(Registration {
            email,
            password,
            display_name,
        }),
        // Unreachable in practice: a missing part was reported above.
        _ => Err(ApiError::bad_request("The registration is incomplete.")),
    }
}

/// Parses a merge patch of `display_name`, `roles` and `status`.
///
/// # Errors
/// 400 with every invalid field.
pub fn parse_patch(bytes: &[u8]) -> Result<Patch, ApiError> {
    let body = parse_patch_collecting(bytes, &PATCH_SCHEMA)?;
    let mut errors = Vec::new();
    let mut patch = Patch::default();
    let sound = |name: &str| body.value.get(name).filter(|_| body.is_sound(name));
    match sound("display_name") {
        Some(Value::Null) => patch.display_name = Some(None),
        Some(Value::String(raw)) => match DisplayName::parse(raw) {
            Ok(name) => patch.display_name = Some(Some(name)),
            Err(e) => errors.push(rule_error("/display_name", &e)),
        },
        _ => {}
    }
    if let Some(Value::Array(items)) = sound("roles") {
        let names: Vec<String> = items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        match Roles::try_from(names) {
            Ok(roles) if !roles.is_empty() => patch.roles = Some(roles),
            Ok(_) => errors.push(FieldError::new(
                "/roles",
                "empty",
                "A user needs at least one role.",
            )),
            Err(e) => errors.push(rule_error("/roles", &e)),
        }
    }
    if let Some(Value::String(raw)) = sound("status") {
        match AccountStatus::parse(raw) {
            Ok(status) => patch.status = Some(status),
            Err(e) => errors.push(rule_error("/status", &e)),
        }
    }
    body.finish(errors)?;
    Ok(patch)
}

const LIST_RULES: QueryRules = QueryRules::new(&["limit", "cursor", "status", "sort"]);

/// The admin list's query: `limit`, `status`, `sort`, `cursor`.
#[derive(Debug)]
pub struct ListQuery {
    /// Page size.
    pub limit: Limit,
    /// Status filter.
    pub status: Option<AccountStatus>,
    /// Sort order.
    pub sort: SortOrder,
    /// Where the page starts (from the cursor).
    pub from: Option<(Direction, Position)>,
}

impl ListQuery {
    /// Parses the query; the cursor must have been made for the same sort and filter.
    ///
    /// # Errors
    /// 400 with every invalid parameter at `/query/<name>`.
    pub fn parse(uri: &http::Uri, cursors: &PageCursors) -> Result<Self, ApiError> {
        let params = QueryParams::from_uri(uri, &LIST_RULES)?;
        let get = |name: &str| params.get(name);
        let mut errors = Vec::new();
        let limit = Limit::from_query(get("limit"))
            .map_err(|e| errors.push(rule_error(&query_pointer("limit"), &e)))
            .unwrap_or_default();
        let status = get("status").and_then(|raw| {
            AccountStatus::parse(raw)
                .map_err(|e| errors.push(rule_error(&query_pointer("status"), &e)))
                .ok()
        });
        let sort = match get("sort") {
            None => SortOrder::CreatedDesc,
            Some(raw) => SortOrder::parse(raw).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    query_pointer("sort"),
                    "unsupported_sort",
                    "Sort by created_at or -created_at.",
                ));
                SortOrder::CreatedDesc
            }),
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let from = match get("cursor") {
            None => None,
            Some(raw) => Some(cursor::decode(cursors, raw, sort, status)?),
        };
        Ok(Self {
            limit,
            status,
            sort,
            from,
        })
    }

    /// The canonical query string of a link to `path`, with `cursor` if given.
    pub fn href(&self, path: &str, cursor: Option<&str>) -> String {
        QueryString::new()
            .with("limit", self.limit.get().to_string())
            .with("sort", self.sort.as_str())
            .with_optional("status", self.status.map(AccountStatus::as_str))
            .with_optional("cursor", cursor)
            .href(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(error: ApiError) -> Vec<(String, String)> {
        let ApiError::BadRequest { errors, .. } = error else {
            panic!("{error:?}")
        };
        let mut found: Vec<_> = errors.into_iter().map(|e| (e.pointer, e.code)).collect();
        found.sort();
        found
    }

    #[test]
    fn patch_bodies_are_checked_field_by_field() {
        let err =
            parse_patch(br#"{"display_name": 5, "roles": [], "status": "gone", "email": "x@y.z"}"#)
                .unwrap_err();
        let found: Vec<String> = pointers(err).into_iter().map(|(p, _)| p).collect();
        assert_eq!(found, ["/display_name", "/email", "/roles", "/status"]);
        let patch = parse_patch(br#"{"display_name": null}"#).unwrap();
        assert_eq!(patch.display_name, Some(None));
    }

    #[test]
    fn a_body_naming_a_member_twice_is_refused_not_resolved() {
        // serde_json alone would keep the last one: the admin-looking duplicate must not win.
        for body in [
            &br#"{"email":"a@example.com","password":"violet tram sings loud","email":"b@example.com"}"#[..],
            br#"{"display_name":"a","display_name":"b","email":"a@example.com","password":"violet tram sings loud"}"#,
        ] {
            assert_eq!(
                pointers(parse_registration(body).unwrap_err()),
                [("".to_owned(), "duplicate_member".to_owned())]
            );
        }
        assert_eq!(
            pointers(parse_patch(br#"{"status":"active","status":"disabled"}"#).unwrap_err()),
            [("".to_owned(), "duplicate_member".to_owned())]
        );
    }

    #[test]
    fn registration_refuses_unknown_members_and_wrong_types_at_once() {
        let err = parse_registration(br#"{"email": 1, "roles": ["admin"]}"#).unwrap_err();
        assert_eq!(
            pointers(err),
            [
                ("/email".to_owned(), "invalid_type".to_owned()),
                ("/password".to_owned(), "required".to_owned()),
                ("/roles".to_owned(), "unknown_field".to_owned()),
            ]
        );
        // Shape problems and domain problems come back together.
        let err =
            parse_registration(br#"{"email": "not-an-email", "display_name": 7}"#).unwrap_err();
        let found: Vec<String> = pointers(err).into_iter().map(|(p, _)| p).collect();
        assert_eq!(found, ["/display_name", "/email", "/password"]);
    }
}
