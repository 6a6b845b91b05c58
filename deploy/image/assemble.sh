#!/usr/bin/env bash
# Builds what the container image ships and lays it out as the image's root file system.
# The Containerfile runs this in its build stage; .ci/run runs it on the host and builds
# the image from the result (`--target image-prebuilt`), so both images hold the same tree.
#
#   deploy/image/assemble.sh OUT
#
# OUT/rootfs, every file owned by root:
#   /app/spin.toml, /app/target/wasm32-wasip2/release/*.wasm   the Spin application, unchanged
#   /app/migrations/*.sql                                       for the migration Job
#   /etc/orderly/runtime-config.toml                            default runtime config (mounted over in Kubernetes)
#   /usr/local/bin/orderly-host, orderly-migrate, orderly-admin the release binaries
#   /lib, /lib64 …                                              exactly the shared libraries they load (ldd)
#   /etc/passwd, /etc/group                                     the non-root user 65532 (orderly)
#   /var/lib/orderly/logs                                       read-only: guest output goes to stdout only
#   the writable directories below, mode 1777 (any user id may run the image, as OpenShift
#   and `runAsUser` do; mount volumes there when the root file system is read-only)
#
# Environment: CARGO_PROFILE_NAME (default `dist`, see Cargo.toml), CARGO (default cargo),
# ORDERLY_BIN_DIR (take orderly-host, orderly-migrate and orderly-admin from this directory
# instead of building them: .ci/run passes target/debug, which its tests just built).
set -euo pipefail
out=${1:?usage: assemble.sh OUT}
cd "$(dirname "$0")/../.."
root=$PWD
cargo=${CARGO:-cargo}
profile=${CARGO_PROFILE_NAME:-dist}

# The wasm components exactly as spin.toml builds them (`[component.*.build] command`).
packages=$(sed -n 's/^command = "cargo build --target wasm32-wasip2 --release -p \([a-z0-9_-]*\)"$/\1/p' spin.toml)
[ -n "$packages" ] || { echo "assemble: no component build commands in spin.toml" >&2; exit 1; }
args=()
for p in $packages; do args+=(-p "$p"); done
"$cargo" build --locked --target wasm32-wasip2 --release "${args[@]}"

# The native binaries.
if [ -n "${ORDERLY_BIN_DIR:-}" ]; then
  bin=$(cd "$ORDERLY_BIN_DIR" && pwd)
  for b in orderly-host orderly-migrate orderly-admin; do
    [ -x "$bin/$b" ] || { echo "assemble: $bin/$b is missing (ORDERLY_BIN_DIR)" >&2; exit 1; }
  done
  echo "assemble: native binaries from $bin (prebuilt)"
else
  "$cargo" build --locked --profile "$profile" -p orderly-host -p migrate -p admin
  bin="$root/target/$profile"
fi

writable_dirs="/var/lib/orderly/data /var/cache/orderly /tmp"

rm -rf "$out"
rootfs="$out/rootfs"
mkdir -p "$rootfs/app/target/wasm32-wasip2/release" "$rootfs/etc/orderly" "$rootfs/usr/local/bin" \
  "$rootfs/var/lib/orderly/logs"
for dir in $writable_dirs; do
  mkdir -p "$rootfs$dir"
  chmod 1777 "$rootfs$dir"
done

install -m 0644 spin.toml "$rootfs/app/spin.toml"
# Every `source = "…wasm"` of the manifest, at the same relative path.
for source in $(sed -n 's/^source = "\(target\/wasm32-wasip2\/release\/[a-z0-9_-]*\.wasm\)"$/\1/p' spin.toml); do
  install -m 0644 "$source" "$rootfs/app/$source"
done
mkdir -p "$rootfs/app/migrations"
install -m 0644 migrations/*.sql "$rootfs/app/migrations/"
install -m 0644 deploy/image/runtime-config.toml "$rootfs/etc/orderly/runtime-config.toml"
for b in orderly-host orderly-migrate orderly-admin; do
  install -m 0755 "$bin/$b" "$rootfs/usr/local/bin/$b"
done

# The shared libraries the binaries load (glibc, libgcc_s, …), at the paths ldd resolves.
for lib in $(for b in "$rootfs"/usr/local/bin/*; do
  ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u); do
  real=$(readlink -f "$lib")
  mkdir -p "$rootfs$(dirname "$lib")"
  install -m 0755 "$real" "$rootfs$lib"
done

printf 'root:x:0:0:root:/root:/sbin/nologin\norderly:x:65532:65532:orderly:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\norderly:x:65532:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 0555 "$rootfs/var/lib/orderly/logs"

echo "assemble: $(find "$out" -type f | wc -l) files, $(du -sh "$out" | cut -f1) in $out"
