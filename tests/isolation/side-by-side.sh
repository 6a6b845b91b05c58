#!/usr/bin/env bash
# Side by side (issue 15): the dev service keeps serving while the end-to-end suite runs, and
# the suite never touches the service's data.
#
#   1. `cargo xtask up` serves its own database (ORDERLY_DB_NAME=orderly_sidebyside, a free
#      port; ORDERLY_HOST_BIN: the orderly-host the test command built, target/debug);
#   2. tests/isolation/load.py signs a customer in and keeps reading a product through
#      `auth` with a bearer token and placing orders against that service;
#   3. the service's tables are fingerprinted, then `cargo xtask test` runs the end-to-end
#      suite (package orderly-e2e) on its own per-run database;
#   4. the load stops: it must have seen no error at all, and the service's data must be as it
#      was, plus exactly the orders the load placed (each once).
# The service database and its accounts are dropped at the end (`cargo xtask db drop`).
# Environment: ORDERLY_DB_ADMIN_URL (mysql://root@127.0.0.1:3306).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

service_db=orderly_sidebyside
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
work=$(mktemp -d)
machine_secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
demo_password="side-by-side-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
demo_email=demo@orderly.local
service_pid='' load_pid=''
host_bin=${ORDERLY_HOST_BIN:-$root/target/debug/orderly-host}
[ -x "$host_bin" ] || cargo build -p orderly-host

admin_url=${ORDERLY_DB_ADMIN_URL:-mysql://root@127.0.0.1:3306}
sql() { # query on the service database, as the admin account; tab-separated rows
  python3 - "$admin_url" "$service_db" "$1" <<'PY'
import shutil, subprocess, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
args = [shutil.which("mariadb") or shutil.which("mysql") or "mariadb", "--protocol=TCP",
        "-h", url.hostname or "127.0.0.1", "-P", str(url.port or 3306),
        "-u", urllib.parse.unquote(url.username or "root"), "-N", "-B", sys.argv[2], "-e", sys.argv[3]]
if url.password:
    args.insert(1, "--password=" + urllib.parse.unquote(url.password))
sys.stdout.write(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
PY
}

cleanup() {
  set +e
  touch "$work/stop"
  [ -n "$load_pid" ] && wait "$load_pid" 2>/dev/null
  if [ -n "$service_pid" ]; then
    kill -INT -- "-$service_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$service_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$service_pid" 2>/dev/null
  fi
  cargo xtask db drop "$service_db" >/dev/null 2>&1 || echo "side-by-side: could not drop $service_db" >&2
  rm -rf "$work"
}
trap cleanup EXIT

echo "== the dev service: cargo xtask up on $service_db, $base"
cargo xtask db drop "$service_db" >/dev/null 2>&1 || true   # a killed run's leftover
set -m  # the service in its own process group (cargo run and the host under it)
ORDERLY_DB_NAME=$service_db ORDERLY_LISTEN=127.0.0.1:$port ORDERLY_HOST_BIN=$host_bin \
  ORDERLY_SEED_MACHINE_CLIENT_SECRET=$machine_secret ORDERLY_SEED_DEMO_PASSWORD=$demo_password \
  ORDERLY_SEED_DEMO_EMAIL=$demo_email \
  cargo xtask up >"$work/service.log" 2>&1 &
service_pid=$!
set +m
for _ in $(seq 1 900); do
  curl -fs -o /dev/null "$base/ready" && break
  kill -0 "$service_pid" 2>/dev/null || { tail -n 40 "$work/service.log" >&2; echo "side-by-side: the service exited" >&2; exit 1; }
  sleep 1
done
curl -fs -o /dev/null "$base/ready" || { tail -n 40 "$work/service.log" >&2; echo "side-by-side: the service never became ready" >&2; exit 1; }
grep -m1 "^up: serving database" "$work/service.log"

echo "== steady load on the service"
python3 tests/isolation/load.py "$base" "$machine_secret" "$demo_email" "$demo_password" \
  "$work/stop" "$work/load.json" &
load_pid=$!
for _ in $(seq 1 60); do
  [ "$(sql 'SELECT COUNT(*) FROM orders')" -gt 0 ] 2>/dev/null && break
  kill -0 "$load_pid" 2>/dev/null || { echo "side-by-side: the load generator stopped" >&2; exit 1; }
  sleep 1
done

# What the suite must not change: every table but the ones the load writes, and of
# products everything but the load product's stock.
fingerprint() {
  sql "CHECKSUM TABLE users, oauth_clients, authorization_codes, refresh_tokens EXTENDED" | cut -f2
  sql "SET SESSION group_concat_max_len = 16777216;
    SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', HEX(id), sku, name, status, price_minor, currency) ORDER BY id)) FROM products"
}
fingerprint >"$work/before"
orders_before=$(sql "SELECT COUNT(*) FROM orders")

echo "== the end-to-end suite, on its own database, while the service serves"
start=$(date +%s)
if cargo nextest --version >/dev/null 2>&1; then
  cargo xtask test -- -E 'package(orderly-e2e)'
else
  cargo xtask test   # cargo test takes no package filter beside --workspace: every test
fi
echo "end-to-end suite: $(($(date +%s) - start)) s"

touch "$work/stop"
wait "$load_pid"
load_pid=''
cat "$work/load.json"; echo
fingerprint >"$work/after"

python3 - "$work/load.json" "$orders_before" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
if load["errors"]:
    sys.exit(f"side-by-side: the service answered {load['errors']} errors during the suite: {load['error_samples']}")
if load["reads"] < 20 or len(load["order_ids"]) < 5:
    sys.exit(f"side-by-side: too little load to prove anything: {load['reads']} reads, {len(load['order_ids'])} orders")
PY
diff -u "$work/before" "$work/after" || { echo "side-by-side: the service's data changed under the suite" >&2; exit 1; }

ids=$(python3 -c 'import json,sys; print(",".join("UNHEX(\x27%s\x27)" % i.replace("-", "") for i in json.load(open(sys.argv[1]))["order_ids"]))' "$work/load.json")
acknowledged=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["order_ids"]))' "$work/load.json")
found=$(sql "SELECT COUNT(*) FROM orders WHERE id IN ($ids)")
[ "$found" = "$acknowledged" ] || { echo "side-by-side: $acknowledged orders acknowledged, $found in the database" >&2; exit 1; }
strangers=$(sql "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email <> '$demo_email'")
[ "$strangers" = 0 ] || { echo "side-by-side: $strangers orders in the service's database are not the load's" >&2; exit 1; }
echo "side-by-side: service answered every request during the suite; its data is untouched ($acknowledged orders placed by the load, each once; $orders_before before the suite)"
