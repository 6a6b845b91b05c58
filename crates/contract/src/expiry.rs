//! How long each key of [`crate::keys`] lives in the shared store: every key Orderly
//! writes there expires when its purpose ends (docs/shared-state.md has the whole table).
//! Times are Unix seconds; each function answers the `ttl` to write the key with.

use std::time::Duration;

/// What a token verifier forgives past `exp` (`tokens::DEFAULT_LEEWAY_SECS`, RFC 7519
/// §4.1.4): a revocation marker must outlive the token by as much, or a token just past
/// its `exp` would pass again once the marker is gone.
pub const TOKEN_LEEWAY_SECS: u64 = 60;

/// The shortest expiry written (a key already past its purpose is still written, briefly,
/// rather than refused: Redis takes no zero expiry).
pub const MIN_TTL: Duration = Duration::from_secs(1);

/// From `now` until `until`, at least [`MIN_TTL`].
pub fn until(until: u64, now: u64) -> Duration {
    Duration::from_secs(until.saturating_sub(now)).max(MIN_TTL)
}

/// [`crate::keys::revoked_jti`]: until the token's `exp` plus the verifiers' leeway — after
/// that no verifier accepts the token anyway.
pub fn revoked_jti(token_exp: u64, now: u64) -> Duration {
    until(token_exp.saturating_add(TOKEN_LEEWAY_SECS), now)
}

/// [`crate::keys::family_jti`]: the newest access token of a refresh-token family is only
/// worth revoking while it can still be used, so the pointer to it lives exactly as long as
/// a revocation marker for it would (rewritten, with a new expiry, on every rotation). The
/// refresh tokens themselves live in MariaDB for their 14 days.
pub fn family_jti(access_exp: u64, now: u64) -> Duration {
    revoked_jti(access_exp, now)
}

/// [`crate::keys::session`]: until the session's end.
pub fn session(session_exp: u64, now: u64) -> Duration {
    until(session_exp, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_revocation_marker_outlives_the_token_by_the_verifier_leeway() {
        assert_eq!(revoked_jti(NOW + 900, NOW), Duration::from_secs(960));
        // An already-expired token still inside the leeway: kept for what is left of it.
        assert_eq!(revoked_jti(NOW - 20, NOW), Duration::from_secs(40));
        // Long dead: written for the minimum only.
        assert_eq!(revoked_jti(NOW - 3_600, NOW), MIN_TTL);
    }

    #[test]
    fn a_family_pointer_lives_as_long_as_its_access_token_can_be_used() {
        assert_eq!(family_jti(NOW + 900, NOW), Duration::from_secs(960));
    }

    #[test]
    fn a_session_expires_when_it_ends_and_nothing_is_ever_written_without_expiry() {
        assert_eq!(session(NOW + 8 * 3600, NOW), Duration::from_secs(8 * 3600));
        assert_eq!(session(NOW, NOW), MIN_TTL);
        assert_eq!(until(0, u64::MAX), MIN_TTL);
        assert_eq!(
            revoked_jti(u64::MAX, 0),
            Duration::from_secs(u64::MAX),
            "saturates"
        );
    }
}
