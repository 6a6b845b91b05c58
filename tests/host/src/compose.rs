//! Middleware composition (filled in below).
use crate::manifest::InheritConfiguration;

/// Composes middleware in front of a route component.
pub fn compose_middleware(primary: Vec<u8>, layers: &[(Vec<u8>, InheritConfiguration)]) -> anyhow::Result<Vec<u8>> {
    let _ = (primary, layers);
    anyhow::bail!("middleware composition is not built yet")
}
