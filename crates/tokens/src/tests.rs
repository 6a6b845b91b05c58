//! The token attack list (docs/standards.md §11, issue 3) and the key handling, one test per rule.
//! Hostile tokens are crafted by hand and, unless the signature is what is under test,
//! carry a *valid* ES256 signature from a configured key — so each test shows that the
//! rule itself refuses the token, not some earlier accident.

use super::*;
use crate::b64;
use jwt_compact::Algorithm;
use jwt_compact::AlgorithmSignature;
use jwt_compact::alg::{Es256, Hs256, Hs256Key};
use p256::ecdsa::Signature;
use proptest::prelude::*;
use serde_json::{Value, json};

const ISS: &str = "https://orderly.example";
const AUD: &str = "https://api.orderly.example";
const NOW: u64 = 1_700_000_000;

fn key_a() -> SigningKey {
    SigningKey::from_scalar_for_tests([0x11; 32], "key-a")
}

fn key_b() -> SigningKey {
    SigningKey::from_scalar_for_tests([0x22; 32], "key-b")
}

fn attacker_key() -> SigningKey {
    SigningKey::from_scalar_for_tests([0x33; 32], "key-a")
}

fn keys() -> VerifyingKeys {
    VerifyingKeys::new()
        .with(KeyRole::Current, key_a().verifying_key())
        .unwrap()
}

fn claims() -> AccessClaims {
    AccessClaims::new(
        ISS,
        "user-1",
        AUD,
        "web",
        ScopeSet::parse("orders:read products:read").unwrap(),
        "jti-1",
        NOW,
    )
}

fn expect() -> Expectations<'static> {
    Expectations::new(ISS, AUD, NOW + 10)
}

fn verify(token: &str) -> Result<AccessClaims, TokenError> {
    verify_access_token(token, &keys(), &expect())
}

fn valid_token() -> String {
    issue_access_token(&key_a(), &claims()).unwrap()
}

fn header() -> Value {
    json!({"alg": "ES256", "typ": "at+jwt", "kid": "key-a"})
}

fn payload() -> Value {
    serde_json::to_value(claims()).unwrap()
}

/// `b64(header).b64(payload)`, from JSON text exactly as given.
fn signing_input(header: &str, payload: &str) -> String {
    format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    )
}

/// A token with a valid low-S ES256 signature by `key` over exactly this header and payload
/// text.
fn craft_text(header: &str, payload: &str, key: &SigningKey) -> String {
    let input = signing_input(header, payload);
    let signature = Es256.sign(key.inner(), input.as_bytes());
    let signature = signature.normalize_s().unwrap_or(signature);
    format!("{input}.{}", b64::encode(&signature.to_bytes()))
}

fn craft(header: &Value, payload: &Value) -> String {
    craft_text(&header.to_string(), &payload.to_string(), &key_a())
}

fn with_header(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut h = header();
    edit(h.as_object_mut().unwrap());
    craft(&h, &payload())
}

fn with_claims(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut p = payload();
    edit(p.as_object_mut().unwrap());
    craft(&header(), &p)
}

// ----- the happy path ------------------------------------------------------------------

#[test]
fn valid_access_token_round_trips() {
    let token = valid_token();
    let verified = verify(&token).unwrap();
    assert_eq!(verified, claims());
    assert_eq!(verified.exp, NOW + 900, "15 minutes by default");
    assert_eq!(verified.expires_in(), 900);
    assert!(
        verified
            .scope
            .contains_all(&ScopeSet::parse("orders:read").unwrap())
    );

    let mut segments = token.split('.');
    let header: Value =
        serde_json::from_slice(&b64::decode(segments.next().unwrap()).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "at+jwt", "kid": "key-a"})
    );
    let payload: Value =
        serde_json::from_slice(&b64::decode(segments.next().unwrap()).unwrap()).unwrap();
    assert_eq!(
        payload,
        json!({
            "iss": ISS, "sub": "user-1", "aud": AUD, "exp": NOW + 900, "iat": NOW, "nbf": NOW,
            "jti": "jti-1", "scope": "orders:read products:read", "client_id": "web"
        })
    );
}

#[test]
fn issuing_is_deterministic_and_low_s() {
    // RFC 6979 nonces: same key and claims, same token. Many claims sets, all low-S.
    assert_eq!(valid_token(), valid_token());
    for n in 0..64 {
        let token = issue_access_token(&key_a(), &claims().with_lifetime(60 + n)).unwrap();
        let signature = b64::decode(token.rsplit('.').next().unwrap()).unwrap();
        let signature = Signature::from_slice(&signature).unwrap();
        assert!(signature.normalize_s().is_none(), "high-S signature issued");
    }
}

#[test]
fn empty_scope_is_omitted_and_reads_back_empty() {
    let mut c = claims();
    c.scope = ScopeSet::empty();
    let token = issue_access_token(&key_a(), &c).unwrap();
    let payload = b64::decode(token.split('.').nth(1).unwrap()).unwrap();
    assert!(!String::from_utf8(payload).unwrap().contains("scope"));
    assert!(verify(&token).unwrap().scope.is_empty());
}

#[test]
fn issuing_refuses_claims_the_verifier_would_refuse() {
    type Edit = fn(&mut AccessClaims);
    let cases: [(Edit, &str); 6] = [
        (|c| c.iss.clear(), "iss"),
        (|c| c.sub.clear(), "sub"),
        (|c| c.jti.clear(), "jti"),
        (|c| c.client_id.clear(), "client_id"),
        (|c| c.aud = Audience::many(Vec::<String>::new()), "aud"),
        (|c| c.exp = c.iat, "exp"),
    ];
    for (edit, name) in cases {
        let mut c = claims();
        edit(&mut c);
        assert_eq!(
            issue_access_token(&key_a(), &c),
            Err(IssueError::InvalidClaim(name))
        );
    }
}

#[test]
fn audience_array_containing_ours_is_accepted() {
    let c = claims().with_audience(Audience::many(["https://other.example", AUD]));
    let token = issue_access_token(&key_a(), &c).unwrap();
    assert_eq!(verify(&token).unwrap().aud.len(), 2);
}

// ----- alg ------------------------------------------------------------------------------

#[test]
fn alg_none_in_any_casing_is_rejected() {
    for alg in ["none", "None", "NONE", "nOnE", "none "] {
        let h = json!({"alg": alg, "typ": "at+jwt", "kid": "key-a"}).to_string();
        let input = signing_input(&h, &payload().to_string());
        // The classic form: empty signature segment …
        assert_eq!(
            verify(&format!("{input}.")),
            Err(TokenError::UnsupportedAlgorithm),
            "{alg}"
        );
        // … and with a genuine ES256 signature over the same input.
        assert_eq!(
            verify(&craft_text(&h, &payload().to_string(), &key_a())),
            Err(TokenError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    // The two-segment unsecured form is not even a JWS.
    let input = signing_input(r#"{"alg":"none"}"#, &payload().to_string());
    assert_eq!(verify(&input), Err(TokenError::Malformed));
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    // The key-confusion attack: the attacker MACs the token with our *public* key in
    // whatever encoding a naive verifier might feed to HMAC.
    let public = key_a().verifying_key();
    let jwk = serde_json::to_string(&public.to_jwk()).unwrap();
    let sec1 = key_a().inner().verifying_key().to_encoded_point(false);
    let jwks = keys().to_jwks_json();
    for secret in [jwk.as_bytes(), sec1.as_bytes(), jwks.as_bytes()] {
        for alg in ["HS256", "hs256"] {
            let h = json!({"alg": alg, "typ": "at+jwt", "kid": "key-a"}).to_string();
            let input = signing_input(&h, &payload().to_string());
            let mac = Hs256.sign(&Hs256Key::new(secret), input.as_bytes());
            let token = format!("{input}.{}", b64::encode(&mac.as_bytes()));
            assert_eq!(verify(&token), Err(TokenError::UnsupportedAlgorithm));
        }
    }
}

#[test]
fn other_algorithms_are_rejected() {
    for alg in [
        json!("RS256"),
        json!("PS256"),
        json!("ES384"),
        json!("ES512"),
        json!("ES256K"),
        json!("EdDSA"),
        json!("es256"),
        json!("ES256 "),
        json!(""),
        json!(["ES256"]),
        json!(null),
    ] {
        let token = with_header(|h| {
            h.insert("alg".into(), alg.clone());
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    let token = with_header(|h| {
        h.remove("alg");
    });
    assert_eq!(verify(&token), Err(TokenError::UnsupportedAlgorithm));
}

// ----- typ ------------------------------------------------------------------------------

#[test]
fn id_token_is_not_accepted_as_access_token() {
    // Same key, same issuer, and even the API's audience: still not an access token.
    let id = IdClaims::new(ISS, "user-1", AUD, NOW).with_nonce("n-1");
    let token = issue_id_token(&key_a(), &id).unwrap();
    assert_eq!(verify(&token), Err(TokenError::WrongType));
    // And the converse: an access token is not an ID token.
    let id_expect = Expectations::new(ISS, "web", NOW);
    assert_eq!(
        verify_id_token(&valid_token(), &keys(), &id_expect, None),
        Err(TokenError::WrongType)
    );
}

#[test]
fn typ_is_case_insensitive_and_may_carry_the_application_prefix() {
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+JWT",
    ] {
        let token = with_header(|h| {
            h.insert("typ".into(), json!(typ));
        });
        assert!(verify(&token).is_ok(), "{typ}");
    }
}

#[test]
fn missing_or_other_typ_is_rejected() {
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt "),
        json!("text/at+jwt"),
        json!("application/at+jwt; charset=utf-8"),
        json!("application/jwt"),
        json!(""),
        json!(1),
        json!(null),
    ] {
        let token = with_header(|h| {
            h.insert("typ".into(), typ.clone());
        });
        assert_eq!(verify(&token), Err(TokenError::WrongType), "{typ}");
    }
    let token = with_header(|h| {
        h.remove("typ");
    });
    assert_eq!(verify(&token), Err(TokenError::WrongType));
}

// ----- kid and keys from the token --------------------------------------------------------

#[test]
fn unknown_kid_is_rejected() {
    let token = with_header(|h| {
        h.insert("kid".into(), json!("key-z"));
    });
    assert_eq!(verify(&token), Err(TokenError::UnknownKey));
}

#[test]
fn hostile_kid_values_just_fail_lookup() {
    for kid in [
        "../../etc/passwd",
        "/dev/null",
        "' OR '1'='1",
        "key-a\u{0}",
        "KEY-A",
        "key-a ",
        "http://attacker.example/key.json",
        "",
        &"k".repeat(4000),
    ] {
        let token = with_header(|h| {
            h.insert("kid".into(), json!(kid));
        });
        assert_eq!(verify(&token), Err(TokenError::UnknownKey), "{kid:.40}");
    }
}

#[test]
fn missing_or_non_string_kid_is_rejected() {
    let token = with_header(|h| {
        h.remove("kid");
    });
    assert_eq!(verify(&token), Err(TokenError::MissingKeyId));
    for kid in [
        json!(1),
        json!(["key-a"]),
        json!({"kid": "key-a"}),
        json!(null),
    ] {
        let token = with_header(|h| {
            h.insert("kid".into(), kid.clone());
        });
        assert_eq!(verify(&token), Err(TokenError::MissingKeyId), "{kid}");
    }
}

#[test]
fn embedded_jwk_header_is_rejected_and_never_followed() {
    // The attacker embeds their own public key and signs with it. A verifier that trusted
    // the header's key would accept; this crate has no way to even use it (no I/O, keys
    // only from `VerifyingKeys`), and refuses the header outright.
    let attacker = attacker_key();
    let mut h = header();
    h["jwk"] = serde_json::to_value(attacker.verifying_key().to_jwk()).unwrap();
    let token = craft_text(&h.to_string(), &payload().to_string(), &attacker);
    assert_eq!(verify(&token), Err(TokenError::KeyReferenceHeader));
    // Even when the embedded key is our own and the signature valid.
    let token = with_header(|h| {
        h.insert(
            "jwk".into(),
            serde_json::to_value(key_a().verifying_key().to_jwk()).unwrap(),
        );
    });
    assert_eq!(verify(&token), Err(TokenError::KeyReferenceHeader));
}

#[test]
fn jku_x5u_x5c_x5t_headers_are_rejected_and_never_followed() {
    for (name, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIU"])),
        ("x5t", json!("dGh1bWJwcmludA")),
        ("x5t#S256", json!("dGh1bWJwcmludA")),
        ("jku", json!(null)),
    ] {
        let token = with_header(|h| {
            h.insert(name.into(), value.clone());
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::KeyReferenceHeader),
            "{name}"
        );
    }
}

#[test]
fn unknown_crit_is_rejected() {
    for crit in [
        json!(["exp"]),
        json!(["b64"]),
        json!(["x-orderly"]),
        json!([]),
        json!(null),
    ] {
        let token = with_header(|h| {
            h.insert("crit".into(), crit.clone());
            h.insert("b64".into(), json!(true));
        });
        assert_eq!(verify(&token), Err(TokenError::CriticalHeader), "{crit}");
    }
}

#[test]
fn header_parameters_we_do_not_send_are_rejected() {
    for (name, value) in [
        ("cty", json!("JWT")),
        ("zip", json!("DEF")),
        ("b64", json!(false)),
        ("x-debug", json!(true)),
    ] {
        let token = with_header(|h| {
            h.insert(name.into(), value.clone());
        });
        assert_eq!(verify(&token), Err(TokenError::UnsupportedHeader), "{name}");
    }
}

#[test]
fn duplicate_header_members_are_rejected() {
    // Last-one-wins parsers read ES256 here, first-one-wins parsers read none.
    let h = r#"{"alg":"none","alg":"ES256","typ":"at+jwt","kid":"key-a"}"#;
    let token = craft_text(h, &payload().to_string(), &key_a());
    assert_eq!(verify(&token), Err(TokenError::Malformed));
    let h = r#"{"alg":"ES256","typ":"at+jwt","kid":"key-z","kid":"key-a"}"#;
    let token = craft_text(h, &payload().to_string(), &key_a());
    assert_eq!(verify(&token), Err(TokenError::Malformed));
}

// ----- signature --------------------------------------------------------------------------

#[test]
fn edited_payload_fails_signature() {
    let token = valid_token();
    let [h, _, s] = <[&str; 3]>::try_from(token.split('.').collect::<Vec<_>>()).unwrap();
    let mut p = payload();
    p["scope"] = json!("admin orders:read products:read");
    let forged = format!("{h}.{}.{s}", b64::encode(p.to_string().as_bytes()));
    assert_eq!(verify(&forged), Err(TokenError::InvalidSignature));
    // Header edits too (a different but accepted typ spelling).
    let h2 = r#"{"alg":"ES256","typ":"AT+JWT","kid":"key-a"}"#;
    let p2 = token.split('.').nth(1).unwrap();
    let forged = format!("{}.{p2}.{s}", b64::encode(h2.as_bytes()));
    assert_eq!(verify(&forged), Err(TokenError::InvalidSignature));
}

#[test]
fn signature_by_another_key_with_our_kid_is_rejected() {
    let token = craft_text(
        &header().to_string(),
        &payload().to_string(),
        &attacker_key(),
    );
    assert_eq!(verify(&token), Err(TokenError::InvalidSignature));
}

#[test]
fn a_valid_high_s_signature_is_accepted_with_the_same_claims() {
    // RFC 7518 §3.4 does not require low S; a KMS/HSM signer makes high S half the time.
    let token = valid_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = Signature::from_slice(&b64::decode(sig).unwrap()).unwrap();
    assert!(sig.normalize_s().is_none(), "we issue low S");
    let (r, s) = sig.split_scalars();
    let twin = Signature::from_scalars(r, -*s).unwrap();
    assert!(twin.normalize_s().is_some(), "the twin is high S");
    let high = format!("{input}.{}", b64::encode(&twin.to_bytes()));
    assert_eq!(verify(&high), verify(&token));
    assert!(verify(&high).is_ok());
}

#[test]
fn a_high_s_signature_over_other_bytes_is_still_refused() {
    // High S is accepted only when it verifies: the twin of one token's signature does
    // not sign another token, and a high-S signature by a stranger's key is refused.
    let token = valid_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = Signature::from_slice(&b64::decode(sig).unwrap()).unwrap();
    let (r, s) = sig.split_scalars();
    let twin = b64::encode(&Signature::from_scalars(r, -*s).unwrap().to_bytes());
    let (header, payload) = input.split_once('.').unwrap();
    let mut edited = b64::decode(payload).unwrap();
    let last = edited.len() - 2;
    edited[last] ^= 1;
    let forged = format!("{header}.{}.{twin}", b64::encode(&edited));
    assert!(verify(&forged).is_err());
    let wrong_key_twin = format!("{header}.{payload}.{}", {
        let other = Signature::from_slice(&[7u8; 64]).unwrap();
        let (r, s) = other.split_scalars();
        b64::encode(&Signature::from_scalars(r, -*s).unwrap().to_bytes())
    });
    assert_eq!(verify(&wrong_key_twin), Err(TokenError::InvalidSignature));
}

#[test]
fn malformed_signatures_are_rejected() {
    let token = valid_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig_bytes = b64::decode(sig).unwrap();
    let der = Signature::from_slice(&sig_bytes).unwrap().to_der();
    let bad: [Vec<u8>; 6] = [
        Vec::new(),
        sig_bytes[..63].to_vec(),
        [&sig_bytes[..], &[0]].concat(),
        vec![0; 64],
        vec![0xff; 64],
        der.as_bytes().to_vec(),
    ];
    for bytes in bad {
        let forged = format!("{input}.{}", b64::encode(&bytes));
        assert_eq!(
            verify(&forged),
            Err(TokenError::InvalidSignature),
            "{bytes:?}"
        );
    }
}

// ----- structure and encoding -------------------------------------------------------------

#[test]
fn oversized_token_is_rejected_before_parsing() {
    // Not even a JWS: the size cap answers first.
    assert_eq!(verify(&"A".repeat(8 * 1024 + 1)), Err(TokenError::TooLarge));
    assert_eq!(verify(&".".repeat(100_000)), Err(TokenError::TooLarge));
    // A genuinely signed token that is simply too big.
    let token = with_claims(|c| {
        c.insert("padding".into(), json!("x".repeat(9000)));
    });
    assert_eq!(verify(&token), Err(TokenError::TooLarge));
    // The cap is inclusive.
    let token = valid_token();
    let at_cap = expect().with_max_len(token.len());
    assert!(verify_access_token(&token, &keys(), &at_cap).is_ok());
    let below = expect().with_max_len(token.len() - 1);
    assert_eq!(
        verify_access_token(&token, &keys(), &below),
        Err(TokenError::TooLarge)
    );
}

#[test]
fn wrong_segment_counts_are_rejected() {
    let token = valid_token();
    let (input, _) = token.rsplit_once('.').unwrap();
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        input.to_owned(),
        format!("{token}."),
        format!("{token}.{}", token.split('.').next().unwrap()),
        format!(".{token}"),
        token.replace('.', ""),
    ] {
        assert_eq!(verify(&bad), Err(TokenError::Malformed), "{bad:.30}");
    }
}

#[test]
fn non_canonical_base64url_is_rejected() {
    let token = valid_token();
    let [h, p, s] = <[&str; 3]>::try_from(token.split('.').collect::<Vec<_>>()).unwrap();
    let std_alphabet = |seg: &str| seg.replace('-', "+").replace('_', "/");
    let variants = [
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}=="),
        format!(" {token}"),
        format!("{token} "),
        format!("{token}\n"),
        format!("{h}.{p}\n.{s}"),
        format!(
            "{}.{}.{}",
            std_alphabet(h),
            std_alphabet(p),
            std_alphabet(s)
        ),
    ];
    for bad in variants {
        assert!(verify(&bad).is_err(), "{bad}");
    }
    // A trailing-bits variant of the payload decodes to the same bytes leniently; it must
    // still be refused (a second spelling of a signed token).
    let mut chars: Vec<char> = p.chars().collect();
    if p.len() % 4 != 0 {
        let last = chars.pop().unwrap();
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = ALPHABET.find(last).unwrap();
        let twin = ALPHABET.chars().nth(index ^ 1).unwrap();
        chars.push(twin);
        let forged = format!("{h}.{}.{s}", chars.iter().collect::<String>());
        assert!(verify(&forged).is_err());
    }
}

#[test]
fn header_that_is_not_a_json_object_is_rejected() {
    let p = payload().to_string();
    for h in [
        "[]",
        "\"ES256\"",
        "null",
        "{",
        "{\"alg\":\"ES256\"} x",
        "\u{feff}{}",
    ] {
        let token = craft_text(h, &p, &key_a());
        assert_eq!(verify(&token), Err(TokenError::Malformed), "{h}");
    }
    // Not UTF-8.
    let input = format!(
        "{}.{}",
        b64::encode(b"{\"alg\":\"ES256\xff\"}"),
        b64::encode(p.as_bytes())
    );
    assert_eq!(verify(&format!("{input}.AAAA")), Err(TokenError::Malformed));
}

#[test]
fn claims_that_are_not_one_json_object_are_rejected() {
    let h = header().to_string();
    for p in ["[]", "null", "{} {}", "{\"sub\":\"a\",}", "eyJ9"] {
        let token = craft_text(&h, p, &key_a());
        assert_eq!(verify(&token), Err(TokenError::Malformed), "{p}");
    }
}

#[test]
fn duplicate_claims_are_rejected() {
    let p = payload().to_string();
    let duplicated = p.replacen(
        "\"aud\":",
        "\"aud\":\"https://attacker.example\",\"aud\":",
        1,
    );
    let token = craft_text(&header().to_string(), &duplicated, &key_a());
    assert_eq!(verify(&token), Err(TokenError::Malformed));
}

// ----- iss and aud ------------------------------------------------------------------------

#[test]
fn wrong_issuer_with_trailing_slash_is_rejected() {
    for iss in [
        "https://orderly.example/",
        "https://ORDERLY.example",
        "http://orderly.example",
        "https://orderly.example ",
        "https://orderly.example.attacker.example",
        "",
    ] {
        let token = with_claims(|c| {
            c.insert("iss".into(), json!(iss));
        });
        assert_eq!(verify(&token), Err(TokenError::WrongIssuer), "{iss}");
    }
    // And the other way round: a verifier configured with the slash refuses ours.
    let expect_slash = Expectations::new("https://orderly.example/", AUD, NOW);
    assert_eq!(
        verify_access_token(&valid_token(), &keys(), &expect_slash),
        Err(TokenError::WrongIssuer)
    );
}

#[test]
fn wrong_audience_is_rejected() {
    for aud in [
        json!("https://other.example"),
        json!("https://api.orderly.example/"),
        json!([]),
        json!(["https://other.example"]),
    ] {
        let token = with_claims(|c| {
            c.insert("aud".into(), aud.clone());
        });
        assert_eq!(verify(&token), Err(TokenError::WrongAudience), "{aud}");
    }
    for aud in [json!(1), json!([AUD, 1]), json!({"aud": AUD})] {
        let token = with_claims(|c| {
            c.insert("aud".into(), aud.clone());
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::InvalidClaim("aud")),
            "{aud}"
        );
    }
}

// ----- time -------------------------------------------------------------------------------

#[test]
fn expired_beyond_leeway_is_rejected() {
    let token = valid_token();
    let exp = NOW + 900;
    let at = |now| verify_access_token(&token, &keys(), &Expectations::new(ISS, AUD, now));
    assert!(at(exp - 1).is_ok());
    assert!(at(exp + 59).is_ok(), "within the 60 s leeway");
    assert_eq!(at(exp + 60), Err(TokenError::Expired));
    assert_eq!(at(exp + 86_400), Err(TokenError::Expired));
    let strict = Expectations::new(ISS, AUD, exp).with_leeway(0);
    assert_eq!(
        verify_access_token(&token, &keys(), &strict),
        Err(TokenError::Expired),
        "RFC 7519: now must be before exp"
    );
}

#[test]
fn not_yet_valid_is_rejected() {
    let token = with_claims(|c| {
        c.insert("nbf".into(), json!(NOW + 300));
    });
    let at = |now| verify_access_token(&token, &keys(), &Expectations::new(ISS, AUD, now));
    assert_eq!(at(NOW), Err(TokenError::NotYetValid));
    assert_eq!(at(NOW + 239), Err(TokenError::NotYetValid));
    assert!(at(NOW + 240).is_ok(), "within the 60 s leeway");
    assert!(at(NOW + 300).is_ok());
}

#[test]
fn issued_in_the_future_is_rejected() {
    let token = with_claims(|c| {
        c.insert("iat".into(), json!(NOW + 3600));
        c.insert("exp".into(), json!(NOW + 7200));
    });
    let at = |now| verify_access_token(&token, &keys(), &Expectations::new(ISS, AUD, now));
    assert_eq!(at(NOW), Err(TokenError::IssuedInFuture));
    assert!(at(NOW + 3540).is_ok(), "within the 60 s leeway");
}

#[test]
fn time_claims_must_be_whole_non_negative_seconds() {
    for name in ["exp", "iat", "nbf"] {
        for value in [json!(1.7e9), json!(-1), json!("1700000900"), json!(true)] {
            let token = with_claims(|c| {
                c.insert(name.into(), value.clone());
            });
            // 1e400 is not valid JSON for serde_json (overflow) → malformed.
            let result = verify(&token);
            assert!(
                result == Err(TokenError::InvalidClaim(name))
                    || result == Err(TokenError::Malformed),
                "{name}={value}: {result:?}"
            );
        }
    }
    // Saturation, not overflow, at the top of the range.
    let token = with_claims(|c| {
        c.insert("exp".into(), json!(u64::MAX));
    });
    let expect = Expectations::new(ISS, AUD, u64::MAX - 10).with_leeway(u64::MAX);
    assert!(verify_access_token(&token, &keys(), &expect).is_ok());
}

// ----- required claims --------------------------------------------------------------------

#[test]
fn each_required_claim_must_be_present() {
    for name in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id"] {
        let token = with_claims(|c| {
            c.remove(name);
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::MissingClaim(name)),
            "{name}"
        );
        let token = with_claims(|c| {
            c.insert(name.into(), Value::Null);
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::MissingClaim(name)),
            "{name}"
        );
    }
}

#[test]
fn empty_jti_sub_and_client_id_are_rejected() {
    for name in ["jti", "sub", "client_id"] {
        let token = with_claims(|c| {
            c.insert(name.into(), json!(""));
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::InvalidClaim(name)),
            "{name}"
        );
        let token = with_claims(|c| {
            c.insert(name.into(), json!(42));
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::InvalidClaim(name)),
            "{name}"
        );
    }
}

#[test]
fn invalid_scope_claim_is_rejected() {
    for scope in [
        json!(""),
        json!("a  b"),
        json!(" a"),
        json!("caf\u{e9}"),
        json!(["a"]),
    ] {
        let token = with_claims(|c| {
            c.insert("scope".into(), scope.clone());
        });
        assert_eq!(
            verify(&token),
            Err(TokenError::InvalidClaim("scope")),
            "{scope}"
        );
    }
}

#[test]
fn unknown_claims_are_ignored() {
    // RFC 7519 §4: claims not understood are ignored (they are signed by us anyway).
    let token = with_claims(|c| {
        c.insert("x-extra".into(), json!({"nested": [1, 2, 3]}));
    });
    assert_eq!(verify(&token).unwrap(), claims());
}

// ----- rotation ---------------------------------------------------------------------------

#[test]
fn token_signed_by_next_key_verifies_after_rotation() {
    // Before the switch every verifier knows A (current) and B (next).
    let before = VerifyingKeys::new()
        .with(KeyRole::Current, key_a().verifying_key())
        .unwrap()
        .with(KeyRole::Next, key_b().verifying_key())
        .unwrap();
    // The issuer switches to B; a verifier still on the old configuration accepts it.
    let by_b = issue_access_token(&key_b(), &claims()).unwrap();
    assert_eq!(
        verify_access_token(&by_b, &before, &expect()).unwrap(),
        claims()
    );
    // After rotation: B current, A retired — tokens by both verify.
    let after = VerifyingKeys::new()
        .with(KeyRole::Current, key_b().verifying_key())
        .unwrap()
        .with(KeyRole::Retired, key_a().verifying_key())
        .unwrap();
    assert!(verify_access_token(&by_b, &after, &expect()).is_ok());
    let by_a = valid_token();
    assert!(verify_access_token(&by_a, &after, &expect()).is_ok());
    // Once A is withdrawn (its tokens have expired), a token by A names an unknown key.
    let withdrawn = VerifyingKeys::new()
        .with(KeyRole::Current, key_b().verifying_key())
        .unwrap();
    assert_eq!(
        verify_access_token(&by_a, &withdrawn, &expect()),
        Err(TokenError::UnknownKey)
    );
    // JWKS order: current, next/retired after.
    let kids: Vec<_> = after.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, ["key-b", "key-a"]);
    assert_eq!(after.role("key-a"), Some(KeyRole::Retired));
}

#[test]
fn key_sets_refuse_duplicate_kids_and_two_current_keys() {
    let mut set = keys();
    assert_eq!(
        set.insert(KeyRole::Next, attacker_key().verifying_key())
            .map(|_| ()),
        Err(KeyError::DuplicateKid)
    );
    assert_eq!(
        set.insert(KeyRole::Current, key_b().verifying_key())
            .map(|_| ()),
        Err(KeyError::SecondCurrentKey)
    );
    assert!(VerifyingKeys::new().get("key-a").is_none());
}

#[test]
fn empty_key_set_verifies_nothing() {
    let empty = VerifyingKeys::new();
    assert!(empty.is_empty());
    assert_eq!(
        verify_access_token(&valid_token(), &empty, &expect()),
        Err(TokenError::UnknownKey)
    );
}

// ----- ID tokens --------------------------------------------------------------------------

#[test]
fn id_token_round_trips_with_nonce() {
    let id = IdClaims::new(ISS, "user-1", "web", NOW)
        .with_nonce("n-0S6_WzA2Mj")
        .with_auth_time(NOW - 5)
        .with_azp("web");
    let token = issue_id_token(&key_a(), &id).unwrap();
    let header: Value =
        serde_json::from_slice(&b64::decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "JWT", "kid": "key-a"})
    );
    let expect = Expectations::new(ISS, "web", NOW + 1);
    assert_eq!(
        verify_id_token(&token, &keys(), &expect, Some("n-0S6_WzA2Mj")).unwrap(),
        id
    );
    assert_eq!(
        verify_id_token(&token, &keys(), &expect, Some("other")),
        Err(TokenError::NonceMismatch)
    );
    assert_eq!(
        verify_id_token(
            &token,
            &keys(),
            &Expectations::new(ISS, "mobile", NOW),
            None
        ),
        Err(TokenError::WrongAudience)
    );
    // aud serialises as a plain string for one client.
    let payload: Value =
        serde_json::from_slice(&b64::decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(payload["aud"], json!("web"));
    assert_eq!(payload["exp"], json!(NOW + 900));
}

#[test]
fn id_token_without_the_nonce_that_was_sent_is_rejected() {
    let token = issue_id_token(&key_a(), &IdClaims::new(ISS, "user-1", "web", NOW)).unwrap();
    let expect = Expectations::new(ISS, "web", NOW);
    assert_eq!(
        verify_id_token(&token, &keys(), &expect, Some("n")),
        Err(TokenError::NonceMismatch)
    );
    assert!(verify_id_token(&token, &keys(), &expect, None).is_ok());
}

#[test]
fn id_token_with_another_azp_is_rejected() {
    let id = IdClaims::new(ISS, "user-1", "web", NOW).with_azp("mobile");
    let token = issue_id_token(&key_a(), &id).unwrap();
    assert_eq!(
        verify_id_token(&token, &keys(), &Expectations::new(ISS, "web", NOW), None),
        Err(TokenError::WrongAudience)
    );
}

// ----- errors are safe to show --------------------------------------------------------------

#[test]
fn error_descriptions_are_fixed_text() {
    let errors = [
        TokenError::TooLarge,
        TokenError::Malformed,
        TokenError::UnsupportedAlgorithm,
        TokenError::WrongType,
        TokenError::MissingKeyId,
        TokenError::UnknownKey,
        TokenError::KeyReferenceHeader,
        TokenError::CriticalHeader,
        TokenError::UnsupportedHeader,
        TokenError::InvalidSignature,
        TokenError::WrongIssuer,
        TokenError::WrongAudience,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::IssuedInFuture,
        TokenError::MissingClaim("jti"),
        TokenError::InvalidClaim("aud"),
        TokenError::NonceMismatch,
    ];
    for error in errors {
        let text = error.to_string();
        assert!(!text.is_empty());
        // Usable inside an RFC 6750 quoted-string: printable ASCII, no `"` or `\`.
        assert!(
            text.bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
            "{text}"
        );
        assert!(
            error
                .description()
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b))
        );
    }
}

// ----- keys from configuration --------------------------------------------------------------

// A P-256 key made for these tests only (Python `cryptography`), with its JWK members and
// RFC 7638 thumbprint computed there: an independent cross-check of our key handling.
const TEST_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUBddeXhaNUUgIvV0
j9opL1PytU0pG+RVHYUXN1sHOJuhRANCAAScNWhRU4zVn7eYwTWQMoijmA72txbh
jC9sRX6h9oxQvGfRJve+7ngPSyZogztqV3vdpA2ARD+GNfVORq4ct7Yi
-----END PRIVATE KEY-----
";
const TEST_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFAXXXl4WjVFICL1dI/aKS9T8rVNKRvkVR2FFzdbBziboAoGCCqGSM49
AwEHoUQDQgAEnDVoUVOM1Z+3mME1kDKIo5gO9rcW4YwvbEV+ofaMULxn0Sb3vu54
D0smaIM7ald73aQNgEQ/hjX1TkauHLe2Ig==
-----END EC PRIVATE KEY-----
";
const TEST_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnDVoUVOM1Z+3mME1kDKIo5gO9rcW
4YwvbEV+ofaMULxn0Sb3vu54D0smaIM7ald73aQNgEQ/hjX1TkauHLe2Ig==
-----END PUBLIC KEY-----
";
const TEST_X: &str = "nDVoUVOM1Z-3mME1kDKIo5gO9rcW4YwvbEV-ofaMULw";
const TEST_Y: &str = "Z9Em977ueA9LJmiDO2pXe92kDYBEP4Y19U5Grhy3tiI";
const TEST_D: &str = "UBddeXhaNUUgIvV0j9opL1PytU0pG-RVHYUXN1sHOJs";
const TEST_THUMBPRINT: &str = "TuYeda0vyyAIfCv3zxBzsQeImYYKL9N1-2WGwF0Plpk";
/// An access token signed by that key (kid `py-key`) with Python `cryptography`.
const PYTHON_TOKEN: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6InB5LWtleSJ9.eyJpc3MiOiJodHRwczovL29yZGVybHkuZXhhbXBsZSIsInN1YiI6InVzZXItMSIsImF1ZCI6Imh0dHBzOi8vYXBpLm9yZGVybHkuZXhhbXBsZSIsImV4cCI6MTcwMDAwMDkwMCwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImp0aSI6InB5LWp0aS0xIiwic2NvcGUiOiJvcmRlcnM6cmVhZCIsImNsaWVudF9pZCI6IndlYiJ9.KDqz7NhoSmTYw1BkvxWi7J4xXxNG4VYjiRCFYnU4wzV9CDqccptUB88nO5JYNuMhP2Ish8RPv-5jX1ubI9JWGw";

fn test_jwk(extra: &str) -> String {
    format!(r#"{{"kty":"EC","crv":"P-256","x":"{TEST_X}","y":"{TEST_Y}","d":"{TEST_D}"{extra}}}"#)
}

#[test]
fn pkcs8_pem_and_jwk_load_the_same_key_with_its_thumbprint() {
    let from_pem = SigningKey::from_config(TEST_PKCS8, None).unwrap();
    assert_eq!(from_pem.kid().as_str(), TEST_THUMBPRINT);
    let jwk = from_pem.verifying_key().to_jwk();
    assert_eq!((jwk.x.as_str(), jwk.y.as_str()), (TEST_X, TEST_Y));
    let from_jwk = SigningKey::from_config(&test_jwk(""), None).unwrap();
    assert_eq!(from_jwk.verifying_key(), from_pem.verifying_key());
    let public = VerifyingKey::from_config(TEST_SPKI, None).unwrap();
    assert_eq!(public, from_pem.verifying_key());
    assert_eq!(public.thumbprint(), TEST_THUMBPRINT);
}

#[test]
fn token_signed_by_another_implementation_verifies() {
    let public = VerifyingKey::from_config(TEST_SPKI, Some("py-key")).unwrap();
    let keys = VerifyingKeys::new().with(KeyRole::Current, public).unwrap();
    let verified = verify_access_token(PYTHON_TOKEN, &keys, &expect()).unwrap();
    assert_eq!(verified.jti, "py-jti-1");
    // And ours, signed with the same key, has the same claims shape.
    let ours = SigningKey::from_config(TEST_PKCS8, Some("py-key")).unwrap();
    let c = AccessClaims::new(
        ISS,
        "user-1",
        AUD,
        "web",
        ScopeSet::parse("orders:read").unwrap(),
        "py-jti-1",
        NOW,
    );
    let token = issue_access_token(&ours, &c).unwrap();
    assert_eq!(
        token.rsplit_once('.').unwrap().0,
        PYTHON_TOKEN.rsplit_once('.').unwrap().0,
        "byte-identical header and claims"
    );
}

#[test]
fn configured_kid_wins_and_a_conflicting_jwk_kid_is_an_error() {
    let key = SigningKey::from_config(TEST_PKCS8, Some("2026-01")).unwrap();
    assert_eq!(key.kid().as_str(), "2026-01");
    let key = SigningKey::from_config(&test_jwk(r#","kid":"2026-01""#), None).unwrap();
    assert_eq!(key.kid().as_str(), "2026-01");
    let key = SigningKey::from_config(&test_jwk(r#","kid":"2026-01""#), Some("2026-01")).unwrap();
    assert_eq!(key.kid().as_str(), "2026-01");
    assert_eq!(
        SigningKey::from_config(&test_jwk(r#","kid":"2026-01""#), Some("2026-02")).map(|_| ()),
        Err(KeyError::KidMismatch)
    );
    for bad in ["", "a b", "../x", "é", &"k".repeat(129)] {
        assert_eq!(
            SigningKey::from_config(TEST_PKCS8, Some(bad)).map(|_| ()),
            Err(KeyError::InvalidKid),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_key_configuration_is_refused() {
    let load = |text: &str| SigningKey::from_config(text, Some("k")).map(|_| ());
    assert_eq!(load("secret"), Err(KeyError::UnrecognisedFormat));
    assert_eq!(
        load(TEST_SEC1),
        Err(KeyError::InvalidPem),
        "SEC1 is not PKCS#8"
    );
    assert_eq!(
        load(TEST_SPKI),
        Err(KeyError::InvalidPem),
        "a public key cannot sign"
    );
    assert_eq!(
        load("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
        Err(KeyError::InvalidPem)
    );
    assert_eq!(
        load(&test_jwk("").replace("\"EC\"", "\"RSA\"")),
        Err(KeyError::InvalidJwk("kty"))
    );
    assert_eq!(
        load(&test_jwk("").replace("P-256", "P-384")),
        Err(KeyError::InvalidJwk("crv"))
    );
    assert_eq!(
        load(&test_jwk(r#","alg":"HS256""#)),
        Err(KeyError::InvalidJwk("alg"))
    );
    assert_eq!(
        load(&test_jwk(r#","use":"enc""#)),
        Err(KeyError::InvalidJwk("use"))
    );
    assert_eq!(
        load(&test_jwk(r#","key_ops":["encrypt"]"#)),
        Err(KeyError::InvalidJwk("key_ops"))
    );
    assert!(
        load(&test_jwk(
            r#","key_ops":["sign","verify"],"use":"sig","alg":"ES256""#
        ))
        .is_ok()
    );
    assert_eq!(
        load(&test_jwk("").replace(TEST_D, &TEST_D[..42])),
        Err(KeyError::InvalidJwk("d"))
    );
    assert_eq!(
        load(&test_jwk("").replace(TEST_D, &b64::encode(&[0; 32]))),
        Err(KeyError::InvalidJwk("d"))
    );
    assert_eq!(
        load(&test_jwk("").replace(TEST_D, &b64::encode(&[0xff; 32]))),
        Err(KeyError::InvalidJwk("d")),
        "d >= n"
    );
    // A valid d with somebody else's public key.
    let other = key_a().verifying_key().to_jwk();
    assert_eq!(
        load(
            &test_jwk("")
                .replace(TEST_X, &other.x)
                .replace(TEST_Y, &other.y)
        ),
        Err(KeyError::KeyMismatch)
    );
    // A point not on the curve.
    assert_eq!(
        load(&test_jwk("").replace(TEST_Y, &b64::encode(&[1; 32]))),
        Err(KeyError::InvalidJwk("x"))
    );
    assert_eq!(
        load(&test_jwk("").replacen("\"x\"", "\"x\":\"AAAA\",\"x\"", 1)),
        Err(KeyError::InvalidJwk("{}")),
        "duplicate members"
    );
    let public_only = serde_json::to_string(&key_a().verifying_key().to_jwk()).unwrap();
    assert_eq!(load(&public_only), Err(KeyError::InvalidJwk("d")));
}

#[test]
fn pem_with_crlf_or_surrounding_whitespace_loads() {
    let crlf = TEST_PKCS8.replace('\n', "\r\n");
    let key = SigningKey::from_config(&format!("\n  {crlf}  \n"), None).unwrap();
    assert_eq!(key.kid().as_str(), TEST_THUMBPRINT);
    let key = VerifyingKey::from_config(TEST_SPKI.trim_end(), None).unwrap();
    assert_eq!(key.kid().as_str(), TEST_THUMBPRINT);
}

#[test]
fn verifiers_refuse_private_keys() {
    assert_eq!(
        VerifyingKey::from_config(TEST_SEC1, None).map(|_| ()),
        Err(KeyError::UnexpectedPrivateKey)
    );
    assert_eq!(
        VerifyingKey::from_config(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            None
        )
        .map(|_| ()),
        Err(KeyError::InvalidPem)
    );
    assert_eq!(
        VerifyingKey::from_config(TEST_PKCS8, None).map(|_| ()),
        Err(KeyError::UnexpectedPrivateKey)
    );
    assert_eq!(
        VerifyingKey::from_config(&test_jwk(""), None).map(|_| ()),
        Err(KeyError::UnexpectedPrivateKey)
    );
}

#[test]
fn signing_key_debug_shows_no_secret() {
    let key = SigningKey::from_config(TEST_PKCS8, Some("k1")).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains("k1"));
    assert!(!debug.contains(TEST_D));
    assert!(!debug.contains("UBdd"));
}

#[test]
fn generated_keys_export_and_reload() {
    let key = SigningKey::generate(None).unwrap();
    assert_eq!(key.kid().as_str(), key.verifying_key().thumbprint());
    let jwk = key.to_private_jwk();
    let again = SigningKey::from_config(&jwk, None).unwrap();
    assert_eq!(again.verifying_key(), key.verifying_key());
    let pem = key.to_pkcs8_pem().unwrap();
    let again = SigningKey::from_config(&pem, Some(key.kid().as_str())).unwrap();
    assert_eq!(again.verifying_key(), key.verifying_key());
    assert_ne!(
        SigningKey::generate(None).unwrap().verifying_key(),
        key.verifying_key()
    );
}

#[test]
fn jwks_json_has_exactly_the_public_members() {
    let set = keys().with(KeyRole::Next, key_b().verifying_key()).unwrap();
    let jwks: Value = serde_json::from_str(&set.to_jwks_json()).unwrap();
    let list = jwks["keys"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for jwk in list {
        let mut names: Vec<_> = jwk.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(b64::decode(jwk["x"].as_str().unwrap()).unwrap().len(), 32);
    }
    assert_eq!(list[0]["kid"], "key-a");
    // Read back, as the auth middleware might from configuration.
    let published = VerifyingKeys::from_jwks_json(&set.to_jwks_json()).unwrap();
    assert_eq!(published.role("key-b"), Some(KeyRole::Published));
    assert!(verify_access_token(&valid_token(), &published, &expect()).is_ok());
    assert_eq!(
        VerifyingKeys::from_jwks_json(r#"{"keys":[{"kty":"EC"}]}"#).map(|_| ()),
        Err(KeyError::InvalidJwk("kid"))
    );
    assert!(VerifyingKeys::from_jwks_json(r#"{"keys":{}}"#).is_err());
}

#[test]
fn thumbprint_matches_jwt_compact() {
    use sha2::Sha256;
    for key in [key_a(), key_b(), attacker_key()] {
        let ours = key.verifying_key().thumbprint();
        assert_eq!(ours, jwk_thumbprint(&key.verifying_key().to_jwk()));
        let theirs =
            jwt_compact::jwk::JsonWebKey::from(key.inner().verifying_key()).thumbprint::<Sha256>();
        assert_eq!(ours, b64::encode(&theirs));
    }
}

#[test]
fn random_jtis_are_distinct_and_url_safe() {
    let a = random_jti().unwrap();
    let b = random_jti().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 22);
    assert_eq!(b64::decode(&a).unwrap().len(), 16);
}

// ----- fuzzing ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic_and_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(verify(&text).is_err());
    }

    #[test]
    fn random_jws_shapes_never_verify(
        h in "[A-Za-z0-9_-]{0,80}",
        p in "[A-Za-z0-9_-]{0,200}",
        s in "[A-Za-z0-9_-]{0,100}",
    ) {
        let token = format!("{h}.{p}.{s}");
        prop_assert!(verify(&token).is_err());
        // With our real header in front, parsing goes as far as the signature.
        let real_header = valid_token().split('.').next().unwrap().to_owned();
        let token = format!("{real_header}.{p}.{s}");
        prop_assert!(verify(&token).is_err());
    }

    #[test]
    fn any_single_character_edit_of_a_valid_token_fails(index in 0usize..1000, replacement in any::<char>()) {
        let token = valid_token();
        let index = index % token.len();
        let mut edited: Vec<char> = token.chars().collect();
        prop_assume!(edited[index] != replacement);
        edited[index] = replacement;
        let edited: String = edited.into_iter().collect();
        prop_assert!(verify(&edited).is_err());
    }
}
