//! The component's `wasi:http` entry point: the document and its page, in the kit.

use edge_http::EdgeResponse;
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::component::Docs;

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    kit::spin::serve(request, |_settings| Docs).await
}
