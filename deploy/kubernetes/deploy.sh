#!/usr/bin/env bash
# Deploys a release to the cluster of the current kubectl context: the migration Job first,
# then the app, then waits for the rollout. The release workflow runs it for `staging` and
# `production`; an operator can run it by hand.
#
#   deploy/kubernetes/deploy.sh --image ghcr.io/<owner>/<repo>@sha256:… --namespace orderly \
#       --host api.example.com --issuer https://api.example.com [--render DIR]
#
# --render DIR writes the two rendered manifests (migrate.yaml, app.yaml) to DIR and applies
# nothing. Needs kubectl (with its built-in kustomize). The Secrets of docs/deploy.md must
# exist in the namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

image='' namespace='' host='' issuer='' render=''
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$2; shift 2 ;;
    --namespace) namespace=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --issuer) issuer=$2; shift 2 ;;
    --render) render=$2; shift 2 ;;
    *) echo "deploy.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for required in image namespace host issuer; do
  if [ -z "${!required}" ]; then echo "deploy.sh: --$required is required" >&2; exit 2; fi
done
case "$image" in *@sha256:*) ;; *) echo "deploy.sh: --image must be pinned by digest (…@sha256:…)" >&2; exit 2 ;; esac
case "$issuer" in https://*) ;; *) echo "deploy.sh: --issuer must be an https URL" >&2; exit 2 ;; esac

# An overlay per part, outside the repository: namespace, image, issuer/audience and host.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for part in migrate app; do
  mkdir -p "$work/$part"
  # kustomize takes a base only by a relative path.
  base=$(realpath --relative-to="$work/$part" "$here/$part")
  cat >"$work/$part/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $namespace
resources:
  - $base
images:
  # The bases name the image localhost/orderly:dev (what a local build is tagged).
  - name: localhost/orderly
    newName: ${image%@*}
    digest: ${image#*@}
patches:
  - target:
      kind: ConfigMap
      name: orderly-config
    patch: |-
      - op: replace
        path: /data/issuer
        value: "$issuer"
      - op: replace
        path: /data/audience
        value: "$issuer/api"
YAML
  if [ "$part" = app ]; then
    cat >>"$work/$part/kustomization.yaml" <<YAML
  - target:
      kind: Ingress
      name: orderly
    patch: |-
      - op: replace
        path: /spec/tls/0/hosts/0
        value: "$host"
      - op: replace
        path: /spec/rules/0/host
        value: "$host"
YAML
  fi
done

if [ -n "$render" ]; then
  mkdir -p "$render"
  kubectl kustomize "$work/migrate" >"$render/migrate.yaml"
  kubectl kustomize "$work/app" >"$render/app.yaml"
  echo "deploy.sh: rendered to $render"
  exit 0
fi

echo "== migration Job"
kubectl -n "$namespace" delete job orderly-migrate --ignore-not-found --wait=true
kubectl apply -k "$work/migrate"
# Complete or failed, whichever comes first.
for _ in $(seq 1 180); do
  if kubectl -n "$namespace" wait --for=condition=complete --timeout=0 job/orderly-migrate >/dev/null 2>&1; then
    echo "migration Job complete"; break
  fi
  if kubectl -n "$namespace" wait --for=condition=failed --timeout=0 job/orderly-migrate >/dev/null 2>&1; then
    kubectl -n "$namespace" logs job/orderly-migrate --tail=50 || true
    echo "deploy.sh: the migration Job failed; nothing was rolled out" >&2
    exit 1
  fi
  sleep 5
done
kubectl -n "$namespace" wait --for=condition=complete --timeout=0 job/orderly-migrate >/dev/null
kubectl -n "$namespace" logs job/orderly-migrate --tail=20 || true

echo "== rollout"
kubectl apply -k "$work/app"
kubectl -n "$namespace" rollout status deployment/orderly --timeout=10m
