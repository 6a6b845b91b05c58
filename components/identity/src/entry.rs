//! The component's `wasi:http` entry point: the authorization server over MariaDB and the
//! shared store, in the kit.

use std::rc::Rc;

use contract::Component;
use edge_http::EdgeResponse;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::Guarded;
use store::spin::{SpinMysql, SpinRuntime, SpinShared};

use crate::component::Identity;
use crate::config::Config;
use crate::repository::SqlRepository;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |config: Rc<Config>| {
        let repo = SqlRepository::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            kit::spin::database_breaker(&config.kv_prefix, Component::Identity),
            SpinRuntime::default(),
        ));
        Identity::new(config, repo, SpinShared::new())
    })
    .await
}
