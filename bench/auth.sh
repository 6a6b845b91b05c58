#!/usr/bin/env bash
# The cost of the auth middleware (components/auth) on tests/host's orderly-host.
#
#   bench/auth.sh                   build, serve bench/auth.bench.toml on 127.0.0.1:3301, measure
#   BENCH_NO_BUILD=1 bench/auth.sh  use what is in target/
#
# Needs Redis on 127.0.0.1:6379 (the `shared` store holding the revocation list).
# Routes, all answered by the trivial `hello` component:
#   /hello                      no middleware (baseline)
#   /hello-mw                   one pass-through middleware
#   /api/v1/products            auth, anonymous GET (public route: no token, no KV)
#   /api/v1/products/1 + token  auth with a valid ES256 token: verify + one Redis GET
# Each: wrk -t2 -c32 -d8s --latency, keep-alive, after a 2 s warm-up; two rounds, the second
# in reverse order. Prints req/s, p50, p99 and each route's req/s as a ratio of /hello.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ADDR=127.0.0.1:3301
BASE="http://$ADDR"
DURATION=${BENCH_DURATION:-8s}

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    cargo build -p orderly-host
    cargo build --target wasm32-wasip2 --release -p hello -p middleware -p auth
fi
HOST="$ROOT/target/debug/orderly-host"
for f in "$HOST" target/wasm32-wasip2/release/{hello,middleware,auth}.wasm; do
    [[ -e "$f" ]] || { echo "missing $f (run without BENCH_NO_BUILD)" >&2; exit 1; }
done
if curl -s -o /dev/null --max-time 1 "$BASE/"; then
    echo "something already listens on $ADDR; stop it first" >&2
    exit 1
fi

# A fresh key: its JWKS goes to the app, the token signed with it to wrk.
eval "$(cargo run -q -p auth --example bench_token)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/orderly-bench-auth.XXXXXX")
HOST_PID=""
cleanup() {
    if [[ -n "$HOST_PID" ]] && kill -0 "$HOST_PID" 2>/dev/null; then
        kill -INT "$HOST_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$HOST_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$HOST_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

: >"$WORK/rc.toml"  # the shared Redis is the manifest's redis_url (outbound Redis)
SPIN_VARIABLE_TOKEN_JWKS="$BENCH_JWKS" SPIN_VARIABLE_KV_PREFIX="bench-auth-$$" \
    "$HOST" --manifest bench/auth.bench.toml --runtime-config-file "$WORK/rc.toml" \
    --listen "$ADDR" --state-dir "$WORK/state" >"$WORK/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 300); do
    curl -s -o /dev/null --max-time 1 "$BASE/hello" && break
    kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/host.log" >&2; exit 1; }
    sleep 0.1
done

AUTH="Authorization: Bearer $BENCH_TOKEN"
# label|path|auth header (or empty)
CASES=(
    "hello|/hello|"
    "hello-mw|/hello-mw|"
    "auth-anonymous|/api/v1/products|"
    "auth-token|/api/v1/products/1|$AUTH"
)
check() {  # the token route must pass, and a wrong token must be refused
    local code
    for c in "${CASES[@]}"; do
        IFS='|' read -r label path header <<<"$c"
        code=$(curl -s -o /dev/null -w '%{http_code}' ${header:+-H "$header"} "$BASE$path")
        [[ "$code" == 200 ]] || { echo "$label answered $code" >&2; cat "$WORK/host.log" >&2; exit 1; }
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${BENCH_TOKEN}x" "$BASE/api/v1/products/1")
    [[ "$code" == 401 ]] || { echo "a tampered token answered $code" >&2; exit 1; }
}
check

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "?" }'
}
declare -A RPS P50 P99
measure() {  # measure <round> <case>
    local round=$1 label path header out
    IFS='|' read -r label path header <<<"$2"
    out="$WORK/$round-$label.txt"
    wrk -t2 -c32 -d"$DURATION" --latency ${header:+-H "$header"} "$BASE$path" >"$out" 2>&1
    RPS[$label,$round]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    P50[$label,$round]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99[$label,$round]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    if grep -q "Non-2xx" "$out"; then echo "$label: non-2xx responses" >&2; cat "$out" >&2; exit 1; fi
    echo "   round $round $label: ${RPS[$label,$round]} req/s, p50 ${P50[$label,$round]} ms, p99 ${P99[$label,$round]} ms" >&2
}

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for c in "${CASES[@]}"; do
    IFS='|' read -r label path header <<<"$c"
    wrk -t2 -c32 -d2s ${header:+-H "$header"} "$BASE$path" >/dev/null
done
for c in "${CASES[@]}"; do measure 1 "$c"; done
for ((i = ${#CASES[@]} - 1; i >= 0; i--)); do measure 2 "${CASES[i]}"; done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

base=$(( (RPS[hello,1] + RPS[hello,2]) / 2 ))
printf '\n| route | req/s (round 1 / 2) | mean | vs /hello | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n'
for c in "${CASES[@]}"; do
    IFS='|' read -r label path header <<<"$c"
    mean=$(( (RPS[$label,1] + RPS[$label,2]) / 2 ))
    printf '| %s `%s`%s | %s / %s | %s | %s | %s / %s | %s / %s |\n' "$label" "$path" \
        "${header:+ + token}" "${RPS[$label,1]}" "${RPS[$label,2]}" "$mean" \
        "$(awk -v a="$mean" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" \
        "${P50[$label,1]}" "${P50[$label,2]}" "${P99[$label,1]}" "${P99[$label,2]}"
done
