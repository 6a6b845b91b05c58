//! # users — placeholder (being built in this session): answers 404.
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod entry {
    use edge_http::{ApiError, EdgeConfig, EdgeResponse};
    use spin_sdk::http::Request;
    use spin_sdk::http_service;

    static EDGE: EdgeConfig = EdgeConfig::new("users");

    #[http_service]
    async fn handle(request: Request) -> EdgeResponse {
        edge_http::serve(&EDGE, request, |_request, _context| async {
            Err(ApiError::not_found("No such resource."))
        })
        .await
    }
}
