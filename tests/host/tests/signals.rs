//! Stopping the host with a signal, as Spin 4.x stops (spinframework/spin 4.1.0-pre0):
//!
//! - `Cargo.toml:143`: `ctrlc` with the `termination` feature, so SIGINT, SIGTERM and SIGHUP
//!   all run the one handler;
//! - `crates/trigger/src/cli.rs:315-328`: the handler aborts the trigger's run future, logs
//!   `User requested shutdown: exiting` (info) and returns `Ok(())`: exit code 0;
//! - `crates/trigger-http/src/server.rs:278-285`: the aborted future owns the listener, so new
//!   connections are refused; `server.rs:561`: connections are detached tasks that nothing
//!   drains, cut when `src/bin/spin.rs:3`'s runtime drops. Spin has no graceful drain and no
//!   drain timeout; neither has this host (see `src/main.rs`, `docs/deploy.md`).
//!
//! Each test runs the real `orderly-host` binary on the probe component (built by
//! `cargo xtask test`, or `cargo build --target wasm32-wasip2 --release -p probe`), holds a
//! request in the guest, signals the host and checks what Spin does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::wasm;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long the guest holds the request: far longer than the host may take to exit.
const HOLD_MS: u64 = 8_000;
/// Spin exits as soon as the signal arrives; allow for a loaded machine.
const EXIT_BOUND: Duration = Duration::from_secs(3);

struct Host {
    child: Child,
    addr: String,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    _dir: tempfile::TempDir,
}

fn lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line containing `needle`, within `within`.
async fn wait_for_line(
    rx: &mut mpsc::UnboundedReceiver<String>,
    needle: &str,
    within: Duration,
) -> String {
    let found = tokio::time::timeout(within, async {
        while let Some(line) = rx.recv().await {
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => line,
        Ok(None) => panic!("output ended before a line with {needle:?}"),
        Err(_) => panic!("no line with {needle:?} within {within:?}"),
    }
}

async fn start() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"
spin_manifest_version = 2
[application]
name = "signals"
[[trigger.http]]
route = "/probe/..."
component = "probe"
[component.probe]
source = "{}"
"#,
        wasm("probe").display()
    );
    let manifest_path = dir.path().join("spin.toml");
    std::fs::write(&manifest_path, manifest).unwrap();
    // One compiled-code cache for every test here: only the first start compiles the probe.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("signals-host-cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderly-host"))
        .arg("--manifest")
        .arg(&manifest_path)
        .args(["--listen", "127.0.0.1:0"])
        .env("ORDERLY_HOST_CACHE_DIR", cache)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let serving = wait_for_line(&mut stdout, "Serving http://", Duration::from_secs(60)).await;
    let addr = serving
        .trim()
        .trim_start_matches("Serving http://")
        .to_string();
    Host {
        child,
        addr,
        stdout,
        stderr,
        _dir: dir,
    }
}

fn send_signal(child: &Child, signal: &str) {
    let pid = child.id().unwrap();
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// Holds a request in the guest, sends `signal`, and checks Spin's behaviour: the host stops
/// accepting, exits 0 at once, and the request in flight is cut without a response (Spin
/// does not drain).
async fn stops_like_spin_on(signal: &str) {
    let mut host = start().await;

    // A request that reaches the guest and stays there.
    let mut in_flight = TcpStream::connect(&host.addr).await.unwrap();
    in_flight
        .write_all(
            format!("GET /probe/hold?ms={HOLD_MS} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    wait_for_line(
        &mut host.stdout,
        &format!("[probe] holding {HOLD_MS}"),
        Duration::from_secs(30),
    )
    .await;

    let signalled = Instant::now();
    send_signal(&host.child, signal);

    // New connections are refused (the listener is closed; Spin's accept loop is aborted).
    let refused = loop {
        match TcpStream::connect(&host.addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break true,
            // The listener closing while the handshake completes: a reset, not a service.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("connect after {signal}: {e}"),
            Ok(_) if signalled.elapsed() > EXIT_BOUND => break false,
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(refused, "still accepting {EXIT_BOUND:?} after {signal}");

    // The process exits 0 at once, long before the guest would have answered.
    let status = tokio::time::timeout(EXIT_BOUND, host.child.wait())
        .await
        .unwrap_or_else(|_| panic!("still running {EXIT_BOUND:?} after {signal}"))
        .unwrap();
    let exited_after = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{signal}: {status}");
    assert!(
        exited_after < Duration::from_millis(HOLD_MS / 2),
        "{exited_after:?}"
    );

    // The request in flight got no response: its connection closed (or was reset) empty.
    let mut got = Vec::new();
    let read = tokio::time::timeout(EXIT_BOUND, in_flight.read_to_end(&mut got))
        .await
        .expect("the in-flight connection stays open after the host exited");
    match read {
        Ok(_) => assert!(
            got.is_empty(),
            "{signal}: the in-flight request was answered: {}",
            String::from_utf8_lossy(&got)
        ),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }

    // Spin's message (`crates/trigger/src/cli.rs:327`), at info.
    wait_for_line(
        &mut host.stderr,
        "User requested shutdown: exiting",
        Duration::from_secs(1),
    )
    .await;
}

/// SIGTERM (Kubernetes, systemd, `spin up` forwarding a signal: `src/commands/up.rs:647`).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_accepting_cuts_in_flight_requests_and_exits_0_like_spin() {
    stops_like_spin_on("TERM").await;
}

/// SIGINT (Ctrl-C).
#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_like_sigterm() {
    stops_like_spin_on("INT").await;
}

/// SIGHUP (the terminal closing): Spin's `ctrlc` `termination` feature handles it too.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_stops_like_sigterm() {
    stops_like_spin_on("HUP").await;
}
