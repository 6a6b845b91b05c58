//! `spin:mysql/mysql@3.0.0` on MariaDB/MySQL through `mysql_async`.
//!
//! Spin: `crates/factor-outbound-mysql/src/host.rs` and `client.rs`. As there, every
//! `connection.open` builds a fresh `mysql_async::Pool` and takes a connection from it
//! (observed on real Spin: two server connections per `open`, `docs/spin-fidelity.md`); an address
//! not in `allowed_outbound_hosts` fails with `connection-failed("address <url> is not
//! permitted")`; columns map to `db-data-type` by MySQL column type, and values of other
//! column types (DECIMAL, DATETIME, …) fail with `value-conversion-failed` — guests must
//! `CAST` such columns.

use std::sync::Arc;

use anyhow::anyhow;
use futures::TryStreamExt;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Opts, OptsBuilder, SslOpts, from_value_opt};
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::spin::mysql::mysql as v3;

/// Largest result set buffered for a guest (Spin: `MAX_HOST_BUFFERED_BYTES`).
const MAX_RESULT_BYTES: usize = 128 << 20;

/// A guest's open connection.
pub struct MysqlConnection {
    conn: Arc<Mutex<mysql_async::Conn>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Per-instance MySQL state.
pub struct MysqlState {
    /// Where the component may connect.
    pub allowed: Arc<AllowedHosts>,
    /// `[outbound_mysql] max_connections` for this instance.
    pub permits: Arc<Semaphore>,
    /// Connections by resource.
    pub table: ResourceTable,
}

/// `HasData` marker.
pub struct MysqlData;

impl HasData for MysqlData {
    type Data<'a> = &'a mut MysqlState;
}

impl v3::Host for MysqlState {
    fn convert_error(&mut self, err: v3::Error) -> wasmtime::Result<v3::Error> {
        Ok(err)
    }
}

impl v3::HostConnection for MysqlState {
    async fn drop(&mut self, rep: Resource<v3::Connection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

fn build_opts(address: &str) -> Result<Opts, mysql_async::Error> {
    // As Spin's `build_opts`: mysql_async rejects `ssl-mode`, so strip it and set TLS by hand.
    let url = url::Url::parse(address).map_err(mysql_async::UrlError::from)?;
    let is_ssl = |k: &str| ["ssl-mode", "sslmode"].contains(&k.to_lowercase().as_str());
    let use_ssl = url
        .query_pairs()
        .any(|(k, v)| is_ssl(&k) && v.to_lowercase() != "disabled");
    let keep: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_ssl(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut cleaned = url.clone();
    cleaned.set_query(None);
    if !keep.is_empty() {
        cleaned.query_pairs_mut().extend_pairs(keep);
    }
    Ok(OptsBuilder::from_opts(Opts::from_url(cleaned.as_str())?)
        .ssl_opts(if use_ssl {
            Some(SslOpts::default())
        } else {
            None
        })
        .into())
}

async fn connect(address: &str) -> anyhow::Result<mysql_async::Conn> {
    let opts = build_opts(address)?;
    let pool = mysql_async::Pool::new(opts);
    pool.get_conn().await.map_err(|e| anyhow!(e))
}

fn connection(
    accessor_state: &mut MysqlState,
    rep: u32,
) -> Result<Arc<Mutex<mysql_async::Conn>>, v3::Error> {
    accessor_state
        .table
        .get(&Resource::<MysqlConnection>::new_borrow(rep))
        .map(|c| c.conn.clone())
        .map_err(|_| v3::Error::ConnectionFailed("no connection found".into()))
}

fn to_param(v: v3::ParameterValue) -> mysql_async::Value {
    use v3::ParameterValue as P;
    match v {
        P::Boolean(v) => v.into(),
        P::Int8(v) => v.into(),
        P::Int16(v) => v.into(),
        P::Int32(v) => v.into(),
        P::Int64(v) => v.into(),
        P::Uint8(v) => v.into(),
        P::Uint16(v) => v.into(),
        P::Uint32(v) => v.into(),
        P::Uint64(v) => v.into(),
        P::Floating32(v) => v.into(),
        P::Floating64(v) => v.into(),
        P::Str(v) => v.into(),
        P::Binary(v) => v.into(),
        P::DbNull => mysql_async::Value::NULL,
    }
}

fn data_type(c: &mysql_async::Column) -> v3::DbDataType {
    use v3::DbDataType as D;
    let t = c.column_type();
    let signed = !c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = c.flags().contains(ColumnFlags::BINARY_FLAG);
    if t.is_numeric_type() {
        match (t, signed) {
            (ColumnType::MYSQL_TYPE_DOUBLE, _) => D::Floating64,
            (ColumnType::MYSQL_TYPE_FLOAT, _) => D::Floating32,
            (ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG, true) => D::Int32,
            (ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG, false) => D::Uint32,
            (ColumnType::MYSQL_TYPE_LONGLONG, true) => D::Int64,
            (ColumnType::MYSQL_TYPE_LONGLONG, false) => D::Uint64,
            (ColumnType::MYSQL_TYPE_SHORT, true) => D::Int16,
            (ColumnType::MYSQL_TYPE_SHORT, false) => D::Uint16,
            (ColumnType::MYSQL_TYPE_TINY, true) => D::Int8,
            (ColumnType::MYSQL_TYPE_TINY, false) => D::Uint8,
            _ => D::Other,
        }
    } else if t.is_character_type() {
        match (t, binary) {
            (ColumnType::MYSQL_TYPE_BLOB, false) => D::Str,
            (ColumnType::MYSQL_TYPE_BLOB, true) => D::Binary,
            (ColumnType::MYSQL_TYPE_LONG_BLOB | ColumnType::MYSQL_TYPE_MEDIUM_BLOB, _) => D::Binary,
            (ColumnType::MYSQL_TYPE_STRING | ColumnType::MYSQL_TYPE_VAR_STRING, true) => D::Binary,
            (ColumnType::MYSQL_TYPE_STRING | ColumnType::MYSQL_TYPE_VAR_STRING, false) => D::Str,
            _ => D::Other,
        }
    } else {
        D::Other
    }
}

fn conv<T: FromValue>(v: mysql_async::Value) -> Result<T, v3::Error> {
    from_value_opt::<T>(v).map_err(|e| v3::Error::ValueConversionFailed(e.to_string()))
}

fn convert_value(v: mysql_async::Value, col: &v3::Column) -> Result<v3::DbValue, v3::Error> {
    use v3::{DbDataType as D, DbValue as V};
    if v == mysql_async::Value::NULL {
        return Ok(V::DbNull);
    }
    Ok(match col.data_type {
        D::Binary => V::Binary(conv(v)?),
        D::Boolean => V::Boolean(conv(v)?),
        D::Floating32 => V::Floating32(conv(v)?),
        D::Floating64 => V::Floating64(conv(v)?),
        D::Int8 => V::Int8(conv(v)?),
        D::Int16 => V::Int16(conv(v)?),
        D::Int32 => V::Int32(conv(v)?),
        D::Int64 => V::Int64(conv(v)?),
        D::Str => V::Str(conv(v)?),
        D::Uint8 => V::Uint8(conv(v)?),
        D::Uint16 => V::Uint16(conv(v)?),
        D::Uint32 => V::Uint32(conv(v)?),
        D::Uint64 => V::Uint64(conv(v)?),
        D::Other => {
            return Err(v3::Error::ValueConversionFailed(format!(
                "Cannot convert value {v:?} in column {} data type {:?}",
                col.name, col.data_type
            )));
        }
    })
}

fn value_size(v: &v3::DbValue) -> usize {
    std::mem::size_of::<v3::DbValue>()
        + match v {
            v3::DbValue::Str(s) => s.len(),
            v3::DbValue::Binary(b) => b.len(),
            _ => 0,
        }
}

type QueryTuple = (
    Vec<v3::Column>,
    StreamReader<v3::Row>,
    FutureReader<Result<(), v3::Error>>,
);

impl<T: Send> v3::HostConnectionWithStore<T> for MysqlData {
    async fn open(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> Result<Resource<v3::Connection>, v3::Error> {
        let (allowed, permits) = accessor.with(|mut a| {
            let s = a.get();
            (s.allowed.clone(), s.permits.clone())
        });
        if !allowed.allows_url(&address) {
            return Err(v3::Error::ConnectionFailed(format!(
                "address {address} is not permitted"
            )));
        }
        let permit = permits
            .try_acquire_owned()
            .map_err(|_| v3::Error::ConnectionFailed("too many connections".into()))?;
        let conn = connect(&address)
            .await
            .map_err(|e| v3::Error::ConnectionFailed(format!("{e:?}")))?;
        accessor.with(|mut a| {
            a.get()
                .table
                .push(MysqlConnection {
                    conn: Arc::new(Mutex::new(conn)),
                    _permit: permit,
                })
                .map(|r| Resource::new_own(r.rep()))
                .map_err(|e| v3::Error::Other(e.to_string()))
        })
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> Result<(), v3::Error> {
        let conn = accessor.with(|mut a| connection(a.get(), this.rep()))?;
        let params = mysql_async::Params::Positional(params.into_iter().map(to_param).collect());
        conn.lock()
            .await
            .exec_drop(&statement, params)
            .await
            .map_err(|e| v3::Error::QueryFailed(format!("{e:?}")))
    }

    async fn query(
        accessor: &Accessor<T, Self>,
        this: Resource<v3::Connection>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> Result<QueryTuple, v3::Error> {
        let conn = accessor.with(|mut a| connection(a.get(), this.rep()))?;
        let params = mysql_async::Params::Positional(params.into_iter().map(to_param).collect());
        let (rows_tx, mut rows_rx) = mpsc::channel::<v3::Row>(16);
        let (done_tx, done_rx) = oneshot::channel::<Result<(), v3::Error>>();
        let (cols_tx, cols_rx) = oneshot::channel::<Result<Vec<v3::Column>, v3::Error>>();
        tokio::spawn(async move {
            let run = async {
                let mut guard = conn.lock().await;
                let mut result = match guard.exec_iter(&statement, params).await {
                    Ok(r) => r,
                    Err(e) => {
                        let err = v3::Error::QueryFailed(format!("{e:?}"));
                        let _ = cols_tx.send(Err(err.clone()));
                        return Err(err);
                    }
                };
                let columns: Vec<v3::Column> = result
                    .columns()
                    .map(|cols| {
                        cols.iter()
                            .map(|c| v3::Column {
                                name: c.name_str().into_owned(),
                                data_type: data_type(c),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = cols_tx.send(Ok(columns.clone()));
                let mut bytes = 0usize;
                let Some(mut stream) = result
                    .stream::<mysql_async::Row>()
                    .await
                    .map_err(|e| v3::Error::Other(e.to_string()))?
                else {
                    return Ok(());
                };
                while let Some(mut row) = stream
                    .try_next()
                    .await
                    .map_err(|e| v3::Error::Other(e.to_string()))?
                {
                    let mut out = Vec::with_capacity(columns.len());
                    for (i, col) in columns.iter().enumerate() {
                        let v = row
                            .take::<mysql_async::Value, _>(i)
                            .unwrap_or(mysql_async::Value::NULL);
                        let v = convert_value(v, col)?;
                        bytes += value_size(&v);
                        out.push(v);
                    }
                    if bytes > MAX_RESULT_BYTES {
                        return Err(v3::Error::Other(format!(
                            "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                        )));
                    }
                    if rows_tx.send(out).await.is_err() {
                        break;
                    }
                }
                Ok(())
            };
            let _ = done_tx.send(run.await);
        });
        let columns = cols_rx
            .await
            .map_err(|e| v3::Error::Other(format!("async error: {e}")))??;
        let rows = futures::stream::poll_fn(move |cx| rows_rx.poll_recv(cx));
        accessor
            .with(|mut a| {
                wasmtime::Result::Ok((
                    StreamReader::new(&mut a, crate::streams::StreamOf::new(rows))?,
                    FutureReader::new(&mut a, async move {
                        Ok::<_, wasmtime::Error>(
                            done_rx
                                .await
                                .unwrap_or(Err(v3::Error::Other("query task ended".into()))),
                        )
                    })?,
                ))
            })
            .map(|(s, f)| (columns, s, f))
            .map_err(|e: wasmtime::Error| v3::Error::Other(e.to_string()))
    }
}
