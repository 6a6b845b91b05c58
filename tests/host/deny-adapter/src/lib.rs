//! Denies every call to the capability interfaces it exports, with Spin's error values
//! (`docs/spin-fidelity.md`: key-value `AccessDenied`, variables `Undefined(name)`,
//! MySQL and Redis `Other("\"spin:mysql/mysql\" is not permitted")`, Spin's
//! `crates/capabilities/deny-adapter/src/lib.rs`). No resource can be created, so
//! the per-resource methods are never reached; they still answer with a denial.
// No `forbid(unsafe_code)` here: wit-bindgen's generated export glue is `unsafe` FFI by nature;
// this crate contains no hand-written unsafe code.

#[allow(unsafe_code, reason = "wit-bindgen's generated canonical-ABI glue; no hand-written unsafe code here")]
mod bindings {
wit_bindgen::generate!({
    path: "../wit",
    inline: r#"
    package orderly:deny;

    world adapter {
        export spin:key-value/key-value@3.0.0;
        export spin:mysql/mysql@3.0.0;
        export spin:redis/redis@3.0.0;
        export spin:variables/variables@3.0.0;
        export wasi:config/store@0.2.0-draft-2024-09-27;
    }
    "#,
    generate_all,
    pub_export_macro: true,
    default_bindings_module: "crate::bindings",
});
}
use bindings::{exports, wit_future, wit_stream};

use exports::spin::key_value::key_value as kv;
use exports::spin::mysql::mysql;
use exports::spin::redis::redis;
use exports::spin::variables::variables;
use exports::wasi::config::store as config;

fn denied(interface: &str) -> String {
    format!("{interface:?} is not permitted")
}

struct Adapter;
bindings::export!(Adapter);

/// Never constructed: `open` always fails.
pub struct NoStore;
/// Never constructed: `open` always fails.
pub struct NoConnection;

impl kv::Guest for Adapter {
    type Store = NoStore;
}

impl kv::GuestStore for NoStore {
    async fn open(_label: String) -> Result<kv::Store, kv::Error> {
        Err(kv::Error::AccessDenied)
    }
    async fn get(&self, _key: String) -> Result<Option<Vec<u8>>, kv::Error> {
        Err(kv::Error::AccessDenied)
    }
    async fn set(&self, _key: String, _value: Vec<u8>) -> Result<(), kv::Error> {
        Err(kv::Error::AccessDenied)
    }
    async fn delete(&self, _key: String) -> Result<(), kv::Error> {
        Err(kv::Error::AccessDenied)
    }
    async fn exists(&self, _key: String) -> Result<bool, kv::Error> {
        Err(kv::Error::AccessDenied)
    }
    async fn get_keys(&self) -> (wit_bindgen::StreamReader<String>, wit_bindgen::FutureReader<Result<(), kv::Error>>) {
        let (_tx, rx) = wit_stream::new::<String>();
        let (_ftx, frx) = wit_future::new::<Result<(), kv::Error>>(|| Err(kv::Error::AccessDenied));
        (rx, frx)
    }
}

impl mysql::Guest for Adapter {
    type Connection = NoConnection;
}

impl mysql::GuestConnection for NoConnection {
    async fn open(_address: String) -> Result<mysql::Connection, mysql::Error> {
        Err(mysql::Error::Other(denied("spin:mysql/mysql")))
    }
    async fn query(
        &self,
        _statement: String,
        _params: Vec<mysql::ParameterValue>,
    ) -> Result<(Vec<mysql::Column>, wit_bindgen::StreamReader<mysql::Row>, wit_bindgen::FutureReader<Result<(), mysql::Error>>), mysql::Error> {
        Err(mysql::Error::Other(denied("spin:mysql/mysql")))
    }
    async fn execute(&self, _statement: String, _params: Vec<mysql::ParameterValue>) -> Result<(), mysql::Error> {
        Err(mysql::Error::Other(denied("spin:mysql/mysql")))
    }
}

impl redis::Guest for Adapter {
    type Connection = NoConnection;
}

impl redis::GuestConnection for NoConnection {
    async fn open(_address: String) -> Result<redis::Connection, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn publish(&self, _channel: String, _payload: Vec<u8>) -> Result<(), redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn get(&self, _key: String) -> Result<Option<Vec<u8>>, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn set(&self, _key: String, _value: Vec<u8>) -> Result<(), redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn incr(&self, _key: String) -> Result<i64, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn del(&self, _keys: Vec<String>) -> Result<u32, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn sadd(&self, _key: String, _values: Vec<String>) -> Result<u32, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn smembers(&self, _key: String) -> Result<Vec<String>, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn srem(&self, _key: String, _values: Vec<String>) -> Result<u32, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
    async fn execute(
        &self,
        _command: String,
        _arguments: Vec<redis::RedisParameter>,
    ) -> Result<Vec<redis::RedisResult>, redis::Error> {
        Err(redis::Error::Other(denied("spin:redis/redis")))
    }
}

impl variables::Guest for Adapter {
    async fn get(name: String) -> Result<String, variables::Error> {
        Err(variables::Error::Undefined(name))
    }
}

impl config::Guest for Adapter {
    fn get(_key: String) -> Result<Option<String>, config::Error> {
        Err(config::Error::Upstream(denied("wasi:config/store")))
    }
    fn get_all() -> Result<Vec<(String, String)>, config::Error> {
        Err(config::Error::Upstream(denied("wasi:config/store")))
    }
}
