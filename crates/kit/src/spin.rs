//! The Spin side of the kit (wasm32 only): variables through `spin:variables`, settings
//! kept in instance state, the shared store and the wall clock.
//!
//! A component's whole entry point:
//!
//! ```text
//! #[spin_sdk::http_service]
//! async fn handle(request: spin_sdk::http::Request) -> edge_http::EdgeResponse {
//!     kit::spin::serve(request, |settings| Catalogue::new(settings)).await
//! }
//! ```

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Display;
use std::rc::Rc;

use contract::{Component, keys};
use edge_http::EdgeResponse;
use edge_http::log_line::write_log_line;
use http_body::Body;
use spin_sdk::variables::Error as VariableError;
use store::spin::{SpinRuntime, SpinShared};
use store::{Breaker, BreakerConfig};

use crate::serve::Service;
use crate::settings::{Settings, SettingsError, Variables};

/// Spin variables (`spin:variables`), as the component's `[component.<id>.variables]`
/// maps them.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinVariables;

impl Variables for SpinVariables {
    async fn get(&self, name: &'static str) -> Result<Option<String>, SettingsError> {
        match spin_sdk::variables::get(name).await {
            Ok(value) => Ok(Some(value)),
            Err(VariableError::Undefined(_)) => Ok(None),
            Err(other) => Err(SettingsError::new(name, format!("{other}"))),
        }
    }
}

/// How long an instance reuses the database breaker's state it read from the shared store
/// (docs/standards.md §12): a closed breaker then costs one shared-store read per instance
/// per second, not one per request; another instance's transition is seen here within this.
pub const BREAKER_STATE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// `component`'s circuit breaker in front of MariaDB: state in the shared store under
/// [`keys::breaker`], cached per instance for [`BREAKER_STATE_TTL`].
pub fn database_breaker(kv_prefix: &str, component: Component) -> Breaker<SpinShared> {
    Breaker::new(
        SpinShared::new(),
        BreakerConfig::new(keys::breaker(kv_prefix, component, "mariadb"))
            .with_state_ttl(BREAKER_STATE_TTL),
    )
}

thread_local! {
    /// The component's settings, once loaded (one type per component; instances are
    /// single-threaded and recycled by the host, which drops this with them).
    static SETTINGS: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// The component's settings: loaded on the instance's first request and kept; a failed
/// load is not kept, so the next request tries again.
///
/// # Errors
/// The variable that could not be read or parsed.
pub async fn settings<S: Settings>() -> Result<Rc<S>, SettingsError> {
    let cached = SETTINGS.with(|cell| cell.borrow().clone());
    if let Some(settings) = cached.and_then(|any| any.downcast::<S>().ok()) {
        return Ok(settings);
    }
    let settings = Rc::new(S::load(&SpinVariables).await?);
    let erased: Rc<dyn Any> = settings.clone();
    SETTINGS.with(|cell| *cell.borrow_mut() = Some(erased));
    Ok(settings)
}

/// Serves `request` with the service `build` makes from the instance's settings, through
/// the kit's pipeline ([`crate::serve()`]), and writes the request's log line to stdout
/// (Spin keeps it in the component's log).
pub async fn serve<S, B, F>(request: http::Request<B>, build: F) -> EdgeResponse
where
    S: Service,
    B: Body,
    B::Error: Display,
    F: FnOnce(Rc<S::Settings>) -> S,
{
    let service = settings::<S::Settings>().await.map(build);
    let handled = crate::serve(
        service.as_ref().map_err(Clone::clone),
        &SpinShared::new(),
        &SpinRuntime::default(),
        request,
    )
    .await;
    write_log_line(&handled.log);
    handled.response
}
