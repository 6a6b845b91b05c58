//! `orderly-admin probe URL`: one plain-HTTP `GET`, success on a 2xx status. The image has
//! no shell and no curl, so its `HEALTHCHECK` runs this against `/health`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{AdminError, Result};

/// The longest status line read back.
const MAX_STATUS_LINE: usize = 1024;

/// `GET url` (http only) with `timeout` for connecting, writing and reading; returns the
/// status code.
pub fn get_status(url: &str, timeout: Duration) -> Result<u16> {
    let parsed = url::Url::parse(url).map_err(|e| AdminError::invalid("URL", e.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(AdminError::invalid(
            "URL",
            "only http:// (the probe talks to the pod itself)",
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| AdminError::invalid("URL", "no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let io = |source| AdminError::Io {
        path: url.into(),
        source,
    };
    let address = (host, port)
        .to_socket_addrs()
        .map_err(io)?
        .next()
        .ok_or_else(|| AdminError::invalid("URL", "host does not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let authority = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    // One write: a request split over several segments could meet a server that answers
    // and closes after the first.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: orderly-admin-probe\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while head.len() < MAX_STATUS_LINE && !head.ends_with(b"\r\n") {
        match stream.read(&mut byte).map_err(io)? {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|s| s.parse::<u16>().ok()),
    ) {
        (Some(version), Some(status)) if version.starts_with("HTTP/1.") => Ok(status),
        _ => Err(AdminError::invalid(
            "response",
            "not an HTTP/1.x status line",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use std::net::TcpListener;

    fn serve_once(response: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0_u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "the probe closed before the end of its request");
                request.extend_from_slice(&chunk[..n]);
            }
            stream.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, handle)
    }

    #[test]
    fn reads_the_status_of_a_get_to_the_path() {
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert_eq!(get_status(&url, Duration::from_secs(2)).unwrap(), 200);
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
        let (url, server) = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(get_status(&url, Duration::from_secs(2)).unwrap(), 503);
        server.join().unwrap();
    }

    #[test]
    fn refuses_other_schemes_and_fails_on_a_closed_port() {
        assert!(get_status("https://127.0.0.1/health", Duration::from_secs(1)).is_err());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(get_status(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(1)).is_err());
    }
}
