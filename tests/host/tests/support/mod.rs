//! Shared by the host's integration tests: where the test components' `.wasm` files are and
//! the runtime config that puts the `shared` store on the local Redis.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::path::{Path, PathBuf};

/// Runtime config with `shared` on Redis at 127.0.0.1:6379 (`default` stays SQLite).
pub const RUNTIME_CONFIG: &str = r#"
[key_value_store.shared]
type = "redis"
url = "redis://127.0.0.1:6379"
"#;

/// The built test component `name` (`target/wasm32-wasip2/release/<name>.wasm`).
///
/// # Panics
/// When it has not been built: `cargo xtask test` builds every test component first.
pub fn wasm(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the test components first (cargo xtask test, or cargo build --target wasm32-wasip2 --release -p {name})",
        path.display()
    );
    match path.canonicalize() {
        Ok(p) => p,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}
