//! The component's `wasi:http` entry point: the catalogue over MariaDB, in the kit.

use std::rc::Rc;

use contract::{Component, keys};
use edge_http::EdgeResponse;
use kit::settings::ApiSettings;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::component::Products;
use crate::repository::MariaCatalogue;

type Catalogue = MariaCatalogue<SpinMysql<store::spin::FromVariable>, SpinKv, SpinRuntime>;

fn catalogue(settings: &ApiSettings) -> Catalogue {
    MariaCatalogue::new(Guarded::new(
        SpinMysql::from_variable("db_url"),
        Breaker::new(
            SpinKv::shared(),
            BreakerConfig::new(keys::breaker(
                &settings.kv_prefix,
                Component::Products,
                "mariadb",
            )),
        ),
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
