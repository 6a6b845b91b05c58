//! The component's `wasi:http` entry point: the catalogue over MariaDB, in the kit.

use std::rc::Rc;

use contract::Component;
use edge_http::EdgeResponse;
use kit::settings::ApiSettings;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::Guarded;
use store::spin::{SpinMysql, SpinRuntime, SpinShared};

use crate::component::Products;
use crate::repository::MariaCatalogue;

type Catalogue = MariaCatalogue<SpinMysql<store::spin::FromVariable>, SpinShared, SpinRuntime>;

fn catalogue(settings: &ApiSettings) -> Catalogue {
    MariaCatalogue::new(Guarded::new(
        SpinMysql::from_variable("db_url"),
        kit::spin::database_breaker(&settings.kv_prefix, Component::Products),
        SpinRuntime::default(),
    ))
}

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |settings: Rc<ApiSettings>| {
        let catalogue = catalogue(&settings);
        Products::new(settings, catalogue)
    })
    .await
}
