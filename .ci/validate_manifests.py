"""Validates every Kubernetes manifest under deploy/ offline (.ci/deploy-lint.sh).

- Built-in kinds: against the Kubernetes OpenAPI schemas shipped in kubernetes-validate
  (the versions below), strictly: an unknown field is an error, as `kubectl apply` refuses it.
- SpinApp: against deploy/spinkube/spinapp.schema.json (strict as well).
- Kustomization: every listed resource exists.
- Anything else with `apiVersion` and `kind` (a CRD we have no schema for) fails, so a new
  kind cannot slip through unchecked; YAML without them (tool configuration) is skipped
  and listed.

Prints 'N passed, N failed' and exits non-zero on any failure.
"""

import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

# The oldest Kubernetes minor these manifests support (sleep preStop hooks, PDB
# unhealthyPodEvictionPolicy) and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.33.0", kubernetes_validate.latest_version()]
ROOT = pathlib.Path(__file__).resolve().parent.parent
SPINAPP_SCHEMA = json.loads((ROOT / "deploy/spinkube/spinapp.schema.json").read_text())


def check_kustomization(path, doc):
    for entry in doc.get("resources", []):
        target = (path.parent / entry).resolve()
        if not target.exists():
            raise ValueError(f"resource {entry} does not exist")
        if target.is_dir() and not (target / "kustomization.yaml").exists():
            raise ValueError(f"resource {entry} is a directory without kustomization.yaml")


def main():
    passed, failed, skipped = 0, 0, []
    files = sorted(p for p in (ROOT / "deploy").rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    for path in files:
        rel = path.relative_to(ROOT)
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as error:
            print(f"FAIL {rel}: not YAML: {error}")
            failed += 1
            continue
        for doc in docs:
            kind = doc.get("kind") if isinstance(doc, dict) else None
            if not kind or "apiVersion" not in doc:
                skipped.append(str(rel))
                continue
            what = f"{rel} {kind}/{doc.get('metadata', {}).get('name', '-')}"
            try:
                if kind == "Kustomization":
                    check_kustomization(path, doc)
                elif kind == "SpinApp":
                    jsonschema.validate(doc, SPINAPP_SCHEMA)
                else:
                    for version in KUBERNETES_VERSIONS:
                        kubernetes_validate.validate(doc, version, strict=True)
                print(f"ok   {what}")
                passed += 1
            except kubernetes_validate.SchemaNotFoundError:
                print(f"FAIL {what}: no schema for {doc['apiVersion']} {kind}")
                failed += 1
            except (jsonschema.ValidationError, kubernetes_validate.ValidationError, ValueError) as error:
                message = getattr(error, "message", str(error))
                path_in_doc = ".".join(str(p) for p in getattr(error, "absolute_path", []))
                print(f"FAIL {what}: {path_in_doc}: {message}")
                failed += 1
    for rel in sorted(set(skipped)):
        print(f"skip {rel}: not a Kubernetes object (no apiVersion/kind)")
    print(f"manifests: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
