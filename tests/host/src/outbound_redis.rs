//! `spin:redis/redis@3.0.0` (Spin's outbound Redis, the interface spin-sdk 7's
//! `spin_sdk::redis` imports) on the `redis` crate, as Spin implements it.
//!
//! Spin: `crates/factor-outbound-redis/src/host.rs` (the v3 `HostConnectionWithStore` impl
//! and its `operations` module), `src/allowed_hosts.rs` (`check_url(address, "redis")`),
//! `src/lib.rs` (an app-wide connection semaphore) and `src/runtime_config/spin.rs`
//! (`[outbound_redis] max_connections`, unknown fields refused). What is copied:
//!
//! * **`open`**: an address not in `allowed_outbound_hosts` is `invalid-address` (checked
//!   with the `redis` scheme's default port 6379; an address that does not parse as a URL
//!   is retried with `redis://` in front, as `OutboundAllowedHosts::check_url` does); a URL
//!   the `redis` crate refuses is `invalid-address`; a failed connect is `other(<the redis
//!   crate's error text>)`. Every `open` makes a **new** multiplexed connection: Spin keeps
//!   no cache per address (a guest that wants reuse keeps its `connection` resource).
//! * **Connection limit**: `[outbound_redis] max_connections`, when set, caps the app's open
//!   connections (waiting for a free permit); unset means no cap, as in Spin. A connection
//!   holds its permit until the guest drops the resource.
//! * **Operations**: `get`/`set`/`incr` (`INCRBY key 1`)/`del`/`sadd`/`smembers`/`srem`/
//!   `publish` through the `redis` crate's typed commands; errors are `other(text)`, except
//!   that `sadd` maps the `redis` crate's `TypeError` kind (a reply it cannot convert) to
//!   `type-error` — the server's `WRONGTYPE` is a server error, so `other`, as in Spin. `get` and `execute` refuse results
//!   over 128 MiB (Spin: `MAX_HOST_BUFFERED_BYTES`).
//! * **`execute`**: `redis::cmd(command)` with `int64` and `binary` arguments; the reply is
//!   flattened into `redis-result`s (nil, `status` for simple strings and `OK`, `int64` for
//!   integers and booleans, `binary` for bulk strings, doubles and big numbers, arrays and
//!   sets flattened in order); maps, attributes, verbatim strings and push data fail as
//!   `other(…)`, and a server error is `other(…)`.

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, FromRedisValue, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Accessor, HasData, Resource, ResourceTable};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::spin::redis::redis as v3;

/// Largest reply buffered for a guest (Spin: `spin_world::MAX_HOST_BUFFERED_BYTES`).
pub const MAX_HOST_BUFFERED_BYTES: usize = 128 << 20;

/// A guest's open connection (Spin: the `(MultiplexedConnection, ConnectionPermit)` pair in
/// its resource table).
pub struct RedisConnection {
    conn: MultiplexedConnection,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Per-instance outbound Redis state.
pub struct RedisState {
    /// Where the component may connect.
    pub allowed: Arc<AllowedHosts>,
    /// The app-wide `[outbound_redis] max_connections` semaphore (`None`: no cap).
    pub permits: Option<Arc<Semaphore>>,
    /// Connections by resource.
    pub table: ResourceTable,
}

/// `HasData` marker.
pub struct RedisData;

impl HasData for RedisData {
    type Data<'a> = &'a mut RedisState;
}

/// Spin's `check_url(address, "redis")`: parse as a URL, else retry with `redis://` in front.
pub fn is_address_allowed(allowed: &AllowedHosts, address: &str) -> bool {
    if url::Url::parse(address).is_ok_and(|u| u.host_str().is_some()) {
        allowed.allows_url(address)
    } else {
        allowed.allows_url(&format!("redis://{address}"))
    }
}

fn other(e: impl std::fmt::Display) -> v3::Error {
    v3::Error::Other(e.to_string())
}

impl v3::Host for RedisState {
    fn convert_error(&mut self, err: v3::Error) -> wasmtime::Result<v3::Error> {
        Ok(err)
    }
}

impl v3::HostConnection for RedisState {
    async fn drop(&mut self, rep: Resource<v3::Connection>) -> wasmtime::Result<()> {
        // Dropping the entry releases its permit.
        let _ = self
            .table
            .delete(Resource::<RedisConnection>::new_own(rep.rep()));
        Ok(())
    }
}

fn connection<T>(
    accessor: &Accessor<T, RedisData>,
    rep: u32,
) -> Result<MultiplexedConnection, v3::Error> {
    accessor.with(|mut a| {
        a.get()
            .table
            .get(&Resource::<RedisConnection>::new_borrow(rep))
            .map(|c| c.conn.clone())
            .map_err(|_| v3::Error::Other("could not find connection for resource".into()))
    })
}

/// Opens a connection as Spin's `open` does, after the allow-list check.
pub async fn connect(address: &str) -> Result<MultiplexedConnection, v3::Error> {
    redis::Client::open(address)
        .map_err(|_| v3::Error::InvalidAddress)?
        .get_multiplexed_async_connection()
        .await
        .map_err(other)
}

impl<T: Send> v3::HostConnectionWithStore<T> for RedisData {
    async fn open(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> Result<Resource<v3::Connection>, v3::Error> {
        let (allowed, permits) = accessor.with(|mut a| {
            let s = a.get();
            (s.allowed.clone(), s.permits.clone())
        });
        if !is_address_allowed(&allowed, &address) {
            return Err(v3::Error::InvalidAddress);
        }
        let permit = match permits {
            Some(semaphore) => Some(
                semaphore
                    .acquire_owned()
                    .await
                    .map_err(|_| v3::Error::TooManyConnections)?,
            ),
            None => None,
        };
        let conn = connect(&address).await?;
        accessor.with(|mut a| {
            a.get()
                .table
                .push(RedisConnection {
                    conn,
                    _permit: permit,
                })
                .map(|r| Resource::new_own(r.rep()))
                .map_err(|_| v3::Error::TooManyConnections)
        })
    }

    async fn publish(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        channel: String,
        payload: v3::Payload,
    ) -> Result<(), v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::publish(&mut conn, channel, payload).await
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        key: String,
    ) -> Result<Option<v3::Payload>, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::get(&mut conn, key).await
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        key: String,
        value: v3::Payload,
    ) -> Result<(), v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::set(&mut conn, key, value).await
    }

    async fn incr(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        key: String,
    ) -> Result<i64, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::incr(&mut conn, key).await
    }

    async fn del(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        keys: Vec<String>,
    ) -> Result<u32, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::del(&mut conn, keys).await
    }

    async fn sadd(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::sadd(&mut conn, key, values).await
    }

    async fn smembers(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        key: String,
    ) -> Result<Vec<String>, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::smembers(&mut conn, key).await
    }

    async fn srem(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::srem(&mut conn, key, values).await
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        command: String,
        arguments: Vec<v3::RedisParameter>,
    ) -> Result<Vec<v3::RedisResult>, v3::Error> {
        let mut conn = connection(accessor, this.rep())?;
        operations::execute(&mut conn, command, arguments).await
    }
}

/// The commands, on a connection (Spin: `host.rs` `mod operations`). Public so the fidelity
/// tests can run them against a real Redis without a guest.
pub mod operations {
    use super::*;

    /// `PUBLISH channel payload`.
    pub async fn publish(
        conn: &mut MultiplexedConnection,
        channel: String,
        payload: v3::Payload,
    ) -> Result<(), v3::Error> {
        let () = conn.publish(&channel, &payload).await.map_err(other)?;
        Ok(())
    }

    /// `GET key`, refused when the value is larger than [`MAX_HOST_BUFFERED_BYTES`].
    pub async fn get(
        conn: &mut MultiplexedConnection,
        key: String,
    ) -> Result<Option<Vec<u8>>, v3::Error> {
        let value = conn.get::<_, Option<Vec<u8>>>(&key).await.map_err(other)?;
        if std::mem::size_of::<Option<Vec<u8>>>() + value.as_ref().map_or(0, Vec::len)
            > MAX_HOST_BUFFERED_BYTES
        {
            Err(v3::Error::Other(format!(
                "query result exceeds limit of {MAX_HOST_BUFFERED_BYTES} bytes"
            )))
        } else {
            Ok(value)
        }
    }

    /// `SET key value` (no expiry: that takes `execute`).
    pub async fn set(
        conn: &mut MultiplexedConnection,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), v3::Error> {
        let () = conn.set(&key, &value).await.map_err(other)?;
        Ok(())
    }

    /// `INCRBY key 1`.
    pub async fn incr(conn: &mut MultiplexedConnection, key: String) -> Result<i64, v3::Error> {
        conn.incr(&key, 1).await.map_err(other)
    }

    /// `DEL key…`: how many existed.
    pub async fn del(
        conn: &mut MultiplexedConnection,
        keys: Vec<String>,
    ) -> Result<u32, v3::Error> {
        conn.del(&keys).await.map_err(other)
    }

    /// `SADD key value…`; the `redis` crate's `TypeError` kind is `type-error`.
    pub async fn sadd(
        conn: &mut MultiplexedConnection,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, v3::Error> {
        conn.sadd(&key, &values).await.map_err(|e| {
            if e.kind() == redis::ErrorKind::TypeError {
                v3::Error::TypeError
            } else {
                v3::Error::Other(e.to_string())
            }
        })
    }

    /// `SMEMBERS key`.
    pub async fn smembers(
        conn: &mut MultiplexedConnection,
        key: String,
    ) -> Result<Vec<String>, v3::Error> {
        conn.smembers(&key).await.map_err(other)
    }

    /// `SREM key value…`.
    pub async fn srem(
        conn: &mut MultiplexedConnection,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, v3::Error> {
        conn.srem(&key, &values).await.map_err(other)
    }

    /// Any command, its reply flattened (see the module docs).
    pub async fn execute(
        conn: &mut MultiplexedConnection,
        command: String,
        arguments: Vec<v3::RedisParameter>,
    ) -> Result<Vec<v3::RedisResult>, v3::Error> {
        let mut cmd = redis::cmd(&command);
        for argument in arguments {
            match argument {
                v3::RedisParameter::Int64(v) => {
                    cmd.arg(v);
                }
                v3::RedisParameter::Binary(v) => {
                    cmd.arg(v);
                }
            }
        }
        let results = cmd.query_async::<RedisResults>(conn).await.map_err(other)?;
        if std::mem::size_of::<Vec<v3::RedisResult>>()
            + results.0.iter().map(memory_size).sum::<usize>()
            > MAX_HOST_BUFFERED_BYTES
        {
            Err(v3::Error::Other(format!(
                "query result exceeds limit of {MAX_HOST_BUFFERED_BYTES} bytes"
            )))
        } else {
            Ok(results.0)
        }
    }
}

/// A reply flattened into `redis-result`s (Spin: `host.rs` `RedisResults`).
struct RedisResults(Vec<v3::RedisResult>);

fn unsupported(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "Could not convert Redis response",
        what.to_string(),
    ))
}

impl FromRedisValue for RedisResults {
    fn from_redis_value(value: &Value) -> redis::RedisResult<Self> {
        fn append(values: &mut Vec<v3::RedisResult>, value: &Value) -> redis::RedisResult<()> {
            match value {
                Value::Nil => values.push(v3::RedisResult::Nil),
                Value::Int(v) => values.push(v3::RedisResult::Int64(*v)),
                Value::BulkString(bytes) => values.push(v3::RedisResult::Binary(bytes.clone())),
                Value::SimpleString(s) => values.push(v3::RedisResult::Status(s.clone())),
                Value::Okay => values.push(v3::RedisResult::Status("OK".to_string())),
                Value::Map(_) => return Err(unsupported("Redis Map type is not supported")),
                Value::Attribute { .. } => {
                    return Err(unsupported("Redis Attribute type is not supported"));
                }
                Value::Array(arr) | Value::Set(arr) => {
                    return arr.iter().try_for_each(|value| append(values, value));
                }
                Value::Double(v) => {
                    values.push(v3::RedisResult::Binary(v.to_string().into_bytes()));
                }
                Value::VerbatimString { .. } => {
                    return Err(unsupported(
                        "Redis string with format attribute is not supported",
                    ));
                }
                Value::Boolean(v) => values.push(v3::RedisResult::Int64(i64::from(*v))),
                Value::BigNumber(v) => {
                    values.push(v3::RedisResult::Binary(v.to_string().into_bytes()));
                }
                Value::Push { .. } => {
                    return Err(unsupported("Redis Pub/Sub types are not supported"));
                }
                Value::ServerError(err) => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::ResponseError,
                        "Server error",
                        format!("{err:?}"),
                    )));
                }
            }
            Ok(())
        }
        let mut values = Vec::new();
        append(&mut values, value)?;
        Ok(RedisResults(values))
    }
}

fn memory_size(value: &v3::RedisResult) -> usize {
    match value {
        v3::RedisResult::Nil | v3::RedisResult::Int64(_) => std::mem::size_of::<v3::RedisResult>(),
        v3::RedisResult::Binary(b) => std::mem::size_of::<v3::RedisResult>() + b.len(),
        v3::RedisResult::Status(s) => std::mem::size_of::<v3::RedisResult>() + s.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_with_the_redis_default_port_and_a_scheme_added_when_missing() {
        let allowed = AllowedHosts::parse(&["redis://127.0.0.1"]).unwrap();
        assert!(is_address_allowed(&allowed, "redis://127.0.0.1"));
        assert!(is_address_allowed(&allowed, "redis://127.0.0.1:6379/0"));
        assert!(is_address_allowed(&allowed, "127.0.0.1:6379"));
        assert!(!is_address_allowed(&allowed, "redis://127.0.0.1:6380"));
        assert!(!is_address_allowed(&allowed, "redis://10.0.0.1"));
        assert!(!is_address_allowed(&allowed, "rediss://127.0.0.1:6379"));
    }
}
