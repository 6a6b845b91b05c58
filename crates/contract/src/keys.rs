//! Every key Orderly writes to the shared key-value store (`shared`, Redis in the runtime
//! config), built in one place so that the writer and the reader of a key cannot disagree.
//! Every key starts with the application's `kv_prefix` variable, so several deployments can
//! share one Redis.
//!
//! | key | written by | read by |
//! |---|---|---|
//! | [`revoked_jti`] `{prefix}:revoked-jti:{jti}` | identity (revocation) | auth (every protected request) |
//! | [`family_jti`] `{prefix}:family-jti:{family}` | identity (token issue) | identity (family revocation) |
//! | [`breaker`] `{prefix}:breaker:{component}:{dependency}` | the component's store | every instance of it |
//! | [`session`] `{prefix}:session:{hash}` | identity (sign-in) | identity (authorize) |
//! | rate limits `{prefix}:rl:{policy}:{subject}:{window}` | edge-http's limiter | the same |

use crate::routes::Component;

/// The revocation marker of an access token's `jti`: written by `identity` when a token is
/// revoked, checked by `auth` on every request that carries the token.
pub fn revoked_jti(prefix: &str, jti: &str) -> String {
    format!("{prefix}:revoked-jti:{jti}")
}

/// The newest access token `jti` of a refresh-token family (so revoking the family also
/// revokes the access token it issued last).
pub fn family_jti(prefix: &str, family: &str) -> String {
    format!("{prefix}:family-jti:{family}")
}

/// A component's circuit-breaker state for one dependency (e.g. `mariadb`): shared by every
/// instance and host of that component, separate per component (bulkheads).
pub fn breaker(prefix: &str, component: Component, dependency: &str) -> String {
    format!("{prefix}:breaker:{}:{dependency}", component.name())
}

/// A browser session after sign-in, by the hex hash of its cookie value (the cookie value
/// itself is never a key).
pub fn session(prefix: &str, id_hash_hex: &str) -> String {
    format!("{prefix}:session:{id_hash_hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_prefix_and_their_kind() {
        assert_eq!(revoked_jti("p", "j1"), "p:revoked-jti:j1");
        assert_eq!(family_jti("p", "f"), "p:family-jti:f");
        assert_eq!(
            breaker("p", Component::Products, "mariadb"),
            "p:breaker:products:mariadb"
        );
        assert_eq!(session("p", "s"), "p:session:s");
    }
}
