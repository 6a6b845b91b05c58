//! The manifests in `deploy/` against what they deploy: every variable `spin.toml` needs in
//! production comes from a ConfigMap or a Secret, the migration Job provisions every
//! component account the app connects with, the signing-key Secret is what `orderly-admin
//! keys` writes, and the pods run non-root on a read-only root file system with the
//! health component's routes as probes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure should stop the test loudly"
)]

use std::collections::{BTreeMap, BTreeSet};

use orderly_deploy_tests::{
    Source, SpinManifest, container, dependent_references, document, env_list, read,
    spin_variables, template_references,
};
use yaml_rust2::Yaml;

const DEPLOYMENT: &str = "deploy/kubernetes/app/deployment.yaml";
const JOB: &str = "deploy/kubernetes/migrate/job.yaml";
const CONFIGMAP: &str = "deploy/kubernetes/config/configmap.yaml";
const SPINAPP: &str = "deploy/spinkube/spinapp.yaml";

fn deployment_env() -> Vec<(String, Source)> {
    let deployment = document(DEPLOYMENT, "Deployment").unwrap();
    env_list(&container(&deployment, "orderly").unwrap()["env"]).unwrap()
}

fn job_env() -> Vec<(String, Source)> {
    let job = document(JOB, "Job").unwrap();
    env_list(&container(&job, "migrate").unwrap()["env"]).unwrap()
}

fn spinapp_variables() -> Vec<(String, Source)> {
    let app = document(SPINAPP, "SpinApp").unwrap();
    env_list(&app["spec"]["variables"]).unwrap()
}

fn configmap_keys() -> BTreeSet<String> {
    let map = document(CONFIGMAP, "ConfigMap").unwrap();
    map["data"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

fn missing(needed: &BTreeSet<String>, provided: &BTreeSet<String>) -> Vec<String> {
    needed.difference(provided).cloned().collect()
}

#[test]
fn production_needs_the_required_variables_and_those_defaulting_to_loopback() {
    let spin = SpinManifest::load().unwrap();
    let needed = spin.needed_in_production();
    // Spot checks of the rule against today's spin.toml (the rule itself is what the
    // other tests apply, so a new variable is covered without touching them).
    for name in [
        "health_db_url",
        "signing_key",
        "token_jwks",
        "cursor_key",
        "issuer",
        "audience",
        "db_host",
    ] {
        assert!(needed.contains(name), "{name} should be needed: {needed:?}");
    }
    for name in [
        "kv_prefix",
        "next_signing_key",
        "retired_jwks",
        "cors_origins",
    ] {
        assert!(!needed.contains(name), "{name} has a usable default");
    }
    let parsed = SpinManifest::parse(
        "[variables]\na = { required = true }\nb = { default = \"http://localhost:1\" }\nc = { default = \"x\" }\n",
    )
    .unwrap();
    assert_eq!(
        parsed
            .needed_in_production()
            .into_iter()
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn every_component_maps_only_declared_variables() {
    let spin = SpinManifest::load().unwrap();
    for (component, mapped) in &spin.components {
        for (name, references) in mapped {
            for reference in references {
                assert!(
                    spin.variables.contains_key(reference),
                    "component {component} variable {name} names undeclared {reference}"
                );
            }
        }
    }
    assert_eq!(
        template_references("mysql://{{ db_host }}/{{db}}"),
        ["db_host", "db"]
    );
}

#[test]
fn kubernetes_deployment_sets_every_variable_production_needs() {
    let spin = SpinManifest::load().unwrap();
    let env = deployment_env();
    let provided = spin_variables(&env);
    let gaps = missing(&spin.needed_in_production(), &provided);
    assert!(
        gaps.is_empty(),
        "{DEPLOYMENT} does not set SPIN_VARIABLE_* for {gaps:?} (required, or defaulting to loopback, in spin.toml)"
    );
    // … and sets nothing spin.toml does not declare (a typo would be silently ignored).
    let undeclared: Vec<_> = provided
        .iter()
        .filter(|name| !spin.variables.contains_key(*name))
        .collect();
    assert!(undeclared.is_empty(), "undeclared variables {undeclared:?}");
}

#[test]
fn spinapp_sets_every_variable_production_needs() {
    let spin = SpinManifest::load().unwrap();
    let variables = spinapp_variables();
    let provided: BTreeSet<String> = variables.iter().map(|(n, _)| n.clone()).collect();
    let gaps = missing(&spin.needed_in_production(), &provided);
    assert!(gaps.is_empty(), "{SPINAPP} does not set {gaps:?}");
    for name in &provided {
        assert!(spin.variables.contains_key(name), "undeclared {name}");
    }
    // Literal values in a SpinApp are not expanded: every secret comes from a Secret.
    for (name, source) in &variables {
        if spin.variables[name].secret {
            assert!(
                matches!(source, Source::Secret { .. }),
                "{name} is secret and must come from a Secret"
            );
        }
    }
}

#[test]
fn secrets_come_from_secrets_and_configmap_keys_exist() {
    let spin = SpinManifest::load().unwrap();
    let keys = configmap_keys();
    let env = deployment_env();
    let by_name: BTreeMap<&str, &Source> = env.iter().map(|(n, s)| (n.as_str(), s)).collect();
    for (name, source) in env.iter().chain(job_env().iter()) {
        if let Source::ConfigMap { name: map, key } = source {
            assert_eq!(map, "orderly-config", "{name}");
            assert!(
                keys.contains(key),
                "{name}: orderly-config has no key {key}"
            );
        }
    }
    for (name, source) in spinapp_variables() {
        if let Source::ConfigMap { key, .. } = source {
            assert!(
                keys.contains(&key),
                "SpinApp {name}: no ConfigMap key {key}"
            );
        }
    }
    for (variable, spec) in &spin.variables {
        let env_name = format!("SPIN_VARIABLE_{}", variable.to_ascii_uppercase());
        let Some(source) = by_name.get(env_name.as_str()) else {
            continue;
        };
        if spec.secret {
            // Either straight from a Secret, or composed only of Secret-backed parts.
            let ok = match source {
                Source::Secret { .. } => true,
                Source::Literal(value) => dependent_references(value)
                    .iter()
                    .any(|r| matches!(by_name.get(r.as_str()), Some(Source::Secret { .. }))),
                Source::ConfigMap { .. } => false,
            };
            assert!(ok, "{env_name} is secret but not taken from a Secret");
        }
    }
}

#[test]
fn composed_values_only_name_variables_defined_before_them() {
    // Kubernetes expands $(NAME) only for variables earlier in the same list; a forward
    // reference stays as literal text and would become a broken database URL.
    let env = deployment_env();
    for (index, (name, source)) in env.iter().enumerate() {
        if let Source::Literal(value) = source {
            for reference in dependent_references(value) {
                assert!(
                    env[..index].iter().any(|(n, _)| *n == reference),
                    "{name} uses $({reference}) before it is defined"
                );
            }
        }
    }
}

#[test]
fn migration_job_provisions_every_account_the_app_connects_with() {
    let job = job_env();
    let deployment = deployment_env();
    let job_names: BTreeMap<&str, &Source> = job.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let app_names: BTreeMap<&str, &Source> =
        deployment.iter().map(|(n, s)| (n.as_str(), s)).collect();
    assert!(
        matches!(job_names.get("ORDERLY_DB_ADMIN_URL"), Some(Source::Secret { name, .. }) if name == "orderly-db-admin")
    );
    assert!(
        !app_names.contains_key("ORDERLY_DB_ADMIN_URL"),
        "the app must never see the admin URL"
    );
    for account in migrate::COMPONENT_ACCOUNTS {
        let upper = account.component.to_ascii_uppercase();
        let password = format!("ORDERLY_DB_PASSWORD_{upper}");
        // orderly-migrate --accounts reads exactly this variable.
        let in_job = job_names.get(password.as_str()).expect(&password);
        let in_app = app_names.get(password.as_str()).expect(&password);
        assert_eq!(
            in_job, in_app,
            "{password}: the Job and the app must read one Secret key"
        );
        let url = format!("SPIN_VARIABLE_{upper}_DB_URL");
        let Some(Source::Literal(value)) = app_names.get(url.as_str()) else {
            panic!("{url} is not composed in {DEPLOYMENT}");
        };
        let user = migrate::user_name(migrate::DEFAULT_USER_PREFIX, account.component);
        assert_eq!(
            value,
            &format!("mysql://{user}:$({password})@$(SPIN_VARIABLE_DB_HOST)/$(ORDERLY_DB_NAME)"),
            "{url}"
        );
    }
}

#[test]
fn the_signing_key_secret_holds_what_orderly_admin_writes() {
    let from_secret = |env: &[(String, Source)]| -> BTreeSet<String> {
        env.iter()
            .filter_map(|(_, s)| match s {
                Source::Secret { name, key } if name == "orderly-signing-keys" => Some(key.clone()),
                _ => None,
            })
            .collect()
    };
    let written: BTreeSet<String> = admin::keys::VARIABLES
        .iter()
        .map(|v| (*v).to_owned())
        .collect();
    assert_eq!(from_secret(&deployment_env()), written);
    assert_eq!(from_secret(&spinapp_variables()), written);
}

fn probe_path(container: &Yaml, probe: &str) -> String {
    container[probe]["httpGet"]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no {probe}"))
        .to_owned()
}

#[test]
fn probes_are_the_health_components_routes() {
    let spin = read("spin.toml").unwrap();
    for route in ["/health", "/ready"] {
        assert!(
            spin.contains(&format!("route = \"{route}\"\ncomponent = \"health\"")),
            "spin.toml routes {route} to health"
        );
    }
    let deployment = document(DEPLOYMENT, "Deployment").unwrap();
    let orderly = container(&deployment, "orderly").unwrap();
    assert_eq!(probe_path(orderly, "livenessProbe"), "/health");
    assert_eq!(probe_path(orderly, "startupProbe"), "/health");
    assert_eq!(probe_path(orderly, "readinessProbe"), "/ready");
    let app = document(SPINAPP, "SpinApp").unwrap();
    assert_eq!(probe_path(&app["spec"]["checks"], "liveness"), "/health");
    assert_eq!(probe_path(&app["spec"]["checks"], "readiness"), "/ready");
}

#[test]
fn pods_run_as_non_root_on_a_read_only_root_file_system() {
    for (path, kind, name) in [
        (DEPLOYMENT, "Deployment", "orderly"),
        (JOB, "Job", "migrate"),
    ] {
        let workload = document(path, kind).unwrap();
        let pod = &workload["spec"]["template"]["spec"];
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"].as_bool(),
            Some(true),
            "{path}"
        );
        assert_eq!(
            pod["securityContext"]["runAsUser"].as_i64(),
            Some(65532),
            "{path}"
        );
        assert_eq!(
            pod["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{path}"
        );
        let c = &container(&workload, name).unwrap()["securityContext"];
        assert_eq!(c["readOnlyRootFilesystem"].as_bool(), Some(true), "{path}");
        assert_eq!(
            c["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{path}"
        );
        assert_eq!(
            c["capabilities"]["drop"].as_vec().map(|v| v[0].as_str()),
            Some(Some("ALL")),
            "{path}"
        );
        assert_eq!(
            container(&workload, name).unwrap()["image"].as_str(),
            Some("orderly"),
            "{path}: the image name kustomize replaces"
        );
    }
}

#[test]
fn the_writable_mounts_are_the_images_writable_directories() {
    // deploy/image/assemble.sh makes exactly these writable; everything else is root-owned
    // and read-only, so a mount elsewhere would hide the image's files for nothing.
    let assemble = read("deploy/image/assemble.sh").unwrap();
    let line = assemble
        .lines()
        .find_map(|l| l.strip_prefix("writable_dirs=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("writable_dirs in assemble.sh");
    let writable: BTreeSet<String> = line.split(' ').map(str::to_owned).collect();
    let deployment = document(DEPLOYMENT, "Deployment").unwrap();
    let mounts: BTreeSet<String> = container(&deployment, "orderly").unwrap()["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .filter(|m| m["readOnly"].as_bool() != Some(true))
        .map(|m| m["mountPath"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(mounts, writable);
    for path in [
        "deploy/kubernetes/runtime-config.toml",
        "deploy/image/runtime-config.toml",
    ] {
        assert!(
            read(path)
                .unwrap()
                .contains("path = \"/var/lib/orderly/data/"),
            "{path}: the default store must be on the writable data directory"
        );
    }
}
