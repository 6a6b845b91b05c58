//! A trivial component: `200 hello` for every request, no I/O. The baseline of
//! `bench/run.sh` (alone, and behind one or two pass-through middlewares).
#![forbid(unsafe_code)]

use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(_req: Request) -> impl IntoResponse {
    "hello"
}
