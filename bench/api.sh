#!/usr/bin/env bash
# The API benchmark (issues 3 and 4), see bench/README.md:
#   bench/api.sh                       build, serve, measure (~3 min of measuring)
#   BENCH_NO_BUILD=1 bench/api.sh      use what is in target/
#
# Two hosts serve the real components with `cargo xtask up` (MariaDB, Redis, migrate, seed,
# dev secrets): :3301 the real spin.toml; :3302 the same manifest with the auth middleware
# removed from the catalogue routes (the "unprotected" baseline of the same component).
# Then, each with `wrk -t2 -c32 -d$BENCH_DURATION --latency` and keep-alive:
#   1. GET /api/v1/products/{id}: unprotected, behind auth anonymously, behind auth with a
#      verified bearer token  -> the cost of the auth middleware as a ratio;
#   2. GET /api/v1/products (first page of 20);
#   3. POST /api/v1/users/{id}/orders (one item, no Idempotency-Key);
#   4. POST /oauth2/token (client_credentials, client_secret_basic: one Argon2id verify each);
# with MariaDB's `Connections` counter read before and after each run (server connections
# opened per request), and the ceiling: the same SQL from a native mysql_async pool of 32
# connections (bench/tool `ceiling`), plus native Argon2id verifications per second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${BENCH_DURATION:-8s}
SECS=${DURATION%s}
P=127.0.0.1:3301
U=127.0.0.1:3302
ADMIN_URL=${ORDERLY_DB_ADMIN_URL:-mysql://root@127.0.0.1:3306}
DB=${ORDERLY_DB_NAME:-orderly}
ISSUER=http://127.0.0.1:3000
AUDIENCE=http://127.0.0.1:3000/api

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    cargo build -p orderly-host -p xtask -p orderly-bench
fi
TOOL="$ROOT/target/debug/orderly-bench"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/orderly-api-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -INT -- "-$pid" 2>/dev/null || kill -INT "$pid" 2>/dev/null || true; done
    sleep 1
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The unprotected variant: the same manifest without the middleware on the catalogue.
mkdir -p target/bench
python3 - "$ROOT/spin.toml" "$ROOT/target/bench/spin.unprotected.toml" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
out, route = [], None
for line in text.splitlines():
    m = re.match(r'route = "(.*)"', line)
    if m:
        route = m.group(1)
    if line.startswith("dependencies.middleware") and route and route.startswith("/api/v1/products"):
        continue
    out.append(line.replace('source = "target/', 'source = "../../target/'))
open(dst, "w").write("\n".join(out) + "\n")
PY

# The per-client and per-address limits (300/min by default) would turn the run into a
# measurement of 429s: lift them for the benchmark (the counters are still incremented).
export SPIN_VARIABLE_RATE_LIMIT_PER_MINUTE=1000000000
export SPIN_VARIABLE_LOGIN_ATTEMPTS_PER_MINUTE=1000000000

start() { # name listen [manifest]
    local log="$WORK/$1.log"
    if [[ -n "${3:-}" ]]; then
        setsid env ORDERLY_LISTEN="$2" ORDERLY_MANIFEST="$3" cargo xtask up >"$log" 2>&1 &
    else
        setsid env ORDERLY_LISTEN="$2" cargo xtask up >"$log" 2>&1 &
    fi
    PIDS+=($!)
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "http://$2/health" && return 0
        sleep 0.5
    done
    echo "$1 did not start:" >&2; tail -30 "$log" >&2; exit 1
}
echo "== starting the protected app on $P" >&2
start protected "$P"
echo "== starting the unprotected variant on $U" >&2
start unprotected "$U" target/bench/spin.unprotected.toml

SECRETS=target/orderly/dev-secrets.env
secret() { grep "^$1=" "$SECRETS" | cut -d= -f2- ; }
secret SIGNING_KEY | sed 's/\\n/\n/g' > "$WORK/key.pem"
KID=$(secret SIGNING_KID)
MACHINE_SECRET=$(secret MACHINE_CLIENT_SECRET)

read -r PRODUCT USER < <("$TOOL" fixture "$ADMIN_URL" "$DB")
READ_TOKEN=$("$TOOL" token "$WORK/key.pem" "$KID" "$ISSUER" "$AUDIENCE" orderly-machine orderly-machine "products:read")
ORDER_TOKEN=$("$TOOL" token "$WORK/key.pem" "$KID" "$ISSUER" "$AUDIENCE" "$USER" orderly-web "orders:read orders:write")

# Sanity: each request works before it is measured.
check() { local code; code=$(curl -s -o "$WORK/check.out" -w '%{http_code}' "$@"); [[ $code == 2* ]] || { echo "$code $*" >&2; head -c 600 "$WORK/check.out" >&2; echo >&2; }; echo "$code"; }
[[ $(check "http://$U/api/v1/products/$PRODUCT") == 200 ]] || { echo "unprotected GET failed" >&2; exit 1; }
[[ $(check -H "Authorization: Bearer $READ_TOKEN" "http://$P/api/v1/products/$PRODUCT") == 200 ]] || { echo "protected GET failed" >&2; exit 1; }
[[ $(check -X POST -H "Authorization: Bearer $ORDER_TOKEN" -H 'Content-Type: application/json' \
      -d "{\"items\":[{\"product_id\":\"$PRODUCT\",\"quantity\":1}]}" "http://$P/api/v1/users/$USER/orders") == 201 ]] \
    || { echo "order POST failed" >&2; exit 1; }
[[ $(check -X POST -u "orderly-machine:$MACHINE_SECRET" -d 'grant_type=client_credentials&scope=products:read' "http://$P/oauth2/token") == 200 ]] \
    || { echo "token POST failed" >&2; exit 1; }

cat > "$WORK/order.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"items":[{"product_id":"$PRODUCT","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $ORDER_TOKEN"
LUA
BASIC=$(printf '%s' "orderly-machine:$MACHINE_SECRET" | base64 -w0)
cat > "$WORK/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=products:read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $BASIC"
LUA

run() { # label wrk-args...
    local label=$1; shift
    local before after out rps reqs
    before=$("$TOOL" connections "$ADMIN_URL")
    out=$(wrk -t2 -c32 -d"$DURATION" --latency "$@")
    after=$("$TOOL" connections "$ADMIN_URL")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    local p50 p99 non2xx
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%-44s %10s req/s  p50 %8s  p99 %8s  non-2xx %-6s  server connections/request %s\n' \
        "$label" "$rps" "$p50" "$p99" "${non2xx:-0}" \
        "$(awk -v a="$before" -v b="$after" -v n="$reqs" 'BEGIN { printf "%.4f", (b-a)/(n>0?n:1) }')"
}

echo
echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//'); wrk -t2 -c32 -d$DURATION keep-alive"
echo
for round in 1 2; do
    echo "-- round $round"
    run "GET product, no middleware"        "http://$U/api/v1/products/$PRODUCT"
    run "GET product, auth, anonymous"      "http://$P/api/v1/products/$PRODUCT"
    run "GET product, auth, bearer token"   -H "Authorization: Bearer $READ_TOKEN" "http://$P/api/v1/products/$PRODUCT"
    run "GET product list (20), auth, anon" "http://$P/api/v1/products?limit=20"
done
run "POST order, bearer token"          -s "$WORK/order.lua" "http://$P/api/v1/users/$USER/orders"
run "POST /oauth2/token client_credentials" -s "$WORK/token.lua" "http://$P/oauth2/token"

echo
echo "-- ceiling: the same SQL from a native mysql_async pool (32 connections)"
ROOT_URL="$ADMIN_URL/$DB"
"$TOOL" ceiling "$ROOT_URL" get 32 "$SECS" "$PRODUCT" "$USER"
"$TOOL" ceiling "$ROOT_URL" list 32 "$SECS" "$PRODUCT" "$USER"
"$TOOL" ceiling "$ROOT_URL" order 32 "$SECS" "$PRODUCT" "$USER"
"$TOOL" argon2 "$SECS"
