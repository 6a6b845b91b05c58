//! The component's `wasi:http` entry point: the authorization server over MariaDB and the
//! shared store, in the kit.

use std::rc::Rc;

use contract::{Component, keys};
use edge_http::EdgeResponse;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::component::Identity;
use crate::config::Config;
use crate::repository::SqlRepository;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |config: Rc<Config>| {
        let breaker = keys::breaker(&config.kv_prefix, Component::Identity, "mariadb");
        let repo = SqlRepository::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            Breaker::new(SpinKv::shared(), BreakerConfig::new(breaker)),
            SpinRuntime::default(),
        ));
        Identity::new(config, repo, SpinKv::shared())
    })
    .await
}
