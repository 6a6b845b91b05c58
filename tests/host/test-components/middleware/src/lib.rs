//! A test middleware (Spin >= 4.1 `dependencies.middleware`). Behaviour by request header
//! `x-mw`: `deny` answers 401 without calling the next handler; `probe` tries key-value,
//! variables and MySQL and reports each result in a response header; anything else passes
//! the request on and marks the response with `x-mw-seen: 1`.
#![forbid(unsafe_code)]

use spin_sdk::http::{HeaderValue, IntoResponse, Request, Response};
use spin_sdk::http_service;

fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(&text.replace(['\r', '\n'], " ")).unwrap_or(HeaderValue::from_static("?"))
}

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let mode = req
        .headers()
        .get("x-mw")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if mode == "deny" {
        let mut r = Response::new(String::from("denied by middleware"));
        *r.status_mut() = spin_sdk::http::StatusCode::UNAUTHORIZED;
        return Ok::<_, spin_sdk::http::Error>(r.into_response()?);
    }
    let mut probes = Vec::new();
    if mode == "probe" {
        let kv = match spin_sdk::key_value::Store::open("default").await {
            Ok(_) => "Ok".to_string(),
            Err(e) => format!("Err({e:?})"),
        };
        probes.push(("x-probe-kv", kv));
        let var = match spin_sdk::variables::get("greeting").await {
            Ok(v) => format!("Ok({v:?})"),
            Err(e) => format!("Err({e:?})"),
        };
        probes.push(("x-probe-var", var));
        let address = req
            .headers()
            .get("x-mysql")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("mysql://nobody@127.0.0.1/none")
            .to_string();
        let db = match spin_sdk::mysql::Connection::open(address).await {
            Ok(_) => "Ok".to_string(),
            Err(e) => format!("Err({e:?})"),
        };
        probes.push(("x-probe-mysql", db));
    }
    let mut resp = spin_sdk::http::next(req).await?;
    resp.headers_mut()
        .insert("x-mw-seen", HeaderValue::from_static("1"));
    for (name, value) in probes {
        resp.headers_mut().insert(name, header(&value));
    }
    Ok(resp.into_response()?)
}
