//! The component's `wasi:http` entry point: users over MariaDB, in the kit.

use std::rc::Rc;

use contract::{Component, keys};
use edge_http::EdgeResponse;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::component::{Users, UsersSettings};
use crate::repository::SqlUsers;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |settings: Rc<UsersSettings>| {
        let breaker = keys::breaker(&settings.api.kv_prefix, Component::Users, "mariadb");
        let users = SqlUsers::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            Breaker::new(SpinKv::shared(), BreakerConfig::new(breaker)),
            SpinRuntime::default(),
        ));
        Users::new(settings, users)
    })
    .await
}
