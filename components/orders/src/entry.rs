//! The component's `wasi:http` entry point: orders over MariaDB, in the kit.

use std::rc::Rc;

use contract::Component;
use edge_http::EdgeResponse;
use kit::settings::ApiSettings;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::Guarded;
use store::spin::{SpinMysql, SpinRuntime};

use crate::admission::WaitForConnection;
use crate::component::Orders;
use crate::repository::Repository;

/// Connections one instance may hold: concurrent requests of an instance (up to 16)
/// share them; beyond the account quota (40), logins wait in `WaitForConnection`.
const CONNECTIONS_PER_INSTANCE: usize = 2;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |settings: Rc<ApiSettings>| {
        let repo = Repository::new(Guarded::new(
            WaitForConnection::new(
                SpinMysql::from_variable("db_url").with_max_connections(CONNECTIONS_PER_INSTANCE),
                SpinRuntime::default(),
            ),
            kit::spin::database_breaker(&settings.kv_prefix, Component::Orders),
            SpinRuntime::default(),
        ));
        Orders::new(
            settings,
            repo,
            SpinRuntime::default(),
            SpinRuntime::default(),
        )
    })
    .await
}
