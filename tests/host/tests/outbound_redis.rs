//! Fidelity of `spin:redis/redis@3.0.0` (outbound Redis) against the real Redis on
//! 127.0.0.1:6379, each behaviour as Spin implements it:
//!
//! * Spin `crates/factor-outbound-redis/src/host.rs`: the `operations` module (`get`, `set`,
//!   `incr` as `INCRBY 1`, `del`, `sadd`'s error mapping, `execute`) and `RedisResults`
//!   (how a reply becomes `redis-result`s), `open`'s `invalid-address` for a disallowed or
//!   unparsable address and `other(…)` for a failed connect;
//! * Spin `crates/factor-outbound-redis/src/allowed_hosts.rs` and
//!   `crates/outbound-networking-config/src/allowed_hosts.rs` (`check_url(address, "redis")`,
//!   the `redis` scheme's well-known port 6379, `redis://` prepended to an unparsable
//!   address);
//! * Spin `crates/factor-outbound-redis/src/runtime_config/spin.rs`
//!   (`[outbound_redis] max_connections`, unknown fields refused);
//! * Spin `crates/capabilities/src/lib.rs` (`spin:redis/redis@3.0.0` belongs to the
//!   `allowed_outbound_hosts` capability set a middleware may inherit).
//!
//! The guest side (a real spin-sdk 7 component calling through the host) is covered by
//! `store_e2e.rs` (the breaker's state) and by the end-to-end tests of the app.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::path::Path;

use orderly_host::allowed_hosts::AllowedHosts;
use orderly_host::bindings::spin::redis::redis::{Error, RedisParameter, RedisResult};
use orderly_host::outbound_redis::{connect, is_address_allowed, operations};
use orderly_host::runtime_config::RuntimeConfig;

const REDIS: &str = "redis://127.0.0.1:6379";

fn key(name: &str) -> String {
    format!("fidelity-redis:{:016x}:{name}", rand::random::<u64>())
}

/// The results as comparable text (the generated type has no `PartialEq`).
fn show(results: Result<Vec<RedisResult>, Error>) -> Vec<String> {
    results
        .unwrap()
        .into_iter()
        .map(|r| match r {
            RedisResult::Nil => "nil".to_string(),
            RedisResult::Status(s) => format!("status:{s}"),
            RedisResult::Int64(n) => format!("int:{n}"),
            RedisResult::Binary(b) => format!("binary:{}", String::from_utf8_lossy(&b)),
        })
        .collect()
}

fn bin(text: &str) -> RedisParameter {
    RedisParameter::Binary(text.as_bytes().to_vec())
}

#[tokio::test]
async fn typed_commands_answer_as_spins_operations_do() {
    let mut conn = connect(REDIS).await.unwrap();
    let k = key("typed");
    assert_eq!(operations::get(&mut conn, k.clone()).await.unwrap(), None);
    operations::set(&mut conn, k.clone(), b"v".to_vec())
        .await
        .unwrap();
    assert_eq!(
        operations::get(&mut conn, k.clone()).await.unwrap(),
        Some(b"v".to_vec())
    );
    // `incr` on a non-integer: `other`, with the server's text.
    assert!(matches!(
        operations::incr(&mut conn, k.clone()).await,
        Err(Error::Other(_))
    ));
    let counter = key("counter");
    assert_eq!(
        operations::incr(&mut conn, counter.clone()).await.unwrap(),
        1
    );
    assert_eq!(
        operations::incr(&mut conn, counter.clone()).await.unwrap(),
        2
    );
    // `sadd` maps the redis crate's `ErrorKind::TypeError` (a reply it cannot convert) to
    // `type-error`; the server's `WRONGTYPE` on a string key is a server error to redis 0.32
    // (Spin's version too), so it reaches the guest as `other` with the server's text.
    match operations::sadd(&mut conn, k.clone(), vec!["a".into()]).await {
        Err(Error::Other(text)) => assert!(text.contains("WRONGTYPE"), "{text}"),
        other => panic!("{other:?}"),
    }
    let set = key("set");
    assert_eq!(
        operations::sadd(&mut conn, set.clone(), vec!["a".into(), "b".into()])
            .await
            .unwrap(),
        2
    );
    let mut members = operations::smembers(&mut conn, set.clone()).await.unwrap();
    members.sort();
    assert_eq!(members, ["a", "b"]);
    assert_eq!(
        operations::srem(&mut conn, set.clone(), vec!["a".into()])
            .await
            .unwrap(),
        1
    );
    // `del` answers how many of the keys existed.
    assert_eq!(
        operations::del(&mut conn, vec![k, counter, set, key("absent")])
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn execute_flattens_replies_into_redis_results_as_spin_does() {
    let mut conn = connect(REDIS).await.unwrap();
    let k = key("exec");
    // `SET … PX`: the simple-string reply `OK` is `status("OK")`.
    assert_eq!(
        show(
            operations::execute(
                &mut conn,
                "SET".into(),
                vec![bin(&k), bin("7"), bin("PX"), RedisParameter::Int64(60_000)],
            )
            .await
        ),
        ["status:OK"]
    );
    // Integers are `int64`; the expiry took.
    let pttl = operations::execute(&mut conn, "PTTL".into(), vec![bin(&k)])
        .await
        .unwrap();
    assert!(
        matches!(pttl.as_slice(), [RedisResult::Int64(ms)] if *ms > 0 && *ms <= 60_000),
        "{pttl:?}"
    );
    // Arrays are flattened, a missing key is `nil`, bulk strings are `binary`.
    let absent = key("absent");
    assert_eq!(
        show(operations::execute(&mut conn, "MGET".into(), vec![bin(&k), bin(&absent)]).await),
        ["binary:7", "nil"]
    );
    // `EVAL` (how Orderly counts with an expiry) returns its integer.
    let counter = key("eval");
    let script = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
        if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
        return n";
    for expected in [3, 6] {
        assert_eq!(
            show(
                operations::execute(
                    &mut conn,
                    "EVAL".into(),
                    vec![
                        bin(script),
                        RedisParameter::Int64(1),
                        bin(&counter),
                        RedisParameter::Int64(3),
                        RedisParameter::Int64(30_000),
                    ],
                )
                .await
            ),
            [format!("int:{expected}")]
        );
    }
    // A server error is `other(…)`.
    assert!(matches!(
        operations::execute(&mut conn, "INCR".into(), vec![bin("a"), bin("b")]).await,
        Err(Error::Other(_))
    ));
    assert!(matches!(
        operations::execute(&mut conn, "NOSUCHCOMMAND".into(), vec![]).await,
        Err(Error::Other(_))
    ));
    operations::del(&mut conn, vec![k, counter]).await.unwrap();
}

#[tokio::test]
async fn open_refuses_a_bad_url_as_invalid_address_and_a_dead_server_as_other() {
    assert!(matches!(
        connect("not a url").await,
        Err(Error::InvalidAddress)
    ));
    assert!(matches!(
        connect("http://127.0.0.1:6379").await,
        Err(Error::InvalidAddress)
    ));
    // Nothing listens on port 1.
    assert!(matches!(
        connect("redis://127.0.0.1:1").await,
        Err(Error::Other(_))
    ));
}

#[test]
fn addresses_are_checked_against_allowed_outbound_hosts_with_the_redis_scheme() {
    let allowed = AllowedHosts::parse(&["redis://127.0.0.1:6379"]).unwrap();
    assert!(is_address_allowed(&allowed, "redis://127.0.0.1:6379"));
    assert!(is_address_allowed(
        &allowed,
        "redis://:secret@127.0.0.1:6379/2"
    ));
    // No port: the well-known 6379.
    assert!(is_address_allowed(&allowed, "redis://127.0.0.1"));
    // Not a URL: `redis://` is put in front.
    assert!(is_address_allowed(&allowed, "127.0.0.1:6379"));
    assert!(!is_address_allowed(&allowed, "redis://127.0.0.1:6380"));
    assert!(!is_address_allowed(&allowed, "redis://127.0.0.2:6379"));
    assert!(!is_address_allowed(&allowed, "rediss://127.0.0.1:6379"));
    let mysql_only = AllowedHosts::parse(&["mysql://127.0.0.1:3306"]).unwrap();
    assert!(!is_address_allowed(&mysql_only, "redis://127.0.0.1:3306"));
}

#[test]
fn outbound_redis_max_connections_is_a_runtime_config_key_with_no_other_fields() {
    let c =
        RuntimeConfig::parse("[outbound_redis]\nmax_connections = 3\n", Path::new(".")).unwrap();
    assert_eq!(c.redis_max_connections, Some(3));
    let c = RuntimeConfig::parse("", Path::new(".")).unwrap();
    assert_eq!(c.redis_max_connections, None, "no cap unless configured");
    assert!(RuntimeConfig::parse("[outbound_redis]\nnope = 1\n", Path::new(".")).is_err());
}
