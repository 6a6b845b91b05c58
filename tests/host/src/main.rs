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
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
