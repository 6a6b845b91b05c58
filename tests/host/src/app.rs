//! Loading an application: manifest + runtime config → compiled components, one request
//! handler per HTTP trigger, the router.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use wasmtime::component::{Component, GuestTaskId, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreContextMut, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState,
    WorkerStatus,
};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx};

use crate::allowed_hosts::AllowedHosts;
use crate::compose;
use crate::key_value::{KvData, KvState, KvStores};
use crate::manifest::{AppManifest, HttpRoute, HttpTrigger};
use crate::mysql::{MysqlData, MysqlState};
use crate::outbound_http::{Chain, OutboundHttp};
use crate::outbound_redis::{RedisData, RedisState};
use crate::routing::Router;
use crate::runtime_config::RuntimeConfig;
use crate::state::{HostState, http_view};
use crate::stdio::GuestOutput;
use crate::variables::{Resolver, VariablesData, VariablesState};

/// Instance reuse policy. Spin: `crates/trigger-http/src/lib.rs` defaults for WASIp3
/// (`DEFAULT_WASIP3_MAX_INSTANCE_REUSE_COUNT` = 128, concurrent 16, idle 1 s).
#[derive(Debug, Clone, Copy)]
pub struct ReuseConfig {
    /// Requests one instance serves before it is dropped.
    pub max_instance_reuse_count: usize,
    /// Requests one instance serves at once.
    pub max_instance_concurrent_reuse_count: usize,
    /// How long an idle instance is kept.
    pub idle_instance_timeout: Duration,
    /// Per-request timeout (none by default, as in Spin).
    pub request_timeout: Option<Duration>,
}

impl Default for ReuseConfig {
    fn default() -> Self {
        Self {
            max_instance_reuse_count: 128,
            max_instance_concurrent_reuse_count: 16,
            idle_instance_timeout: Duration::from_secs(1),
            request_timeout: None,
        }
    }
}

/// How to load an app.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// `spin.toml`.
    pub manifest: PathBuf,
    /// `runtime-config.toml` (optional, as `spin up --runtime-config-file`).
    pub runtime_config: Option<PathBuf>,
    /// Where the default SQLite store and guest logs go (Spin: `.spin/` next to the manifest).
    pub state_dir: Option<PathBuf>,
    /// Process environment for the `env` variables provider.
    pub env: HashMap<String, String>,
    /// Instance reuse.
    pub reuse: ReuseConfig,
    /// Compiled-code cache directory (wasmtime's cache; not guest-visible).
    pub cache_dir: Option<PathBuf>,
}

/// The capabilities a composed route component runs with (the route component's).
struct Capabilities {
    component_id: Arc<str>,
    variables_id: Arc<str>,
    allowed: Arc<AllowedHosts>,
    kv_labels: Arc<HashSet<String>>,
    environment: Vec<(String, String)>,
}

/// Shared per-app state handed to every instance.
pub struct AppShared {
    engine: Engine,
    linker: Linker<HostState>,
    resolver: Arc<Resolver>,
    kv: Arc<KvStores>,
    mysql_max_connections: usize,
    redis_permits: Option<Arc<tokio::sync::Semaphore>>,
    output: Arc<GuestOutput>,
    reuse: ReuseConfig,
    chain: std::sync::OnceLock<Weak<dyn Chain>>,
}

/// One HTTP trigger's handler state (`wasmtime_wasi_http::handler::HandlerState`).
pub struct TriggerHandler {
    shared: Arc<AppShared>,
    pre: ProxyPre<HostState>,
    caps: Arc<Capabilities>,
}

/// A loaded application.
pub struct App {
    /// Route table.
    pub router: Router,
    /// trigger index → handler.
    pub handlers: Vec<ProxyHandler<TriggerHandler>>,
    /// component id → trigger index of a trigger serving it (for service chaining).
    pub by_component: HashMap<String, usize>,
    /// Name from the manifest.
    pub name: String,
}

/// A `Chain` implementation that forwards to the app once it exists.
struct AppChain(Weak<App>);

impl Chain for AppChain {
    fn dispatch(
        &self,
        component_id: String,
        request: http::Request<WasiBody>,
    ) -> crate::outbound_http::ChainFuture {
        let app = self.0.upgrade();
        Box::pin(async move {
            let app = app?;
            let index = *app.by_component.get(&component_id)?;
            let handler = app.handlers.get(index)?.clone();
            Some(
                handler
                    .handle((), request)
                    .await
                    .map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string()))),
            )
        })
    }
}

/// Builds the wasmtime engine as Spin configures it for serving: async, component model
/// async, pooling allocator.
pub fn engine(cache_dir: Option<&Path>) -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    config.concurrency_support(true);
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_component_instances(1_000)
        .total_memories(1_000)
        .total_tables(2_000)
        .max_memory_size(256 << 20)
        .total_core_instances(10_000)
        .max_core_instances_per_component(200)
        .max_memories_per_component(20)
        .max_tables_per_component(40);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    if let Some(dir) = cache_dir {
        std::fs::create_dir_all(dir)?;
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        config.cache(Some(wasmtime::Cache::new(cache)?));
    }
    Ok(Engine::new(&config)?)
}

fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    use crate::bindings::{spin, wasi};
    spin::key_value::key_value::add_to_linker::<_, KvData>(&mut linker, |s| &mut s.kv)?;
    spin::mysql::mysql::add_to_linker::<_, MysqlData>(&mut linker, |s| &mut s.mysql)?;
    spin::redis::redis::add_to_linker::<_, RedisData>(&mut linker, |s| &mut s.redis)?;
    spin::variables::variables::add_to_linker::<_, VariablesData>(&mut linker, |s| {
        &mut s.variables
    })?;
    wasi::config::store::add_to_linker::<_, VariablesData>(&mut linker, |s| &mut s.variables)?;
    wasi::keyvalue::store::add_to_linker::<_, KvData>(&mut linker, |s| &mut s.kv)?;
    wasi::keyvalue::atomics::add_to_linker::<_, KvData>(&mut linker, |s| &mut s.kv)?;
    wasi::keyvalue::batch::add_to_linker::<_, KvData>(&mut linker, |s| &mut s.kv)?;
    Ok(linker)
}

impl App {
    /// Loads and compiles the app. Fails as `spin up` fails before serving: invalid manifest
    /// or runtime config, a required variable without a value, an unknown key-value label,
    /// a malformed `allowed_outbound_hosts` entry, a component that does not load.
    pub async fn load(opts: &AppOptions) -> Result<Arc<App>> {
        let manifest = AppManifest::from_file(&opts.manifest)?;
        let manifest_dir = opts
            .manifest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let runtime_config = match &opts.runtime_config {
            Some(path) => RuntimeConfig::from_file(path)?,
            None => RuntimeConfig::defaults(),
        };
        let state_dir = opts
            .state_dir
            .clone()
            .unwrap_or_else(|| manifest_dir.join(".spin"));
        let resolver = Arc::new(Resolver::new(
            &manifest,
            &opts.env,
            &runtime_config.env_prefix,
        )?);
        let kv = Arc::new(KvStores::open(&runtime_config.key_value_stores, &state_dir).await?);

        // Per-component static checks, as Spin does them at start-up.
        let mut allowed_by_component = HashMap::new();
        for (id, component) in &manifest.components {
            for label in &component.key_value_stores {
                if !kv.has(label) {
                    bail!("unknown key_value_stores label {label:?} for component {id:?}");
                }
            }
            let expanded = component
                .allowed_outbound_hosts
                .iter()
                .map(|h| resolver.expand_app_template(h))
                .collect::<Result<Vec<_>>>()
                .with_context(|| format!("component {id:?}: allowed_outbound_hosts"))?;
            let allowed = AllowedHosts::parse(&expanded).with_context(|| {
                format!("component {id:?}: `allowed_outbound_hosts` is malformed")
            })?;
            allowed_by_component.insert(id.clone(), Arc::new(allowed));
        }

        let engine = engine(opts.cache_dir.as_deref())?;
        let linker = linker(&engine)?;
        let output = Arc::new(GuestOutput::new(Some(state_dir.join("logs")))?);
        let shared = Arc::new(AppShared {
            engine: engine.clone(),
            linker,
            resolver,
            kv,
            mysql_max_connections: runtime_config.mysql_max_connections.unwrap_or(10),
            redis_permits: runtime_config
                .redis_max_connections
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
            output,
            reuse: opts.reuse,
            chain: std::sync::OnceLock::new(),
        });

        let triggers = manifest.http_triggers()?;
        let mut compiled: HashMap<String, Component> = HashMap::new();
        let mut handlers = Vec::with_capacity(triggers.len());
        let mut routes = Vec::new();
        let mut by_component = HashMap::new();
        for (index, trigger) in triggers.iter().enumerate() {
            let HttpTrigger {
                id: trigger_id,
                route,
                component: component_id,
                middleware,
            } = trigger;
            let source = manifest.component_source(&manifest_dir, component_id)?;
            let component = if middleware.is_empty() {
                match compiled.get(component_id) {
                    Some(c) => c.clone(),
                    None => {
                        let bytes = std::fs::read(&source).with_context(|| {
                            format!(
                                "failed to read component {component_id:?} from {}",
                                source.display()
                            )
                        })?;
                        let c = Component::new(&engine, &bytes)
                            .map_err(anyhow::Error::from)
                            .with_context(|| {
                                format!("failed to compile component {component_id:?}")
                            })?;
                        compiled.insert(component_id.clone(), c.clone());
                        c
                    }
                }
            } else {
                let primary = std::fs::read(&source)
                    .with_context(|| format!("failed to read component {component_id:?}"))?;
                let mut layers = Vec::new();
                for mw in middleware {
                    let path = manifest.component_source(&manifest_dir, &mw.component)?;
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("failed to read middleware {:?}", mw.component))?;
                    layers.push((bytes, mw.inherit.clone()));
                }
                let composed = compose::compose_middleware(primary, &layers)
                    .with_context(|| format!("composing middleware for trigger {trigger_id:?}"))?;
                Component::new(&engine, &composed)
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!("failed to compile the middleware chain of {trigger_id:?}")
                    })?
            };
            let instance_pre = shared
                .linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!(
                        "component {component_id:?} imports something this host does not provide"
                    )
                })?;
            let pre = ProxyPre::P3(
                wasmtime_wasi_http::p3::bindings::ServicePre::new(instance_pre)
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!(
                            "component {component_id:?} does not export wasi:http/handler@0.3.0"
                        )
                    })?,
            );
            let m = manifest
                .components
                .get(component_id)
                .ok_or_else(|| anyhow!("unknown component {component_id:?}"))?;
            let log_id: Arc<str> = if middleware.is_empty() {
                component_id.as_str().into()
            } else {
                format!("{component_id}-for-{trigger_id}").into()
            };
            let caps = Arc::new(Capabilities {
                component_id: log_id,
                variables_id: component_id.as_str().into(),
                allowed: allowed_by_component
                    .get(component_id)
                    .cloned()
                    .unwrap_or_default(),
                kv_labels: Arc::new(m.key_value_stores.iter().cloned().collect()),
                environment: m
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
            handlers.push(ProxyHandler::new(TriggerHandler {
                shared: shared.clone(),
                pre,
                caps,
            }));
            by_component.entry(component_id.clone()).or_insert(index);
            if let HttpRoute::Pattern(pattern) = route {
                routes.push((pattern.clone(), index, component_id.clone()));
            }
        }
        let router = Router::build(&routes)?;
        let app = Arc::new(App {
            router,
            handlers,
            by_component,
            name: manifest.application.name.clone(),
        });
        let chain: Arc<dyn Chain> = Arc::new(AppChain(Arc::downgrade(&app)));
        // The chain object must outlive every instance: keep it alive via a leak-free cycle
        // breaker — the app holds the only strong reference.
        let weak: Weak<dyn Chain> = Arc::downgrade(&chain);
        let _ = shared.chain.set(weak);
        CHAINS
            .lock()
            .map_err(|_| anyhow!("chain registry poisoned"))?
            .push(chain);
        Ok(app)
    }
}

/// Keeps chain dispatchers alive for the process lifetime (one per loaded app; tests load a
/// handful). They hold only a `Weak<App>`, so no app is kept alive by them.
static CHAINS: std::sync::Mutex<Vec<Arc<dyn Chain>>> = std::sync::Mutex::new(Vec::new());

impl HandlerState for TriggerHandler {
    type StoreData = HostState;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<HostState, Expiration, Worker>> {
        let shared = &self.shared;
        let caps = &self.caps;
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(shared.output.stream(&caps.component_id, false))
            .stderr(shared.output.stream(&caps.component_id, true))
            .envs(&caps.environment);
        let state = HostState {
            component_id: caps.component_id.clone(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: OutboundHttp {
                allowed: caps.allowed.clone(),
                chain: shared
                    .chain
                    .get()
                    .cloned()
                    .unwrap_or_else(|| Weak::<AppChain>::new()),
            },
            table: ResourceTable::new(),
            kv: KvState {
                stores: shared.kv.clone(),
                allowed: caps.kv_labels.clone(),
                table: ResourceTable::new(),
            },
            mysql: MysqlState {
                allowed: caps.allowed.clone(),
                permits: Arc::new(tokio::sync::Semaphore::new(shared.mysql_max_connections)),
                table: ResourceTable::new(),
            },
            redis: RedisState {
                allowed: caps.allowed.clone(),
                permits: shared.redis_permits.clone(),
                table: ResourceTable::new(),
            },
            variables: VariablesState {
                resolver: shared.resolver.clone(),
                component_id: caps.variables_id.clone(),
            },
            limits: StoreLimitsBuilder::new().memory_size(256 << 20).build(),
        };
        let mut store = Store::new(&shared.engine, state);
        store.limiter(HostState::limiter);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        let request_timeout = shared.reuse.request_timeout.unwrap_or(Duration::MAX);
        Ok(Instance {
            store,
            proxy,
            view: http_view,
            expiration: Expiration {
                idle_timeout: shared.reuse.idle_instance_timeout,
                request_timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::from_secs(3600 * 24 * 365))),
            },
            state: Worker {
                request_timeout,
                max_total: shared.reuse.max_instance_reuse_count,
                max_concurrent: shared.reuse.max_instance_concurrent_reuse_count,
            },
        })
    }
}

/// When an instance expires. Spin: `crates/trigger-http/src/server.rs` `HttpWorkerExpiration`.
pub struct Expiration {
    idle_timeout: Duration,
    request_timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let me = self.get_mut();
        let timeout = match status {
            WorkerStatus::Idle => me.idle_timeout,
            WorkerStatus::Requests | WorkerStatus::PostReturn => me.request_timeout,
        };
        match start.checked_add(timeout) {
            Some(deadline) => {
                let deadline = tokio::time::Instant::from_std(deadline);
                if deadline != me.sleep.deadline() {
                    me.sleep.as_mut().reset(deadline);
                }
                me.sleep.as_mut().poll(cx)
            }
            None => Poll::Pending,
        }
    }
}

/// Reuse policy of one instance. Spin: `server.rs` `HttpWorkerState`.
pub struct Worker {
    request_timeout: Duration,
    max_total: usize,
    max_concurrent: usize,
}

impl WorkerState for Worker {
    type StoreData = HostState;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.max_total {
            ShouldAccept::Never
        } else if concurrent >= self.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _: StoreContextMut<'_, HostState>,
        _: (),
        _: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>> {
        let t = self.request_timeout;
        if t == Duration::MAX {
            Box::pin(std::future::pending())
        } else {
            Box::pin(tokio::time::sleep(t))
        }
    }

    fn drop(&self, store: Store<HostState>, result: wasmtime::Result<()>) {
        if let Err(error) = result {
            tracing::warn!(component = %store.data().component_id, "instance ended with an error: {error:?}");
        }
        drop(store);
    }
}
