//! HTTP middleware composition (`dependencies.middleware`, Spin >= 4.1).
//!
//! Spin: `crates/trigger-http/src/middleware.rs` chains the components with `wac-graph`,
//! outermost first, wiring each one's `wasi:http/handler@0.3.0` import to the next one's
//! export; `crates/capabilities/src/deny.rs` first plugs a deny adapter into every
//! capability import a middleware did not inherit (`inherit_configuration`), so such a call
//! is answered with a denial instead of reaching the host with the route component's
//! permissions. Both steps are reproduced here with this host's own deny adapter.

use anyhow::{Context, Result, bail};
use wac_graph::types::{Package, SubtypeChecker};
use wac_graph::{CompositionGraph, EncodeOptions, PackageId};

use crate::manifest::InheritConfiguration;

const HANDLER: &str = "wasi:http/handler@0.3.0";

/// The deny adapter built by `build.rs`.
static DENY_ADAPTER: &[u8] = include_bytes!(env!("ORDERLY_DENY_ADAPTER"));

/// Capability sets and the interfaces each covers. Spin: `crates/capabilities/src/lib.rs`
/// (only the interfaces this host implements and its deny adapter exports are listed).
const CAPABILITY_SETS: &[(&str, &[&str])] = &[
    (
        "allowed_outbound_hosts",
        &["spin:mysql/mysql@3.0.0", "spin:redis/redis@3.0.0"],
    ),
    ("key_value_stores", &["spin:key-value/key-value@3.0.0"]),
    (
        "variables",
        &[
            "spin:variables/variables@3.0.0",
            "wasi:config/store@0.2.0-draft-2024-09-27",
        ],
    ),
];

fn allowed_interfaces(inherit: &InheritConfiguration) -> Vec<&'static str> {
    let mut allow = Vec::new();
    for (set, interfaces) in CAPABILITY_SETS {
        let inherited = match inherit {
            InheritConfiguration::All(all) => *all,
            InheritConfiguration::Some(sets) => sets.iter().any(|s| s == set),
        };
        if inherited {
            allow.extend_from_slice(interfaces);
        }
    }
    allow
}

/// Plugs the deny adapter into every import of `component` that `inherit` does not grant.
pub fn apply_deny_adapter(component: &[u8], inherit: &InheritConfiguration) -> Result<Vec<u8>> {
    let allow = allowed_interfaces(inherit);
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("dependency", None, component.to_vec(), graph.types_mut())
        .context("parsing middleware component")?;
    let socket = graph.register_package(socket)?;
    let plug = Package::from_bytes(
        "orderly-deny-adapter",
        None,
        DENY_ADAPTER.to_vec(),
        graph.types_mut(),
    )
    .context("parsing the deny adapter")?;
    let plug = graph.register_package(plug)?;

    let socket_instance = graph.instantiate(socket);
    let mut wiring = Vec::new();
    {
        let types = graph.types();
        let plug_exports = &types[graph[plug].ty()].exports;
        let socket_imports = &types[graph[socket].ty()].imports;
        let mut cache = Default::default();
        let mut checker = SubtypeChecker::new(&mut cache);
        for (name, plug_ty) in plug_exports {
            if allow.contains(&name.as_str()) {
                continue;
            }
            if let Some(socket_ty) = socket_imports.get(name)
                && checker
                    .is_subtype(*plug_ty, types, *socket_ty, types)
                    .is_ok()
            {
                wiring.push(name.clone());
            }
        }
    }
    if wiring.is_empty() {
        return Ok(component.to_vec());
    }
    let plug_instance = graph.instantiate(plug);
    for name in wiring {
        let export = graph.alias_instance_export(plug_instance, &name)?;
        graph.set_instantiation_argument(socket_instance, &name, export)?;
    }
    let export_names: Vec<String> = graph.types()[graph[socket].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    for name in export_names {
        let export = graph.alias_instance_export(socket_instance, &name)?;
        graph.export(export, &name)?;
    }
    Ok(graph.encode(EncodeOptions::default())?)
}

/// Composes `layers` (outermost first, each with what it inherits) in front of `primary`.
pub fn compose_middleware(
    primary: Vec<u8>,
    layers: &[(Vec<u8>, InheritConfiguration)],
) -> Result<Vec<u8>> {
    if layers.is_empty() {
        return Ok(primary);
    }
    let mut graph = CompositionGraph::new();
    let mut packages: Vec<PackageId> = Vec::with_capacity(layers.len() + 1);
    for (index, (bytes, inherit)) in layers.iter().enumerate() {
        let bytes = apply_deny_adapter(bytes, inherit)?;
        let package = Package::from_bytes(
            &format!("middleware{index}"),
            None,
            bytes,
            graph.types_mut(),
        )
        .context("parsing middleware component")?;
        packages.push(graph.register_package(package)?);
    }
    let package = Package::from_bytes("primary", None, primary, graph.types_mut())
        .context("parsing primary component")?;
    packages.push(graph.register_package(package)?);

    // Innermost first: instantiate the route component, then wrap each middleware around it.
    let mut iter = packages.iter().rev();
    let Some(innermost) = iter.next() else {
        bail!("no components to compose");
    };
    let mut instance = graph.instantiate(*innermost);
    let mut upstream = graph
        .alias_instance_export(instance, HANDLER)
        .with_context(|| format!("the route component does not export {HANDLER}"))?;
    for package in iter {
        instance = graph.instantiate(*package);
        graph
            .set_instantiation_argument(instance, HANDLER, upstream)
            .with_context(|| format!("a middleware does not import {HANDLER}"))?;
        upstream = graph.alias_instance_export(instance, HANDLER)?;
    }
    graph.export(upstream, HANDLER)?;
    Ok(graph.encode(EncodeOptions::default())?)
}
