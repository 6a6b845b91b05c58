//! Key-value stores: `spin:key-value/key-value@3.0.0` and `wasi:keyvalue` (store, atomics,
//! batch; draft2 as spin-sdk 7 imports it).
//!
//! Spin: `crates/factor-key-value/src/host.rs` (label checks: a label not in the component's
//! `key_value_stores` → `access-denied`; not configured → `no-such-store`),
//! `crates/key-value-spin/src/store.rs` (SQLite table `spin_key_value`, counters as
//! little-endian i64) and `crates/key-value-redis/src/store.rs` (`INCRBY`, values verbatim).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures::StreamExt;
use redis::AsyncCommands;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

use crate::bindings::spin::key_value::key_value as spin_kv;
use crate::bindings::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use crate::runtime_config::KvStoreConfig;

/// Largest value or key listing handed to a guest (Spin: `MAX_HOST_BUFFERED_BYTES`).
const MAX_RESULT_BYTES: usize = 128 << 20;

/// A backend store.
#[derive(Clone)]
pub enum Backend {
    /// SQLite file (`type = "spin"`).
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    /// Redis (`type = "redis"`).
    Redis(redis::aio::ConnectionManager),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite(_) => f.write_str("Backend::Sqlite"),
            Backend::Redis(_) => f.write_str("Backend::Redis"),
        }
    }
}

/// A store as a guest holds it (`store` / `bucket` resources).
#[derive(Debug, Clone)]
pub struct SpinStore {
    label: String,
    backend: Backend,
}

/// An open compare-and-swap (`wasi:keyvalue/atomics.cas`).
#[derive(Debug)]
pub struct CasHandle {
    store: SpinStore,
    key: String,
    current: Option<Vec<u8>>,
}

/// All configured stores of the application.
#[derive(Debug, Default)]
pub struct KvStores {
    stores: BTreeMap<String, Backend>,
}

type KvResult<T> = std::result::Result<T, String>;

impl KvStores {
    /// Opens every configured store. `state_dir` holds the default SQLite file.
    pub async fn open(
        config: &BTreeMap<String, KvStoreConfig>,
        state_dir: &std::path::Path,
    ) -> Result<Self> {
        let mut stores = BTreeMap::new();
        for (label, cfg) in config {
            let backend = match cfg {
                KvStoreConfig::Spin { path } => {
                    let path: PathBuf = path
                        .clone()
                        .unwrap_or_else(|| state_dir.join("sqlite_key_value.db"));
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("creating {}", dir.display()))?;
                    }
                    let conn = rusqlite::Connection::open(&path)
                        .with_context(|| format!("opening key-value store {}", path.display()))?;
                    conn.busy_timeout(std::time::Duration::from_secs(5))?;
                    conn.pragma_update(None, "journal_mode", "WAL")?;
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS spin_key_value (
                            store TEXT NOT NULL,
                            key   TEXT NOT NULL,
                            value BLOB NOT NULL,
                            PRIMARY KEY (store, key))",
                        [],
                    )?;
                    Backend::Sqlite(Arc::new(Mutex::new(conn)))
                }
                KvStoreConfig::Redis { url } => {
                    let client = redis::Client::open(url.as_str())
                        .with_context(|| format!("key-value store {label:?}: invalid redis url"))?;
                    let manager = redis::aio::ConnectionManager::new(client)
                        .await
                        .with_context(|| {
                            format!("key-value store {label:?}: connecting to redis")
                        })?;
                    Backend::Redis(manager)
                }
            };
            stores.insert(label.clone(), backend);
        }
        Ok(Self { stores })
    }

    /// Whether a label is configured.
    pub fn has(&self, label: &str) -> bool {
        self.stores.contains_key(label)
    }
}

fn sqlite_read(
    c: &rusqlite::Connection,
    store: &str,
    key: &str,
) -> rusqlite::Result<Option<Vec<u8>>> {
    let mut st = c.prepare_cached("SELECT value FROM spin_key_value WHERE store=?1 AND key=?2")?;
    let mut rows = st.query(rusqlite::params![store, key])?;
    match rows.next()? {
        Some(row) => Ok(Some(row.get::<_, Vec<u8>>(0)?)),
        None => Ok(None),
    }
}

fn sqlite_write(
    c: &rusqlite::Connection,
    store: &str,
    key: &str,
    value: &[u8],
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT(store, key) DO UPDATE SET value=excluded.value",
    )?
    .execute(rusqlite::params![store, key, value])?;
    Ok(())
}

impl SpinStore {
    async fn sqlite<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<T> + Send + 'static,
    ) -> KvResult<T> {
        let Backend::Sqlite(conn) = &self.backend else {
            return Err("not a sqlite store".into());
        };
        let conn = conn.clone();
        let label = self.label.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .map_err(|_| "key-value store lock poisoned".to_string())?;
            f(&guard, &label).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    fn redis(&self) -> Option<redis::aio::ConnectionManager> {
        match &self.backend {
            Backend::Redis(m) => Some(m.clone()),
            Backend::Sqlite(_) => None,
        }
    }

    /// `get`.
    pub async fn get(&self, key: String) -> KvResult<Option<Vec<u8>>> {
        if let Some(mut r) = self.redis() {
            return r
                .get::<_, Option<Vec<u8>>>(key)
                .await
                .map_err(|e| e.to_string());
        }
        self.sqlite(move |c, store| {
            let mut st =
                c.prepare_cached("SELECT value FROM spin_key_value WHERE store=?1 AND key=?2")?;
            let mut rows = st.query(rusqlite::params![store, key])?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get::<_, Vec<u8>>(0)?)),
                None => Ok(None),
            }
        })
        .await
    }

    /// `set`.
    pub async fn set(&self, key: String, value: Vec<u8>) -> KvResult<()> {
        if let Some(mut r) = self.redis() {
            return r
                .set::<_, _, ()>(key, value)
                .await
                .map_err(|e| e.to_string());
        }
        self.sqlite(move |c, store| {
            sqlite_write(c, store, &key, &value)?;
            Ok(())
        })
        .await
    }

    /// `delete`.
    pub async fn delete(&self, key: String) -> KvResult<()> {
        if let Some(mut r) = self.redis() {
            return r.del::<_, ()>(key).await.map_err(|e| e.to_string());
        }
        self.sqlite(move |c, store| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store=?1 AND key=?2")?
                .execute(rusqlite::params![store, key])?;
            Ok(())
        })
        .await
    }

    /// `exists`.
    pub async fn exists(&self, key: String) -> KvResult<bool> {
        if let Some(mut r) = self.redis() {
            return r.exists::<_, bool>(key).await.map_err(|e| e.to_string());
        }
        self.sqlite(move |c, store| {
            let mut st =
                c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store=?1 AND key=?2")?;
            st.exists(rusqlite::params![store, key])
        })
        .await
    }

    /// All keys.
    pub async fn keys(&self) -> KvResult<Vec<String>> {
        if let Some(mut r) = self.redis() {
            let mut keys = Vec::new();
            let mut bytes = 0usize;
            let mut iter = r.scan::<String>().await.map_err(|e| e.to_string())?;
            while let Some(k) = iter.next().await {
                bytes += k.len();
                if bytes > MAX_RESULT_BYTES {
                    return Err(format!(
                        "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                    ));
                }
                keys.push(k);
            }
            return Ok(keys);
        }
        self.sqlite(|c, store| {
            let mut st = c.prepare_cached("SELECT key FROM spin_key_value WHERE store=?1")?;
            let rows = st.query_map(rusqlite::params![store], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
        .await
    }

    /// Atomic add; a missing key counts as 0.
    pub async fn increment(&self, key: String, delta: i64) -> KvResult<i64> {
        if let Some(mut r) = self.redis() {
            return r
                .incr::<_, _, i64>(key, delta)
                .await
                .map_err(|e| e.to_string());
        }
        self.sqlite(move |c, store| {
            let tx = c.unchecked_transaction()?;
            let current = sqlite_read(&tx, store, &key)?;
            let current = match current {
                None => 0,
                Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                    Ok(b) => i64::from_le_bytes(b),
                    Err(_) => {
                        return Err(rusqlite::Error::InvalidColumnType(
                            0,
                            "value is not a counter".into(),
                            rusqlite::types::Type::Blob,
                        ));
                    }
                },
            };
            let next = current.wrapping_add(delta);
            sqlite_write(&tx, store, &key, &next.to_le_bytes())?;
            tx.commit()?;
            Ok(next)
        })
        .await
    }

    /// Sets `key` to `value` only if it still holds `expected`. Returns whether it did.
    pub async fn compare_and_swap(
        &self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> KvResult<bool> {
        if let Some(mut r) = self.redis() {
            // One round trip, atomic on the server: the optimistic CAS Spin builds from
            // WATCH/MULTI, without pinning a connection.
            let script = redis::Script::new(
                r"local cur = redis.call('GET', KEYS[1])
                  if ARGV[1] == '0' then
                    if cur then return 0 end
                  elseif cur ~= ARGV[2] then return 0 end
                  redis.call('SET', KEYS[1], ARGV[3])
                  return 1",
            );
            let (has, exp) = match expected {
                Some(e) => ("1", e),
                None => ("0", Vec::new()),
            };
            let done: i64 = script
                .key(key)
                .arg(has)
                .arg(exp)
                .arg(value)
                .invoke_async(&mut r)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(done == 1);
        }
        self.sqlite(move |c, store| {
            let tx = c.unchecked_transaction()?;
            let current = sqlite_read(&tx, store, &key)?;
            if current != expected {
                return Ok(false);
            }
            sqlite_write(&tx, store, &key, &value)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

/// Per-instance key-value state: what this component may open.
pub struct KvState {
    /// Configured stores.
    pub stores: Arc<KvStores>,
    /// Labels granted to this component (`key_value_stores`).
    pub allowed: Arc<HashSet<String>>,
    /// The instance's resource table (shared with WASI; see `state.rs`).
    pub table: ResourceTable,
}

impl KvState {
    fn open(&self, label: &str) -> std::result::Result<SpinStore, spin_kv::Error> {
        if !self.allowed.contains(label) {
            return Err(spin_kv::Error::AccessDenied);
        }
        match self.stores.stores.get(label) {
            Some(backend) => Ok(SpinStore {
                label: label.to_string(),
                backend: backend.clone(),
            }),
            None => Err(spin_kv::Error::NoSuchStore),
        }
    }

    fn store(&self, rep: u32) -> std::result::Result<SpinStore, String> {
        self.table
            .get(&Resource::<SpinStore>::new_borrow(rep))
            .cloned()
            .map_err(|e| e.to_string())
    }
}

/// `HasData` marker for the key-value interfaces.
pub struct KvData;

impl HasData for KvData {
    type Data<'a> = &'a mut KvState;
}

fn other(e: String) -> spin_kv::Error {
    spin_kv::Error::Other(e)
}

impl spin_kv::Host for KvState {
    fn convert_error(&mut self, err: spin_kv::Error) -> wasmtime::Result<spin_kv::Error> {
        Ok(err)
    }
}

impl spin_kv::HostStore for KvState {
    async fn drop(&mut self, store: Resource<spin_kv::Store>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl<T: Send> spin_kv::HostStoreWithStore<T> for KvData {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> Result<Resource<spin_kv::Store>, spin_kv::Error> {
        accessor.with(|mut access| {
            let state = access.get();
            let store = state.open(&label)?;
            state.table.push(store).map_err(|e| other(e.to_string()))
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        this: Resource<spin_kv::Store>,
        key: String,
    ) -> Result<Option<Vec<u8>>, spin_kv::Error> {
        let store = accessor
            .with(|mut a| a.get().store(this.rep()))
            .map_err(other)?;
        store.get(key).await.map_err(other)
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<spin_kv::Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), spin_kv::Error> {
        let store = accessor
            .with(|mut a| a.get().store(this.rep()))
            .map_err(other)?;
        store.set(key, value).await.map_err(other)
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        this: Resource<spin_kv::Store>,
        key: String,
    ) -> Result<(), spin_kv::Error> {
        let store = accessor
            .with(|mut a| a.get().store(this.rep()))
            .map_err(other)?;
        store.delete(key).await.map_err(other)
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        this: Resource<spin_kv::Store>,
        key: String,
    ) -> Result<bool, spin_kv::Error> {
        let store = accessor
            .with(|mut a| a.get().store(this.rep()))
            .map_err(other)?;
        store.exists(key).await.map_err(other)
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        this: Resource<spin_kv::Store>,
    ) -> wasmtime::Result<(
        StreamReader<String>,
        FutureReader<Result<(), spin_kv::Error>>,
    )> {
        let store = accessor.with(|mut a| a.get().store(this.rep()));
        let (keys, result) = match store {
            Ok(store) => match store.keys().await {
                Ok(keys) => (keys, Ok(())),
                Err(e) => (Vec::new(), Err(other(e))),
            },
            Err(e) => (Vec::new(), Err(other(e))),
        };
        accessor.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys)?;
            let future =
                FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((stream, future))
        })
    }
}

// ---- wasi:keyvalue (draft2) ----

fn wasi_err(e: spin_kv::Error) -> wasi_kv::Error {
    match e {
        spin_kv::Error::AccessDenied => wasi_kv::Error::AccessDenied,
        spin_kv::Error::NoSuchStore => wasi_kv::Error::NoSuchStore,
        spin_kv::Error::StoreTableFull => wasi_kv::Error::Other("store table full".into()),
        spin_kv::Error::Other(m) => wasi_kv::Error::Other(m),
    }
}

impl wasi_kv::Host for KvState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> Result<Resource<wasi_kv::Bucket>, wasi_kv::Error> {
        let store = KvState::open(self, &identifier).map_err(wasi_err)?;
        self.table
            .push(store)
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }

    fn convert_error(&mut self, err: wasi_kv::Error) -> wasmtime::Result<wasi_kv::Error> {
        Ok(err)
    }
}

impl KvState {
    fn bucket(&self, b: &Resource<wasi_kv::Bucket>) -> Result<SpinStore, wasi_kv::Error> {
        self.table
            .get(b)
            .cloned()
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }
}

impl wasi_kv::HostBucket for KvState {
    async fn get(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        self.bucket(&this)?
            .get(key)
            .await
            .map_err(wasi_kv::Error::Other)
    }

    async fn set(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), wasi_kv::Error> {
        self.bucket(&this)?
            .set(key, value)
            .await
            .map_err(wasi_kv::Error::Other)
    }

    async fn delete(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<(), wasi_kv::Error> {
        self.bucket(&this)?
            .delete(key)
            .await
            .map_err(wasi_kv::Error::Other)
    }

    async fn exists(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<bool, wasi_kv::Error> {
        self.bucket(&this)?
            .exists(key)
            .await
            .map_err(wasi_kv::Error::Other)
    }

    async fn list_keys(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        cursor: Option<String>,
    ) -> Result<wasi_kv::KeyResponse, wasi_kv::Error> {
        if cursor.is_some() {
            return Err(wasi_kv::Error::Other(
                "list_keys: cursor not supported".into(),
            ));
        }
        let keys = self
            .bucket(&this)?
            .keys()
            .await
            .map_err(wasi_kv::Error::Other)?;
        Ok(wasi_kv::KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, this: Resource<wasi_kv::Bucket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl atomics::Host for KvState {
    async fn increment(
        &mut self,
        bucket: Resource<atomics::Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, wasi_kv::Error> {
        self.bucket(&bucket)?
            .increment(key, delta)
            .await
            .map_err(wasi_kv::Error::Other)
    }

    async fn swap(
        &mut self,
        cas: Resource<atomics::Cas>,
        value: Vec<u8>,
    ) -> Result<(), atomics::CasError> {
        let handle = self
            .table
            .delete(cas)
            .map_err(|e| atomics::CasError::StoreError(wasi_kv::Error::Other(e.to_string())))?;
        let CasHandle {
            store,
            key,
            current,
        } = handle;
        let ok = store
            .compare_and_swap(key.clone(), current, value)
            .await
            .map_err(|e| atomics::CasError::StoreError(wasi_kv::Error::Other(e)))?;
        if ok {
            Ok(())
        } else {
            let fresh = CasHandle {
                current: store.get(key.clone()).await.ok().flatten(),
                store,
                key,
            };
            let res = self
                .table
                .push(fresh)
                .map_err(|e| atomics::CasError::StoreError(wasi_kv::Error::Other(e.to_string())))?;
            Err(atomics::CasError::CasFailed(res))
        }
    }

    fn convert_cas_error(&mut self, err: atomics::CasError) -> wasmtime::Result<atomics::CasError> {
        Ok(err)
    }
}

impl atomics::HostCas for KvState {
    async fn new(
        &mut self,
        bucket: Resource<atomics::Bucket>,
        key: String,
    ) -> Result<Resource<atomics::Cas>, wasi_kv::Error> {
        let store = self.bucket(&bucket)?;
        let current = store
            .get(key.clone())
            .await
            .map_err(wasi_kv::Error::Other)?;
        self.table
            .push(CasHandle {
                store,
                key,
                current,
            })
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }

    async fn current(
        &mut self,
        this: Resource<atomics::Cas>,
    ) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        self.table
            .get(&this)
            .map(|c| c.current.clone())
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }

    async fn drop(&mut self, this: Resource<atomics::Cas>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl batch::Host for KvState {
    async fn get_many(
        &mut self,
        bucket: Resource<batch::Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error> {
        let store = self.bucket(&bucket)?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let v = store.get(k.clone()).await.map_err(wasi_kv::Error::Other)?;
            out.push((k, v));
        }
        Ok(out)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<batch::Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), wasi_kv::Error> {
        let store = self.bucket(&bucket)?;
        for (k, v) in key_values {
            store.set(k, v).await.map_err(wasi_kv::Error::Other)?;
        }
        Ok(())
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<batch::Bucket>,
        keys: Vec<String>,
    ) -> Result<(), wasi_kv::Error> {
        let store = self.bucket(&bucket)?;
        for k in keys {
            store.delete(k).await.map_err(wasi_kv::Error::Other)?;
        }
        Ok(())
    }
}
