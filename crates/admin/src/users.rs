//! The first administrator: an account with the `admin` role, created through the
//! migration (admin) URL before anyone can sign in. The password meets the same NIST
//! SP 800-63B rules as a self-registration (`domain::Password`) and is stored as an
//! Argon2id hash of its normalised form, as the users component stores it.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::error::{AdminError, Result};

/// What [`create_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    /// A new admin account was inserted.
    Created,
    /// The account existed as an active admin; nothing was changed (its password
    /// neither: use the account's own password change for that).
    AlreadyAdmin,
    /// The account existed without the admin role and was given it (`promote`).
    Promoted,
}

/// Creates an admin account for `email` with `password`.
///
/// An existing active admin with that email is left as it is (so a deployment job can run
/// this twice). An existing account that is not an admin, or is disabled, is refused unless
/// `promote` is set; then it gets the admin role and is activated, its password kept.
pub async fn create_admin(
    conn: &mut Conn,
    email: &str,
    password: &str,
    display_name: Option<&str>,
    promote: bool,
) -> Result<AdminOutcome> {
    let email =
        domain::Email::parse(email).map_err(|e| AdminError::invalid("--email", e.to_string()))?;
    let password = domain::Password::parse(password.to_owned(), &email)
        // The reason names the rule broken, never the password.
        .map_err(|e| AdminError::invalid("password", format!("refused: {e}")))?;
    if let Some(name) = display_name
        && (name.trim().is_empty() || name.chars().count() > 100)
    {
        return Err(AdminError::invalid(
            "--display-name",
            "must be 1-100 characters",
        ));
    }
    let existing: Option<(Vec<u8>, String, String)> = conn
        .exec_first(
            "SELECT id, roles, status FROM users WHERE email = ?",
            (email.as_str(),),
        )
        .await
        .map_err(AdminError::db(format!("reading user {email}")))?;
    match existing {
        None => {
            let hash = credentials::hash_secret(password.expose_secret())
                .map_err(|e| AdminError::Crypto(format!("hashing: {e}")))?;
            let result = conn
                .exec_drop(
                    "INSERT INTO users (id, email, password_hash, display_name, roles, status) \
                     VALUES (?, ?, ?, ?, 'customer,admin', 'active')",
                    (
                        domain::UserId::generate().to_bytes().to_vec(),
                        email.as_str(),
                        hash,
                        display_name.map(str::trim),
                    ),
                )
                .await;
            match result {
                Ok(()) => Ok(AdminOutcome::Created),
                Err(mysql_async::Error::Server(e)) if e.code == 1062 => {
                    Err(AdminError::Conflict(format!("user {email}")))
                }
                Err(e) => Err(AdminError::db(format!("inserting user {email}"))(e)),
            }
        }
        Some((_, roles, status))
            if roles.split(',').any(|r| r == "admin") && status == "active" =>
        {
            Ok(AdminOutcome::AlreadyAdmin)
        }
        Some((id, _, _)) if promote => {
            conn.exec_drop(
                "UPDATE users SET roles = CONCAT_WS(',', roles, 'admin'), status = 'active', \
                 version = version + 1 WHERE id = ?",
                (id,),
            )
            .await
            .map_err(AdminError::db(format!("promoting user {email}")))?;
            Ok(AdminOutcome::Promoted)
        }
        Some(_) => Err(AdminError::State(format!(
            "user {email} exists but is not an active admin; add --promote to give it the admin role"
        ))),
    }
}
