#!/usr/bin/env bash
# The API benchmark (issues 3, 4 and 9), see bench/README.md:
#   bench/api.sh                       build, serve, measure (~4 min of measuring at 8s per run)
#   BENCH_NO_BUILD=1 bench/api.sh      use what is in target/
#   BENCH_DURATION=3s bench/api.sh     a short smoke run (the figures are then not worth quoting)
#
# Two hosts serve the real components with `cargo xtask up` (MariaDB, Redis, migrate, seed,
# dev secrets; without `spin` installed, the bundled host `orderly-host` in the `dist` profile):
# :3301 the real spin.toml; :3302 the same manifest with the auth middleware removed from the
# catalogue routes (the "unprotected" baseline of the same component). A third server is the
# token-endpoint peer: node-oidc-provider 9 (bench/oidc, pinned by its package-lock.json), its
# default in-memory adapter, one Node process, one client with client_credentials and
# client_secret_basic, ES256 JWT access tokens for one resource (the same grant, client
# authentication and token format as Orderly's).
#
# Each run is `wrk -t2 -c$C -d$BENCH_DURATION --latency` with keep-alive (C = 32 unless said):
#   1. GET /api/v1/products/{id}: unprotected, behind auth anonymously, behind auth with a
#      verified bearer token (two rounds: the first warms the hosts, the summary uses the second);
#   2. GET /api/v1/products?limit=20 (first page), behind auth, anonymous;
#   3. POST /api/v1/users/{id}/orders (one item, no Idempotency-Key);
#   4. POST /oauth2/token (client_credentials, client_secret_basic, scope products:read) at
#      C=8 and C=32, then the peer's POST /token with the same grant at C=8 and C=32. Client
#      secrets are stored as a SHA-256 digest (credentials::hash_client_secret): the token
#      endpoint verifies a digest and signs one ES256 JWT; it no longer runs Argon2id.
# Per run, from counters read just before and just after wrk:
#   - server CPU per request: utime+stime of the serving process (the `orderly-host` child of
#     `cargo xtask up`, or the peer's `node`) from /proc/PID/stat, in clock ticks
#     (`getconf CLK_TCK`), divided by the requests wrk completed;
#   - MariaDB connections opened per request (the server's `Connections` counter);
#   - Redis commands per request (`total_commands_processed` of `INFO stats`; the one INFO
#     command of each reading is included, i.e. +2 over the whole run).
# Then the native ceilings: the same SQL from a native mysql_async pool of 32 connections
# (bench/tool `ceiling get|list|order`), and, for reference only, native Argon2id verifications
# per second (people's passwords still use it; the token endpoint does not).
# Ratios printed: product GET (anonymous, bearer) / get ceiling, list / list ceiling, order /
# order ceiling, token / peer at 8 and 32 connections. The summary table (markdown) is printed
# and written to target/bench/api-summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${BENCH_DURATION:-8s}
SECS=${DURATION%s}
P=127.0.0.1:3301
U=127.0.0.1:3302
PEER_PORT=${BENCH_PEER_PORT:-3310}
PEER=127.0.0.1:$PEER_PORT
ADMIN_URL=${ORDERLY_DB_ADMIN_URL:-mysql://root@127.0.0.1:3306}
# Its own database (never the `orderly` the dev service serves): ORDERLY_BENCH_DB.
DB=${ORDERLY_BENCH_DB:-orderly_bench}
export ORDERLY_DB_NAME=$DB
ISSUER=http://127.0.0.1:3000
AUDIENCE=http://127.0.0.1:3000/api
TICKS=$(getconf CLK_TCK)
SUMMARY=target/bench/api-summary.md

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
command -v node >/dev/null || { echo "node is needed for the token-endpoint peer (bench/oidc)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli is needed to count Redis commands" >&2; exit 1; }
if [[ ! -d bench/oidc/node_modules ]]; then
    (cd bench/oidc && npm ci --no-audit --no-fund >/dev/null)
fi

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    cargo build --profile dist -p orderly-host
    cargo build -p xtask -p orderly-bench
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

wait_up() { # name url log
    for _ in $(seq 1 600); do
        curl -s -o /dev/null "$2" && return 0
        sleep 0.5
    done
    echo "$1 did not start:" >&2; tail -30 "$3" >&2; exit 1
}
start() { # name listen [manifest]
    local log="$WORK/$1.log"
    if [[ -n "${3:-}" ]]; then
        setsid env ORDERLY_LISTEN="$2" ORDERLY_MANIFEST="$3" cargo xtask up >"$log" 2>&1 &
    else
        setsid env ORDERLY_LISTEN="$2" cargo xtask up >"$log" 2>&1 &
    fi
    PIDS+=($!)
    wait_up "$1" "http://$2/health" "$log"
}
# The process that serves `listen`: the one whose executable is `name` (not the `cargo run`
# parent, whose command line also names the binary and the address).
server_pid() { # name pattern
    local pid
    for pid in $(pgrep -f -- "$2"); do
        if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */"$1" ]]; then echo "$pid"; return 0; fi
    done
    echo "no $1 process matches '$2'" >&2; exit 1
}
echo "== starting the protected app on $P" >&2
start protected "$P"
echo "== starting the unprotected variant on $U" >&2
start unprotected "$U" target/bench/spin.unprotected.toml
P_PID=$(server_pid orderly-host "orderly-host.*--listen $P")
U_PID=$(server_pid orderly-host "orderly-host.*--listen $U")

PEER_ID=bench-machine
PEER_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "== starting the peer (node-oidc-provider) on $PEER" >&2
setsid node bench/oidc/server.mjs "$PEER_PORT" "$PEER_ID" "$PEER_SECRET" >"$WORK/peer.log" 2>&1 &
PIDS+=($!)
wait_up peer "http://$PEER/.well-known/openid-configuration" "$WORK/peer.log"
PEER_PID=$(server_pid node "bench/oidc/server.mjs $PEER_PORT")

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
# Both token endpoints: 200 and an access token that is a JWT signed with ES256.
jwt_alg() { python3 -c 'import sys, json, base64
t = json.load(open(sys.argv[1]))["access_token"]
h = t.split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))).get("alg", "?"))' "$WORK/check.out"; }
[[ $(check -X POST -u "orderly-machine:$MACHINE_SECRET" -d 'grant_type=client_credentials&scope=products:read' "http://$P/oauth2/token") == 200 ]] \
    || { echo "token POST failed" >&2; exit 1; }
[[ $(jwt_alg) == ES256 ]] || { echo "Orderly's access token is not an ES256 JWT" >&2; exit 1; }
[[ $(check -X POST -u "$PEER_ID:$PEER_SECRET" -d 'grant_type=client_credentials&scope=products:read' "http://$PEER/token") == 200 ]] \
    || { echo "peer token POST failed" >&2; exit 1; }
[[ $(jwt_alg) == ES256 ]] || { echo "the peer's access token is not an ES256 JWT" >&2; exit 1; }
echo "== both token endpoints answer 200 with an ES256 JWT access token" >&2

cat > "$WORK/order.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"items":[{"product_id":"$PRODUCT","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $ORDER_TOKEN"
LUA
token_lua() { # file id secret
    cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=products:read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s' "$2:$3" | base64 -w0)"
LUA
}
token_lua "$WORK/token.lua" orderly-machine "$MACHINE_SECRET"
token_lua "$WORK/peer.lua" "$PEER_ID" "$PEER_SECRET"

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; } # utime + stime
redis_commands() { redis-cli -h 127.0.0.1 -p 6379 INFO stats | tr -d '\r' | awk -F: '$1=="total_commands_processed" {print $2}'; }

declare -A RPS P50 P99 NON2XX CPU DBC REDIS
run() { # key label connections pid wrk-args...
    local key=$1 label=$2 conns=$3 pid=$4; shift 4
    local db0 db1 rd0 rd1 cpu0 cpu1 out reqs
    db0=$("$TOOL" connections "$ADMIN_URL"); rd0=$(redis_commands); cpu0=$(cpu_ticks "$pid")
    out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency "$@")
    cpu1=$(cpu_ticks "$pid"); rd1=$(redis_commands); db1=$("$TOOL" connections "$ADMIN_URL")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    RPS[$key]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    P50[$key]=$(awk '$1=="50%" {print $2}' <<<"$out")
    P99[$key]=$(awk '$1=="99%" {print $2}' <<<"$out")
    NON2XX[$key]=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); NON2XX[$key]=${NON2XX[$key]:-0}
    CPU[$key]=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$TICKS" -v n="$reqs" 'BEGIN { printf "%.3f", (b-a)*1000/t/(n>0?n:1) }')
    DBC[$key]=$(awk -v a="$db0" -v b="$db1" -v n="$reqs" 'BEGIN { printf "%.4f", (b-a)/(n>0?n:1) }')
    REDIS[$key]=$(awk -v a="$rd0" -v b="$rd1" -v n="$reqs" 'BEGIN { printf "%.2f", (b-a)/(n>0?n:1) }')
    printf '%-46s c=%-2s %10s req/s  p50 %8s  p99 %8s  non-2xx %-6s  CPU %6s ms/req  DB conn/req %s  Redis cmd/req %s\n' \
        "$label" "$conns" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${NON2XX[$key]}" "${CPU[$key]}" "${DBC[$key]}" "${REDIS[$key]}"
}

CPU_MODEL=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
MACHINE="$(nproc) cores, $CPU_MODEL, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
SOFTWARE="orderly $(git rev-parse --short HEAD 2>/dev/null || echo '?'), orderly-host (dist profile) via cargo xtask up; mariadb $(mariadb -h 127.0.0.1 -u root -N -e "SELECT VERSION()" 2>/dev/null || echo "?"); redis $(redis-cli -h 127.0.0.1 -p 6379 INFO server | tr -d '\r' | awk -F: '$1=="redis_version" {print $2}'); node $(node --version), oidc-provider $(node -p 'require("./bench/oidc/node_modules/oidc-provider/package.json").version')"
METHOD="wrk -t2 -c32 (token: -c8 and -c32) -d$DURATION --latency, keep-alive, one fixed product id; CPU = utime+stime of the serving process from /proc/PID/stat / requests"
echo
echo "machine: $MACHINE"
echo "software: $SOFTWARE"
echo "method: $METHOD"
echo
for round in 1 2; do
    echo "-- round $round"
    run "get_u"   "GET product, no middleware"         32 "$U_PID" "http://$U/api/v1/products/$PRODUCT"
    run "get_a"   "GET product, auth, anonymous"       32 "$P_PID" "http://$P/api/v1/products/$PRODUCT"
    run "get_b"   "GET product, auth, bearer token"    32 "$P_PID" -H "Authorization: Bearer $READ_TOKEN" "http://$P/api/v1/products/$PRODUCT"
    run "list"    "GET product list (20), auth, anon"  32 "$P_PID" "http://$P/api/v1/products?limit=20"
done
echo "-- writes and tokens"
run "order"   "POST order, bearer token"                      32 "$P_PID" -s "$WORK/order.lua" "http://$P/api/v1/users/$USER/orders"
run "tok8"    "POST /oauth2/token client_credentials"          8 "$P_PID" -s "$WORK/token.lua" "http://$P/oauth2/token"
run "tok32"   "POST /oauth2/token client_credentials"         32 "$P_PID" -s "$WORK/token.lua" "http://$P/oauth2/token"
run "peer8"   "peer: oidc-provider POST /token"                8 "$PEER_PID" -s "$WORK/peer.lua" "http://$PEER/token"
run "peer32"  "peer: oidc-provider POST /token"               32 "$PEER_PID" -s "$WORK/peer.lua" "http://$PEER/token"

echo
echo "-- ceiling: the same SQL from a native mysql_async pool (32 connections)"
ROOT_URL="$ADMIN_URL/$DB"
declare -A CEIL
for scenario in get list order; do
    line=$("$TOOL" ceiling "$ROOT_URL" "$scenario" 32 "$SECS" "$PRODUCT" "$USER")
    echo "$line"
    CEIL[$scenario]=$(awk '{print $2}' <<<"$line")
done
echo "-- for reference (people's passwords; the token endpoint verifies a SHA-256 digest instead)"
"$TOOL" argon2 "$SECS"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3fx", a/b; else print "n/a" }'; }
row() { # key label baseline-label baseline-value
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "${RPS[$1]}" "${P50[$1]}" "${P99[$1]}" "${NON2XX[$1]}" \
        "${CPU[$1]}" "${DBC[$1]}" "${REDIS[$1]}" "$3" "$(ratio "${RPS[$1]}" "$4")"
}
{
    echo "API benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "- machine: $MACHINE"
    echo "- software: $SOFTWARE"
    echo "- method: $METHOD; DB conn/req = MariaDB \`Connections\` delta / requests; Redis cmd/req = \`total_commands_processed\` delta / requests; ceilings: bench/tool \`ceiling\` (native mysql_async pool of 32, same SQL, ${SECS}s)"
    echo
    echo "| run | req/s | p50 | p99 | non-2xx | server CPU ms/req | DB conn/req | Redis cmd/req | baseline (req/s) | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    row get_u  "GET /products/{id}, no middleware (c=32)"      "native get ceiling (${CEIL[get]})"   "${CEIL[get]}"
    row get_a  "GET /products/{id}, auth, anonymous (c=32)"    "native get ceiling (${CEIL[get]})"   "${CEIL[get]}"
    row get_b  "GET /products/{id}, auth, bearer (c=32)"       "native get ceiling (${CEIL[get]})"   "${CEIL[get]}"
    row list   "GET /products?limit=20, auth, anonymous (c=32)" "native list ceiling (${CEIL[list]})" "${CEIL[list]}"
    row order  "POST /users/{id}/orders (c=32)"                "native order ceiling (${CEIL[order]})" "${CEIL[order]}"
    row tok8   "POST /oauth2/token client_credentials (c=8)"   "oidc-provider c=8 (${RPS[peer8]})"   "${RPS[peer8]}"
    row tok32  "POST /oauth2/token client_credentials (c=32)"  "oidc-provider c=32 (${RPS[peer32]})" "${RPS[peer32]}"
    row peer8  "peer: oidc-provider POST /token (c=8)"         "-" 0
    row peer32 "peer: oidc-provider POST /token (c=32)"        "-" 0
    echo
    echo "Auth middleware cost (same run): anonymous / no middleware $(ratio "${RPS[get_a]}" "${RPS[get_u]}"), bearer / no middleware $(ratio "${RPS[get_b]}" "${RPS[get_u]}"). GET rows: the second of two rounds. Peer rows: DB and Redis columns count the whole machine (the peer uses neither)."
} > "$SUMMARY"
echo
echo "-- summary (also in $SUMMARY)"
echo
cat "$SUMMARY"
