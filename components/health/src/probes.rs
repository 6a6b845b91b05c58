//! The Spin implementation of [`Dependencies`]: `spin:mysql`, `spin:key-value` (the
//! instance-local `default` store) and `spin:redis` (the `shared` store: Redis at the
//! `redis_url` variable, through Spin's outbound Redis like every writer of shared state).

use std::time::Duration;

use spin_sdk::key_value::Store;
use spin_sdk::mysql::{Connection, DbValue};
use spin_sdk::redis::RedisParameter;

use crate::service::{Dependencies, ProbeError, ProbeFailure, summarise_error};

/// The component variable holding the MariaDB URL (mapped from the application
/// variable `health_db_url` in `spin.toml`). It contains a password: never log it
/// unredacted, never put it in a response.
pub const DB_URL_VARIABLE: &str = "db_url";

/// The component variable holding the shared store's Redis URL (may hold a password).
pub const REDIS_URL_VARIABLE: &str = "redis_url";

/// The check label served by Redis rather than a Spin key-value store.
const SHARED_LABEL: &str = "shared";

/// The probe entry's expiry in the shared store: it is deleted at once, and gone by itself
/// should the instance die in between (docs/shared-state.md).
const SHARED_PROBE_TTL_MILLIS: i64 = 10_000;

/// MariaDB's statement timeout for the probe query, in seconds.
const PROBE_QUERY: &str = "SET STATEMENT max_statement_time=1 FOR SELECT 1";

/// Dependencies reached through the Spin host.
pub struct SpinDependencies;

impl Dependencies for SpinDependencies {
    async fn database(&self) -> Result<(), ProbeError> {
        let url = spin_sdk::variables::get(DB_URL_VARIABLE)
            .await
            .map_err(|e| {
                ProbeError::new(
                    ProbeFailure::NotConfigured,
                    format!("variable {DB_URL_VARIABLE}: {e}"),
                )
            })?;
        // Spin's error text repeats the URL with its password; the edge redacts the
        // log line and the cause never reaches the response.
        let connection = Connection::open(url).await.map_err(|e| {
            ProbeError::new(
                ProbeFailure::Unreachable,
                format!("open: {}", summarise_error(&e.to_string())),
            )
        })?;
        let rows = connection
            .query(PROBE_QUERY, Vec::new())
            .await
            .map_err(|e| {
                ProbeError::new(
                    ProbeFailure::Unreachable,
                    format!("query: {}", summarise_error(&e.to_string())),
                )
            })?
            .collect()
            .await
            .map_err(|e| {
                ProbeError::new(
                    ProbeFailure::Unreachable,
                    format!("rows: {}", summarise_error(&e.to_string())),
                )
            })?;
        match rows.first().map(|row| &row[0]) {
            Some(DbValue::Int64(1) | DbValue::Int32(1) | DbValue::Uint64(1) | DbValue::Int8(1)) => {
                Ok(())
            }
            other => Err(ProbeError::new(
                ProbeFailure::WrongAnswer,
                format!("SELECT 1 returned {other:?}"),
            )),
        }
    }

    async fn key_value(&self, label: &str, key: &str) -> Result<(), ProbeError> {
        if label == SHARED_LABEL {
            return shared_store(key).await;
        }
        let fail = |step: &str, e: spin_sdk::key_value::Error| {
            ProbeError::new(
                ProbeFailure::Unreachable,
                format!("{step}: {}", summarise_error(&e.to_string())),
            )
        };
        let store = Store::open(label).await.map_err(|e| fail("open", e))?;
        let value = key.as_bytes();
        store.set(key, value).await.map_err(|e| fail("set", e))?;
        let read = store.get(key).await.map_err(|e| fail("get", e))?;
        store.delete(key).await.map_err(|e| fail("delete", e))?;
        if read.as_deref() == Some(value) {
            Ok(())
        } else {
            Err(ProbeError::new(
                ProbeFailure::WrongAnswer,
                "read back a different value",
            ))
        }
    }

    async fn sleep(&self, duration: Duration) {
        spin_sdk::time::sleep(duration).await;
    }
}

/// Writes `key` (with an expiry) in the shared Redis, reads it back and deletes it.
async fn shared_store(key: &str) -> Result<(), ProbeError> {
    let fail = |step: &str, e: &dyn std::fmt::Debug| {
        ProbeError::new(
            ProbeFailure::Unreachable,
            format!("{step}: {}", summarise_error(&format!("{e:?}"))),
        )
    };
    let url = spin_sdk::variables::get(REDIS_URL_VARIABLE)
        .await
        .map_err(|e| {
            ProbeError::new(
                ProbeFailure::NotConfigured,
                format!("variable {REDIS_URL_VARIABLE}: {e}"),
            )
        })?;
    let redis = spin_sdk::redis::Connection::open(&url)
        .await
        .map_err(|e| fail("open", &e))?;
    let value = key.as_bytes();
    redis
        .execute(
            "SET",
            [
                RedisParameter::Binary(value.to_vec()),
                RedisParameter::Binary(value.to_vec()),
                RedisParameter::Binary(b"PX".to_vec()),
                RedisParameter::Int64(SHARED_PROBE_TTL_MILLIS),
            ],
        )
        .await
        .map_err(|e| fail("set", &e))?;
    let read = redis.get(key).await.map_err(|e| fail("get", &e))?;
    redis.del([key]).await.map_err(|e| fail("delete", &e))?;
    if read.as_deref() == Some(value) {
        Ok(())
    } else {
        Err(ProbeError::new(
            ProbeFailure::WrongAnswer,
            "read back a different value",
        ))
    }
}
