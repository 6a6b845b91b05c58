//! The route table ([`contract::ROUTES`]) and `spin.toml` describe the same application:
//! every trigger is in the table with its component and middleware, and every row of the
//! table is a trigger. A route added to one and not the other fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use contract::{Component, ROUTES};

/// (pattern, component, has the auth middleware) for every `[[trigger.http]]`.
fn manifest_triggers() -> BTreeSet<(String, String, bool)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    let text = std::fs::read_to_string(&path).expect("spin.toml");
    let manifest: toml::Value = toml::from_str(&text).expect("spin.toml is TOML");
    let triggers = manifest["trigger"]["http"]
        .as_array()
        .expect("[[trigger.http]]");
    triggers
        .iter()
        .map(|t| {
            let route = t["route"].as_str().expect("route is a string").to_owned();
            let component = t["component"].as_str().expect("component").to_owned();
            let middleware: Vec<&str> = t
                .get("dependencies")
                .and_then(|d| d.get("middleware"))
                .and_then(|m| m.as_array())
                .map(|m| {
                    m.iter()
                        .map(|entry| entry["component"].as_str().expect("middleware component"))
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                middleware.is_empty() || middleware == [Component::Auth.name()],
                "{route}: the only middleware is auth, got {middleware:?}"
            );
            (route, component, !middleware.is_empty())
        })
        .collect()
}

fn table() -> BTreeSet<(String, String, bool)> {
    ROUTES
        .iter()
        .map(|s| {
            (
                s.pattern.to_owned(),
                s.component.name().to_owned(),
                s.protected,
            )
        })
        .collect()
}

#[test]
fn spin_toml_and_the_route_table_declare_the_same_routes() {
    let manifest = manifest_triggers();
    let table = table();
    let only_in_manifest: Vec<_> = manifest.difference(&table).collect();
    let only_in_table: Vec<_> = table.difference(&manifest).collect();
    assert!(
        only_in_manifest.is_empty() && only_in_table.is_empty(),
        "spin.toml and contract::ROUTES disagree\n  only in spin.toml: {only_in_manifest:?}\n  only in the table: {only_in_table:?}"
    );
}

#[test]
fn every_component_of_the_table_is_declared_in_spin_toml() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(path).expect("spin.toml")).expect("TOML");
    let declared = manifest["component"].as_table().expect("[component.*]");
    for component in Component::ALL {
        assert!(
            declared.contains_key(component.name()),
            "[component.{}] missing from spin.toml",
            component.name()
        );
    }
    assert_eq!(
        declared.len(),
        Component::ALL.len(),
        "spin.toml has components the table lacks"
    );
}
