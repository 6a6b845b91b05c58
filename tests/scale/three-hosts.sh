#!/usr/bin/env bash
# Three Orderly hosts behind HAProxy, sharing one MariaDB and one Redis (issue 14): one rate
# limit, revocation and breaker across them, and a rolling restart that loses nothing. The
# checks are in tests/scale/three_hosts.py; this prepares what they run on:
#   - HAProxy from Debian's package (installed when missing);
#   - a database of its own, `orderly_test_<pid>_<unix seconds>` (a killed run's leftover is
#     dropped by the next `cargo xtask test`), migrated and seeded by `cargo xtask vars`,
#     which also gives the Spin variables the three hosts share;
#   - the orderly-host and orderly-admin the test command built (target/debug; built here
#     when missing).
# Environment: ORDERLY_DB_ADMIN_URL (mysql://root@127.0.0.1:3306), REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export PATH="$PATH:/usr/sbin:/sbin"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi
}
if ! command -v haproxy >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null 2>&1 ||
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null; }
fi
haproxy -v | sed -n 1p

for bin in orderly-host orderly-admin; do
  [ -x "target/debug/$bin" ] || cargo build -p orderly-host -p admin
done

export WORK
WORK=$(mktemp -d)
export DB_NAME="orderly_test_$$_$(date +%s)"
export ADMIN_URL=${ORDERLY_DB_ADMIN_URL:-mysql://root@127.0.0.1:3306}
export HOST_BIN=$root/target/debug/orderly-host ADMIN_BIN=$root/target/debug/orderly-admin
export HAPROXY
HAPROXY=$(command -v haproxy)
export MACHINE_SECRET DEMO_PASSWORD DEMO_EMAIL=demo@orderly.local
MACHINE_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
DEMO_PASSWORD="three-hosts-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

cleanup() {
  set +e
  cargo xtask db drop "$DB_NAME" >/dev/null 2>&1 || echo "three-hosts: could not drop $DB_NAME" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT

vars=$(ORDERLY_DB_NAME=$DB_NAME ORDERLY_SEED_MACHINE_CLIENT_SECRET=$MACHINE_SECRET \
  ORDERLY_SEED_DEMO_EMAIL=$DEMO_EMAIL ORDERLY_SEED_DEMO_PASSWORD=$DEMO_PASSWORD \
  ORDERLY_SEED_CATALOGUE=0 cargo xtask vars 2>"$WORK/vars.log") ||
  { cat "$WORK/vars.log" >&2; exit 1; }
eval "$vars"
if ! python3 tests/scale/three_hosts.py; then
  for log in "$WORK"/h*/host.log "$WORK/haproxy.log"; do
    echo "--- $log (last lines)" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
fi
