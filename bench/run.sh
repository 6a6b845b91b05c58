#!/usr/bin/env bash
# First Orderly benchmark: HTTP keep-alive throughput and latency on tests/host's
# orderly-host (the Spin-compatible host), see bench/README.md.
#
#   bench/run.sh                 build, serve bench/spin.bench.toml on 127.0.0.1:3300, measure
#   BENCH_NO_BUILD=1 bench/run.sh   skip the cargo builds (use what is in target/)
#
# Routes: /hello (trivial component), /hello-mw and /hello-mw2 (the same behind one and two
# pass-through middlewares), /health (the real health component with the edge-http layer).
# Each route: `wrk -t2 -c32 -d8s --latency` with keep-alive, two rounds interleaved (the
# second in reverse order); then /hello with `Connection: close`, and /hello and /hello-mw on
# one keep-alive connection (a 44 ms Nagle/delayed-ACK stall would show as p50 ~44 ms there).
# Loopback only; about 100 s of measuring; the host is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ADDR=127.0.0.1:3300
BASE="http://$ADDR"
DURATION=${BENCH_DURATION:-8s}
ROUTES=(/hello /hello-mw /hello-mw2 /health)

# --- wrk ----------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    echo "== installing wrk" >&2
    if ! apt-get install -y wrk >/dev/null; then
        apt-get update >/dev/null
        apt-get install -y wrk >/dev/null
    fi
fi

# --- build --------------------------------------------------------------------------
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    echo "== building orderly-host (dev profile: dependencies at opt-level 3) and the wasm" >&2
    cargo build -p orderly-host
    cargo build --target wasm32-wasip2 --release -p hello -p middleware -p health
fi
HOST="$ROOT/target/debug/orderly-host"
for f in "$HOST" target/wasm32-wasip2/release/{hello,middleware,health}.wasm; do
    [[ -e "$f" ]] || { echo "missing $f (run without BENCH_NO_BUILD)" >&2; exit 1; }
done

if curl -s -o /dev/null --max-time 1 "$BASE/"; then
    echo "something already listens on $ADDR; stop it first" >&2
    exit 1
fi

# --- serve --------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/orderly-bench.XXXXXX")
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

# /health does no I/O; the manifest still requires the variable.
SPIN_VARIABLE_HEALTH_DB_URL="mysql://bench:bench@127.0.0.1/none" \
    "$HOST" --manifest bench/spin.bench.toml --listen "$ADDR" --state-dir "$WORK/state" \
    >"$WORK/host.log" 2>&1 &
HOST_PID=$!

for _ in $(seq 300); do
    curl -s -o /dev/null --max-time 1 "$BASE/hello" && break
    kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/host.log" >&2; exit 1; }
    sleep 0.1
done
for r in "${ROUTES[@]}"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$r")
    [[ "$code" == 200 ]] || { echo "$r answered $code" >&2; cat "$WORK/host.log" >&2; exit 1; }
done

# --- measure ------------------------------------------------------------------------
# to_ms 1.23ms | 456.00us | 1.02s  ->  milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "?" }'
}
# run <label> <wrk args...>: saves wrk's output; sets RPS P50 P99 ERRS
run() {
    local label=$1; shift
    local out="$WORK/$label.txt"
    wrk "$@" >"$out" 2>&1
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    local non2xx sockerr
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sockerr=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$out")
    ERRS="${non2xx:+non-2xx $non2xx}${sockerr:+ socket errors: $sockerr}"
    echo "   $label: $RPS req/s, p50 $P50 ms, p99 $P99 ms${ERRS:+ ($ERRS)}" >&2
}

# CPU accounting over the measuring phase, to tell whether anything else (another build)
# ran: user+nice+system of the whole machine minus the host's and wrk's own CPU time.
TCK=$(getconf CLK_TCK)
# busy = user+nice+system+irq+softirq (softirq work is partly charged to processes too, so
# "everything else" is approximate: near 0, or a little below, means nothing else ran)
machine_cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }  # busy, steal
host_cpu() { sed 's/.*) //' "/proc/$HOST_PID/stat" | awk '{ print $12 + $13 }'; }  # utime+stime
children_cpu() {  # CPU of this shell's waited-for children (wrk), in ticks; not in $(...)
    times >"$WORK/times"
    awk -v t="$TCK" 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) {
        split($i, a, /[ms]/); s += a[1] * 60 + a[2] }; printf "%.0f", s * t }' "$WORK/times" >"$WORK/children"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
read -r M0 S0 < <(machine_cpu); H0=$(host_cpu); children_cpu; W0=$(<"$WORK/children"); T0=$(date +%s.%N)
echo "== warm-up (2 s per route)" >&2
for r in "${ROUTES[@]}"; do wrk -t2 -c32 -d2s "$BASE$r" >/dev/null; done

declare -A RPS_OF P50_OF P99_OF ERR_OF
echo "== keep-alive, wrk -t2 -c32 -d$DURATION --latency" >&2
for round in 1 2; do
    if [[ $round == 1 ]]; then order=("${ROUTES[@]}"); else
        order=(); for ((i = ${#ROUTES[@]} - 1; i >= 0; i--)); do order+=("${ROUTES[i]}"); done
    fi
    for r in "${order[@]}"; do
        run "r$round${r//\//_}" -t2 -c32 -d"$DURATION" --latency "$BASE$r"
        RPS_OF[$r,$round]=$RPS; P50_OF[$r,$round]=$P50; P99_OF[$r,$round]=$P99
        ERR_OF[$r]="${ERR_OF[$r]:-}$ERRS"
    done
done

echo "== /hello with Connection: close (a new TCP connection per request)" >&2
run close_hello -t2 -c32 -d"$DURATION" --latency -H 'Connection: close' "$BASE/hello"
CLOSE_RPS=$RPS CLOSE_P50=$P50 CLOSE_P99=$P99 CLOSE_ERR=$ERRS

echo "== one keep-alive connection (stall check), wrk -t1 -c1 -d3s" >&2
run c1_hello -t1 -c1 -d3s --latency "$BASE/hello"
C1H_RPS=$RPS C1H_P50=$P50 C1H_P99=$P99
run c1_hello_mw -t1 -c1 -d3s --latency "$BASE/hello-mw"
C1M_RPS=$RPS C1M_P50=$P50 C1M_P99=$P99
run c1_health -t1 -c1 -d3s --latency "$BASE/health"
C1X_RPS=$RPS C1X_P50=$P50 C1X_P99=$P99
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
read -r M1 S1 < <(machine_cpu); H1=$(host_cpu); children_cpu; W1=$(<"$WORK/children"); T1=$(date +%s.%N)
CPU_SUMMARY=$(awk -v m=$((M1 - M0)) -v st=$((S1 - S0)) -v h=$((H1 - H0)) -v w=$((W1 - W0)) \
    -v t="$TCK" -v el="$(awk -v a="$T0" -v b="$T1" 'BEGIN { print b - a }')" -v n="$(nproc)" 'BEGIN {
    o = m - h - w; if (o < 0 && o > -t) o = 0
    printf "%.0f s measured on %d cores (%.0f core-s): host %.0f, wrk %.0f, everything else ~%.1f core-s (%.1f%%), steal %.1f core-s",
        el, n, el * n, h / t, w / t, o / t, 100 * o / (el * n * t), st / t }')

kill -0 "$HOST_PID" 2>/dev/null || { echo "the host died during the run" >&2; tail -20 "$WORK/host.log" >&2; exit 1; }

# --- report -------------------------------------------------------------------------
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a + b) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
declare -A MEAN
for r in "${ROUTES[@]}"; do MEAN[$r]=$(mean "${RPS_OF[$r,1]}" "${RPS_OF[$r,2]}"); done

echo
echo "orderly-host $("$HOST" --version | awk '{print $2}'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
echo "CPU while measuring: $CPU_SUMMARY"
echo
echo "Keep-alive, \`wrk -t2 -c32 -d$DURATION --latency\`, two rounds (round 2 in reverse order):"
echo
echo "| route | req/s round 1 | req/s round 2 | req/s mean | p50 ms (r1 / r2) | p99 ms (r1 / r2) | errors |"
echo "|---|---:|---:|---:|---:|---:|---|"
for r in "${ROUTES[@]}"; do
    echo "| \`$r\` | ${RPS_OF[$r,1]} | ${RPS_OF[$r,2]} | ${MEAN[$r]} | ${P50_OF[$r,1]} / ${P50_OF[$r,2]} | ${P99_OF[$r,1]} / ${P99_OF[$r,2]} | ${ERR_OF[$r]:-none} |"
done
echo
echo "Ratios of mean req/s:"
echo
echo "- health / hello: $(ratio "${MEAN[/health]}" "${MEAN[/hello]}")x"
echo "- hello-mw / hello (one middleware): $(ratio "${MEAN[/hello-mw]}" "${MEAN[/hello]}")x"
echo "- hello-mw2 / hello (two middlewares): $(ratio "${MEAN[/hello-mw2]}" "${MEAN[/hello]}")x"
echo
echo "Other runs:"
echo
echo "| run | req/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|"
echo "| \`/hello\`, \`Connection: close\`, -c32 | $CLOSE_RPS | $CLOSE_P50 | $CLOSE_P99 |${CLOSE_ERR:+ $CLOSE_ERR}"
echo "| \`/hello\`, one keep-alive connection | $C1H_RPS | $C1H_P50 | $C1H_P99 |"
echo "| \`/hello-mw\`, one keep-alive connection | $C1M_RPS | $C1M_P50 | $C1M_P99 |"
echo "| \`/health\`, one keep-alive connection | $C1X_RPS | $C1X_P50 | $C1X_P99 |"
echo
echo "keep-alive / new connection (/hello): $(ratio "${MEAN[/hello]}" "$CLOSE_RPS")x"
