//! The component's `wasi:http` entry point: users over MariaDB, in the kit.

use std::rc::Rc;

use contract::Component;
use edge_http::EdgeResponse;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::Guarded;
use store::spin::{SpinMysql, SpinRuntime};

use crate::component::{Users, UsersSettings};
use crate::repository::SqlUsers;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |settings: Rc<UsersSettings>| {
        let users = SqlUsers::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            kit::spin::database_breaker(&settings.api.kv_prefix, Component::Users),
            SpinRuntime::default(),
        ));
        Users::new(settings, users)
    })
    .await
}
