//! The repository: its root, its wasm components, how they are built.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::process;

/// The repository root (xtask lives in `<root>/xtask`).
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `rustup target add wasm32-wasip2` unless it is already installed.
pub fn ensure_wasm_target() -> Result<()> {
    let installed =
        process::output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        return Ok(());
    }
    process::run("rustup", &["target", "add", "wasm32-wasip2"])
}

/// Package names of the crates directly under `dir` whose `Cargo.toml` declares
/// `crate-type = ["cdylib"]` — the wasm components. Sorted; empty if `dir` is absent.
pub fn cdylib_packages(dir: &Path) -> Result<Vec<String>> {
    let mut packages = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(packages);
    };
    for entry in entries {
        let manifest = entry?.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if let Some(name) = cdylib_package_name(&text) {
            packages.push(name);
        }
    }
    packages.sort();
    Ok(packages)
}

/// The `[package] name` of a manifest whose `crate-type` includes `cdylib`.
fn cdylib_package_name(manifest: &str) -> Option<String> {
    let is_cdylib = manifest
        .lines()
        .map(str::trim)
        .any(|l| l.starts_with("crate-type") && l.contains("\"cdylib\""));
    if !is_cdylib {
        return None;
    }
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// `cargo build --target wasm32-wasip2 --release -p a -p b …` (what each component's
/// `[component.*.build]` in spin.toml runs, in one invocation).
pub fn build_wasm(packages: &[String]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let mut args = vec!["build", "--target", "wasm32-wasip2", "--release"];
    for package in packages {
        args.extend(["-p", package.as_str()]);
    }
    process::run("cargo", &args).context("building the wasm components")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdylib_manifests_are_recognised_by_crate_type() {
        let component = "[package]\nname = \"health\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n";
        assert_eq!(cdylib_package_name(component).as_deref(), Some("health"));
        let library = "[package]\nname = \"edge-http\"\n";
        assert_eq!(cdylib_package_name(library), None);
    }

    #[test]
    fn the_health_component_is_discovered() {
        let found = cdylib_packages(&root().join("components")).unwrap();
        assert!(found.contains(&"health".to_owned()), "{found:?}");
    }
}
