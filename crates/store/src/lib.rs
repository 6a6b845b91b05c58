//! # store — the only crate that speaks SQL
//!
//! Repositories reach MariaDB through [`Guarded`], which puts every call behind the
//! resilience rules of docs/standards.md §12:
//!
//! 1. **Circuit breaker** ([`Breaker`]): state in the shared key-value store, so every
//!    instance and host sees one breaker; open → [`StoreError::Unavailable`] at once,
//!    without touching the database; half-open lets one probe through.
//! 2. **Retries** ([`retry()`]): at most 3 attempts, exponential backoff with full jitter
//!    (20 ms base, 200 ms cap), only for [`StoreError::Transient`] and only when the
//!    caller says the work is [`Idempotency::Safe`].
//! 3. **Statement timeout** ([`Timed`], [`StatementTimeout`]): every data statement runs
//!    as `SET STATEMENT max_statement_time=<secs> FOR …` (2 s unless the repository says
//!    otherwise).
//! 4. **Error classification** ([`classify()`]): MariaDB's codes, parsed out of the text
//!    Spin hands over, become [`StoreError`] variants (1062 → [`StoreError::Conflict`]
//!    naming the key, 1451/1452 → [`StoreError::ForeignKey`], 4025 →
//!    [`StoreError::Check`], 1205/1213/lost connection → [`StoreError::Transient`], 1969 →
//!    [`StoreError::Timeout`]); host texts survive only redacted ([`Detail`]).
//! 5. **Typed rows** ([`Row::get`]): decoding by column index into Rust types, with a
//!    [`StoreError::Decode`] instead of a panic; `BINARY(16)` ↔ [`uuid::Uuid`].
//!
//! All I/O sits behind small traits — [`Database`] / [`Transactional`],
//! [`BreakerStore`], [`Clock`], [`Sleeper`], [`Random`] — so everything above is unit-tested
//! natively with the fakes in `testing` (feature `testing`). The Spin implementations
//! (feature `spin`, on by default) are `SpinMysql` (connections reused per component
//! instance, reopened when broken), `SpinShared` (the shared Redis through Spin's outbound
//! Redis, every write with an expiry) and `SpinRuntime`.
//!
//! ```ignore
//! // In a component (wasm32-wasip2):
//! use store::spin::{SpinMysql, SpinRuntime, SpinShared};
//! use store::{Breaker, BreakerConfig, Guarded, Idempotency, Value};
//!
//! let db = Guarded::new(
//!     SpinMysql::from_variable("db_url"),
//!     Breaker::new(SpinShared::new(), BreakerConfig::new("breaker:mariadb")),
//!     SpinRuntime::default(),
//! );
//! let row = db
//!     .query_opt("SELECT sku, stock FROM products WHERE id = ? LIMIT 1", &[Value::from(id)])
//!     .await?;
//! ```
//!
//! What Spin's MySQL interface can carry, and what to `CAST`, is in [`value`] and [`sql`].
#![forbid(unsafe_code)]

pub mod breaker;
pub mod classify;
pub mod database;
pub mod error;
pub mod guarded;
pub mod retry;
pub mod row;
pub mod sql;
pub mod timeout;
pub mod value;

#[cfg(any(feature = "spin", test))]
mod pool;
#[cfg(feature = "spin")]
pub mod spin;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use breaker::{Breaker, BreakerConfig, BreakerStore, Clock, KvError, Permit};
pub use classify::{Classified, HostError, ServerError, classify, parse_server_error};
pub use database::{Database, Timed, Transaction, Transactional};
pub use error::{Detail, ForeignKeyKind, StoreError};
pub use guarded::Guarded;
pub use retry::{Idempotency, Random, RetryPolicy, Sleeper, retry};
pub use row::{FromValue, Row};
pub use timeout::{DEFAULT_STATEMENT_TIMEOUT, StatementTimeout, StatementTimeoutError};
pub use value::{Value, uuid_from_bytes, uuid_to_bytes};
