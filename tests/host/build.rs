//! Builds the deny adapter (`deny-adapter/`, a wasm32-wasip2 component) and embeds it, as
//! Spin embeds its own (`crates/capabilities/deny_adapter.wasm`). A nested cargo build with
//! its own target directory, like Spin's `tests/test-components/build.rs`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let adapter = manifest_dir.join("deny-adapter");
    println!("cargo:rerun-if-changed={}", adapter.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        adapter.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("wit").display()
    );
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let target_dir = out_dir.join("deny-adapter-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&adapter)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    // Do not let the outer build's flags (native target, coverage, …) leak into the wasm build.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_ENCODED_RUSTFLAGS")
            || key == "RUSTFLAGS"
            || key.starts_with("CARGO_BUILD_")
            || key == "CARGO_TARGET_DIR"
            || key.starts_with("CARGO_PROFILE_")
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            println!(
                "cargo:warning=building the deny adapter failed ({other:?}); is the wasm32-wasip2 target installed? (rustup target add wasm32-wasip2)"
            );
            std::process::exit(1);
        }
    }
    let wasm = target_dir.join("wasm32-wasip2/release/deny_adapter.wasm");
    println!("cargo:rustc-env=ORDERLY_DENY_ADAPTER={}", wasm.display());
}
