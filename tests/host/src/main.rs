//! `orderly-host`: serve a Spin app (`spin.toml` + `runtime-config.toml`) like `spin up`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use orderly_host::{App, AppOptions, ReuseConfig};

/// Serve a Spin application with Orderly's Spin-compatible host.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The application manifest.
    #[arg(long, short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,
    /// Runtime configuration file (as `spin up --runtime-config-file`).
    #[arg(long = "runtime-config-file", alias = "runtime-config")]
    runtime_config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// State directory (default `.spin` next to the manifest).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Compiled-code cache directory.
    #[arg(long, env = "ORDERLY_HOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let opts = AppOptions {
        manifest: args.manifest,
        runtime_config: args.runtime_config,
        state_dir: args.state_dir,
        env: std::env::vars().collect(),
        reuse: ReuseConfig::default(),
        cache_dir: args.cache_dir,
    };
    let app = App::load(&opts).await?;
    let server = orderly_host::serve(app.clone(), args.listen).await?;
    println!("Serving http://{}", server.addr);
    println!("Available Routes:");
    for (route, index) in app.router.routes() {
        println!("  trigger {index}: http://{}{}", server.addr, route);
    }
    shutdown_requested().await?;
    // Spin: `crates/trigger/src/cli.rs:315-328` aborts the trigger's run future, which owns
    // the listener (`crates/trigger-http/src/server.rs:278-285`): accepting stops at once.
    server.shutdown().await;
    tracing::info!("User requested shutdown: exiting");
    // Returning drops the runtime and with it every connection task, as Spin's `main`
    // (`src/bin/spin.rs:3-6`) does: a request still in flight is cut, not drained.
    Ok(())
}

/// Resolves on the first SIGINT, SIGTERM or SIGHUP, the signals Spin 4.x stops on.
///
/// What Spin does (spinframework/spin 4.1.0-pre0, `94a8fc8`; the same in v4.0.2):
/// - `Cargo.toml:143` builds `ctrlc` with the `termination` feature, so the handler runs on
///   SIGINT, SIGTERM and SIGHUP alike;
/// - `crates/trigger/src/cli.rs:315-316` wraps the trigger's run future in
///   `futures::future::abortable` and the handler only aborts it; `cli.rs:326-328` logs
///   `User requested shutdown: exiting` at info and returns `Ok(())`: exit code 0;
/// - the HTTP trigger's run future is `server.serve()` (`crates/trigger-http/src/lib.rs:331`),
///   whose accept loop owns the `TcpListener` (`server.rs:278-285`): aborting it closes the
///   listener, so new connections are refused at once;
/// - each connection is a detached `task::spawn` (`server.rs:561`) that nothing tracks or
///   awaits: there is no drain and no timeout. `spin`'s `#[tokio::main]` (`src/bin/spin.rs:3`)
///   returns right after, and dropping the runtime cancels every in-flight request (the
///   client sees the connection close without a response);
/// - `spin up` (`src/commands/up.rs:275`, `617-622`, `647`) forwards the same signals to its
///   trigger processes as SIGTERM and exits with their status.
///
/// So, as Spin, this host does not drain: a graceful rolling restart takes the instance out
/// of the load balancer (or Kubernetes endpoints) and lets in-flight requests finish
/// *before* the signal — `docs/deploy.md`, "Rolling restarts".
#[cfg(unix)]
async fn shutdown_requested() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
        _ = hangup.recv() => {}
    }
    Ok(())
}

/// Elsewhere `ctrlc` handles Ctrl-C and Ctrl-Break; Ctrl-C is what tokio offers portably.
#[cfg(not(unix))]
async fn shutdown_requested() -> Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
