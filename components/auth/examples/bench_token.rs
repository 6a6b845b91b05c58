//! Prints, as shell assignments, a fresh public JWKS and an access token signed with its key
//! (for `bench/auth.sh`): `BENCH_JWKS='…'` and `BENCH_TOKEN='…'`. The token is for the
//! `spin.toml` default issuer and audience, scope `products:write`, valid for one hour.
//!
//! `cargo run -q -p auth --example bench_token`

use std::time::{SystemTime, UNIX_EPOCH};

use tokens::{AccessClaims, KeyRole, Kid, ScopeSet, SigningKey, VerifyingKeys};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = SigningKey::generate(Some(Kid::new("bench-1")?))?;
    let jwks = VerifyingKeys::new()
        .with(KeyRole::Current, key.verifying_key())?
        .to_jwks_json();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = AccessClaims::new(
        "http://127.0.0.1:3000",
        "0190b0c4-0000-7000-8000-0000000be4c1",
        "http://127.0.0.1:3000/api",
        "bench-web",
        ScopeSet::parse("products:write")?,
        tokens::random_jti()?,
        now,
    )
    .with_lifetime(3600);
    let token = tokens::issue_access_token(&key, &claims)?;
    println!("BENCH_JWKS='{jwks}'");
    println!("BENCH_TOKEN='{token}'");
    Ok(())
}
