//! What one component instance's `Store` holds.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::key_value::KvState;
use crate::mysql::MysqlState;
use crate::outbound_http::OutboundHttp;
use crate::outbound_redis::RedisState;
use crate::variables::VariablesState;

/// Store data for one instance.
pub struct HostState {
    /// Component id as logs name it (`<route component>` or `<id>-for-<trigger>`).
    pub component_id: Arc<str>,
    /// WASI (p2 and p3) context.
    pub wasi: WasiCtx,
    /// WASI HTTP context.
    pub http: WasiHttpCtx,
    /// Outbound HTTP policy (allow-list, service chaining).
    pub outbound: OutboundHttp,
    /// Resources of WASI and WASI HTTP.
    pub table: ResourceTable,
    /// Key-value stores.
    pub kv: KvState,
    /// MySQL connections.
    pub mysql: MysqlState,
    /// Outbound Redis connections.
    pub redis: RedisState,
    /// Variables.
    pub variables: VariablesState,
    /// Memory limits.
    pub limits: StoreLimits,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl HostState {
    /// Resource limiter accessor for `Store::limiter`.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

/// The WASI HTTP view used by the request handler.
pub fn http_view(state: &mut HostState) -> WasiHttpCtxView<'_> {
    state.http()
}
