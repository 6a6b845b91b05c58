//! Redis and the HTTP server.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::process;

const REDIS_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 6379);

fn redis_up() -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(REDIS_ADDR), Duration::from_millis(300)).is_ok()
}

/// Makes sure Redis answers on 127.0.0.1:6379 (the `shared` store in
/// runtime-config.toml), starting `redis-server` like `.ci/run` does if it is down.
pub fn ensure_redis() -> Result<()> {
    if redis_up() {
        return Ok(());
    }
    if process::which("redis-server").is_none() {
        bail!(
            "Redis is not reachable at 127.0.0.1:6379 and redis-server is not installed.\n\
             Install it:  sudo apt-get install -y redis-server"
        );
    }
    process::run(
        "redis-server",
        &[
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    )?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if redis_up() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("redis-server started but 127.0.0.1:6379 does not answer")
}

/// Replaces this process with the server: `spin up` when `spin` is installed, else the
/// bundled host, both reading `spin.toml` and `runtime-config.toml` from `root`.
///
/// `ORDERLY_MANIFEST` names another manifest (the benchmarks serve a variant).
pub fn serve(root: &Path, listen: &str, variables: &[(String, String)]) -> Result<()> {
    let manifest = std::env::var("ORDERLY_MANIFEST").unwrap_or_else(|_| "spin.toml".to_owned());
    let mut command = if process::which("spin").is_some() {
        let mut spin = Command::new("spin");
        spin.args([
            "up",
            "--from",
            &manifest,
            "--runtime-config-file",
            "runtime-config.toml",
            "--listen",
            listen,
        ]);
        spin
    } else {
        let host_args = [
            "--manifest",
            manifest.as_str(),
            "--runtime-config-file",
            "runtime-config.toml",
            "--listen",
            listen,
        ];
        // `ORDERLY_HOST_BIN`: an orderly-host already built (the side-by-side check serves
        // the one the tests built); otherwise the release build an operator would run.
        if let Some(bin) = std::env::var_os("ORDERLY_HOST_BIN").filter(|b| !b.is_empty()) {
            println!(
                "`spin` is not installed: serving with the bundled host {}",
                Path::new(&bin).display()
            );
            let mut host = Command::new(bin);
            host.args(host_args);
            host
        } else {
            println!(
                "`spin` is not installed: serving with the bundled host (tests/host), built with the `dist` profile (release, thin LTO)"
            );
            let mut cargo = Command::new("cargo");
            cargo.args(["run", "--profile", "dist", "-p", "orderly-host", "--"]);
            cargo.args(host_args);
            cargo
        }
    };
    command
        .current_dir(root)
        .envs(variables.iter().map(|(k, v)| (k, v)));
    println!("serving on http://{listen}  (try: curl -i http://{listen}/health)");
    let error = command.exec();
    Err(anyhow!("cannot start the server: {error}"))
}
