//! The component's `wasi:http` entry point: the probes over Spin, in the kit.

use edge_http::EdgeResponse;
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::component::Health;
use crate::probes::SpinDependencies;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |_settings| Health::new(SpinDependencies)).await
}
