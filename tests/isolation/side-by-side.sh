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

# shellcheck source=tests/support/service.sh
. tests/support/service.sh
service_db=orderly_sidebyside
port=$(free_port)
work=$(mktemp -d)
machine_secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
demo_password="side-by-side-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
demo_email=demo@orderly.local
load_pid=''

admin_url=${ORDERLY_DB_ADMIN_URL:-mysql://root@127.0.0.1:3306}
sql() { # query on the service database, as the admin account; tab-separated rows
  python3 - "$admin_url" "$service_db" "$1" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "support"))
from orderly_http import sql
for row in sql(*sys.argv[1:4]):
    print("\t".join(row))
PY
}

cleanup() {
  set +e
  touch "$work/stop"
  [ -n "$load_pid" ] && wait "$load_pid" 2>/dev/null
  service_stop
  rm -rf "$work"
}
trap cleanup EXIT

echo "== the dev service: cargo xtask up on $service_db, port $port"
service_start "$service_db" "$port" "$work/service.log" \
  ORDERLY_SEED_MACHINE_CLIENT_SECRET="$machine_secret" ORDERLY_SEED_DEMO_PASSWORD="$demo_password" \
  ORDERLY_SEED_DEMO_EMAIL="$demo_email"
base=$SERVICE_BASE

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
