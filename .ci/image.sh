#!/usr/bin/env bash
# The container image, built and served (.ci/run and the GitHub workflows):
#   1. deploy/image/assemble.sh lays out the image's tree in target/image (release builds);
#   2. buildah builds the image from that tree (Dockerfile target image-prebuilt: the
#      same tree the from-source target builds in a Rust image, which cannot be pulled on
#      machines that reach no container registry);
#   3. deploy/image/smoke-test.sh serves the image against MariaDB and Redis.
# Where buildah is missing and cannot be installed, or cannot build or run here, the exact
# command and its error are printed and step 3 serves the tree itself instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

priv=()
if [ "$(id -u)" -ne 0 ]; then priv=(sudo --preserve-env=ORDERLY_DB_ADMIN_URL,ORDERLY_DB_NAME,REDIS_URL,PATH); fi
image=localhost/orderly:dev

start=$(date +%s)
deploy/image/assemble.sh target/image
echo "image tree assembled in $(($(date +%s) - start)) s"

if ! command -v buildah >/dev/null 2>&1; then
  "${priv[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q buildah >/dev/null 2>&1 ||
    { "${priv[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 &&
      "${priv[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q buildah >/dev/null 2>&1; } || true
fi

build=("${priv[@]}" buildah --storage-driver vfs bud --isolation chroot --format docker
  --target image-prebuilt --tag "$image" --file Dockerfile .)
built=0
if command -v buildah >/dev/null 2>&1; then
  start=$(date +%s)
  if "${build[@]}" >target/image-build.log 2>&1; then
    built=1
    size=$("${priv[@]}" buildah --storage-driver vfs inspect --type image --format '{{.Size}}' "$image" 2>/dev/null || true)
    echo "image $image built in $(($(date +%s) - start)) s (${size:-?} bytes): ${build[*]}"
  else
    echo "IMAGE NOT BUILT: \`${build[*]}\` failed:"
    tail -n 15 target/image-build.log
  fi
else
  echo "IMAGE NOT BUILT: no buildah on this machine and \`apt-get install buildah\` failed"
fi

if [ "$built" = 1 ]; then
  "${priv[@]}" deploy/image/smoke-test.sh image "$image"
else
  deploy/image/smoke-test.sh tree target/image
fi
