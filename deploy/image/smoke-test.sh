#!/usr/bin/env bash
# Serves the built artefact against MariaDB and Redis the way an operator deploys it, and
# checks what a client sees: migrate with orderly-migrate (the Job), signing keys and an
# OAuth client with orderly-admin, then orderly-host with every variable from the
# environment; /ready answers 200, a client_credentials token is issued, a product is
# created and read back, the image's HEALTHCHECK command passes.
#
#   deploy/image/smoke-test.sh image localhost/orderly:dev   # the image, through `buildah run`
#   deploy/image/smoke-test.sh tree target/image             # the same tree, straight on the host
#
# Both run the binaries, spin.toml and .wasm files assemble.sh laid out, as user 65532 in
# `image` mode (the image's USER), with the image's entrypoint and health check read from
# the image itself. Environment: ORDERLY_DB_ADMIN_URL (mysql://root@127.0.0.1:3306),
# REDIS_URL (redis://127.0.0.1:6379). The run migrates its own database,
# `orderly_test_<pid>_<unix seconds>`, with its own component accounts and fresh random
# passwords, and drops both when it ends: it never touches the database `cargo xtask up`
# serves nor another checkout's accounts, and a killed run's leftovers are dropped by the
# next `cargo xtask test` (xtask/src/test_db.rs, same name pattern).
set -euo pipefail
mode=${1:?usage: smoke-test.sh image IMAGE | tree DIR}
what=${2:?usage: smoke-test.sh image IMAGE | tree DIR}
cd "$(dirname "$0")/../.."
root=$PWD

admin_url=${ORDERLY_DB_ADMIN_URL:-mysql://root@127.0.0.1:3306}
database="orderly_test_$$_$(date +%s)"
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
# One password per component account (migrate::COMPONENT_ACCOUNTS; orderly-migrate
# names any that is missing and changes nothing).
components="HEALTH IDENTITY USERS PRODUCTS ORDERS"
declare -A passwords=()
for component in $components; do
  passwords[$component]=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
done
accounts=()

work=$(mktemp -d)
mkdir -p "$work/etc" "$work/data" "$work/cache" "$work/out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
client_id="image-smoke-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
sku="SMOKE-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)"
host_pid='' ctr=''
buildah_() { buildah --storage-driver vfs "$@"; }

sql() { # statement, as the admin account (on the run's database; `-` for none)
  python3 - "$admin_url" "$database" "$1" <<'PY'
import subprocess, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
import shutil
client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
args = [client, "--protocol=TCP", "-h", url.hostname or "127.0.0.1", "-P", str(url.port or 3306),
        "-u", urllib.parse.unquote(url.username or "root"), "-e", sys.argv[3]]
if sys.argv[2] != "-":
    args.insert(-2, sys.argv[2])
if url.password:
    args.insert(1, "--password=" + urllib.parse.unquote(url.password))
subprocess.run(args, check=True)
PY
}

cleanup() {
  set +e
  if [ -n "$host_pid" ]; then
    kill -INT "$host_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$host_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$host_pid" 2>/dev/null
    wait "$host_pid" 2>/dev/null
    # `buildah run` may leave its child behind: stop whatever still listens on our port.
    for pid in $(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      kill "$pid" 2>/dev/null
    done
  fi
  [ -n "$ctr" ] && buildah_ rm "$ctr" >/dev/null 2>&1
  local drop="DROP DATABASE IF EXISTS \`$database\`;"
  for account in "${accounts[@]}"; do drop+=" DROP USER IF EXISTS '$account'@'%';"; done
  database=- sql "$drop" >/dev/null 2>&1 || echo "smoke-test: could not drop $database and its accounts" >&2
  rm -rf "$work"
}
trap cleanup EXIT

# The environment every command gets: the database names and the component passwords.
declare -a env_args=()
add_env() { env_args+=("$1=$2"); }
add_env ORDERLY_DB_ADMIN_URL "$admin_url"
add_env ORDERLY_DB_NAME "$database"
for component in $components; do
  add_env "ORDERLY_DB_PASSWORD_$component" "${passwords[$component]}"
done

case "$mode" in
  image)
    command -v buildah >/dev/null || { echo "smoke-test: buildah is not installed" >&2; exit 1; }
    ctr=$(buildah_ from --pull=never "$what")
    chmod 1777 "$work/data" "$work/cache" "$work/out"
    config=$(buildah_ inspect --type container "$ctr")
    # The image's own entrypoint + cmd and health check.
    mapfile -t entrypoint < <(printf '%s' "$config" | python3 -c 'import json,sys; c=json.load(sys.stdin)["Docker"]["config"]; [print(a) for a in c["Entrypoint"] + c["Cmd"]]')
    mapfile -t healthcheck < <(printf '%s' "$config" | python3 -c 'import json,sys; t=json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]; assert t[0]=="CMD"; [print(a) for a in t[1:]]')
    image_user=$(printf '%s' "$config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Docker"]["config"]["User"])')
    [ "$image_user" = "65532:65532" ] || { echo "smoke-test: the image runs as $image_user" >&2; exit 1; }
    command_line() { # a command in the image, as its user, on the host's network (MariaDB, Redis)
      cmd=(buildah --storage-driver vfs run --isolation chroot --network host --user 65532:65532)
      for kv in "${env_args[@]}"; do cmd+=(--env "$kv"); done
      cmd+=(--volume "$work/etc:/etc/orderly:ro" --volume "$work/data:/var/lib/orderly/data"
        --volume "$work/cache:/var/cache/orderly" --volume "$work/out:/out" "$ctr" -- "$@")
    }
    bin=/usr/local/bin app=/app out=/out etc=/etc/orderly
    ;;
  tree)
    rootfs="$root/$what/rootfs"
    [ -x "$rootfs/usr/local/bin/orderly-host" ] || { echo "smoke-test: no tree at $what" >&2; exit 1; }
    command_line() { cmd=(env "${env_args[@]}" "$@"); }
    bin="$rootfs/usr/local/bin" app="$rootfs/app" out="$work/out" etc="$work/etc"
    # The image's entrypoint with the tree's paths (see the Dockerfile).
    entrypoint=("$bin/orderly-host" --manifest "$app/spin.toml" --state-dir "$work/state" --listen 0.0.0.0:3000
      --runtime-config-file /etc/orderly/runtime-config.toml)
    healthcheck=("$bin/orderly-admin" probe http://127.0.0.1:3000/health)
    ;;
  *) echo "smoke-test: mode is image or tree" >&2; exit 2 ;;
esac
run() { command_line "$@"; "${cmd[@]}"; }
if [ "$mode" = image ]; then
  # Nothing but the writable directories can be written as the image's user.
  if run /usr/local/bin/orderly-admin keys init --out /app/x.env >/dev/null 2>&1; then
    echo "smoke-test: /app is writable by the image's user" >&2; exit 1
  fi
fi

cat >"$work/etc/runtime-config.toml" <<TOML
[key_value_store.default]
type = "spin"
path = "/var/lib/orderly/data/sqlite_key_value.db"

[outbound_mysql]
max_connections = 32
TOML
if [ "$mode" = tree ]; then
  sed -i "s|/var/lib/orderly/data|$work/data|" "$work/etc/runtime-config.toml"
fi

echo "== orderly-migrate (the migration Job) on $database, twice: the second run must change nothing"
run "$bin/orderly-migrate" --dir "$app/migrations" --database "$database" --accounts | tee "$work/migrate.log"
run "$bin/orderly-migrate" --dir "$app/migrations" --database "$database" --accounts | tee "$work/migrate2.log"
grep -q '^0 applied' "$work/migrate2.log" || { echo "smoke-test: the second migration run applied something" >&2; exit 1; }
mapfile -t accounts < <(sed -n 's/^accounts: //p' "$work/migrate.log" | tr ',' '\n' | tr -d ' ')
[ "${#accounts[@]}" -eq 5 ] || { echo "smoke-test: expected 5 accounts, got ${accounts[*]}" >&2; exit 1; }

echo "== orderly-admin: signing keys, cursor key, an OAuth client"
run "$bin/orderly-admin" keys init --out "$out/keys.env"
cursor_key=$(run "$bin/orderly-admin" secret)
run "$bin/orderly-admin" client create --id "$client_id" --name "Image smoke test" \
  --grant client_credentials --scope "products:read products:write" --secret-out "$out/secret"
client_secret=$(cat "$work/out/secret")

# The app's variables, as the Deployment sets them (deploy/kubernetes/app/deployment.yaml).
host_port=${admin_url#*@}
host_port=${host_port%%/*}
for account in "${accounts[@]}"; do
  component=${account##*_}
  upper=$(printf '%s' "$component" | tr a-z A-Z)
  password=${passwords[$upper]}
  add_env "SPIN_VARIABLE_${upper}_DB_URL" "mysql://$account:$password@$host_port/$database"
done
add_env SPIN_VARIABLE_DB_HOST "$host_port"
add_env SPIN_VARIABLE_ISSUER "$base"
add_env SPIN_VARIABLE_AUDIENCE "$base/api"
add_env SPIN_VARIABLE_CURSOR_KEY "$cursor_key"
add_env SPIN_VARIABLE_KV_PREFIX "smoke$port"
add_env SPIN_VARIABLE_REDIS_URL "$redis_url"
redis_authority=${redis_url#*://}; redis_authority=${redis_authority##*@}; redis_authority=${redis_authority%%/*}
case "$redis_authority" in *:*) ;; *) redis_authority="$redis_authority:6379" ;; esac
add_env SPIN_VARIABLE_REDIS_HOST "$redis_authority"
while IFS='=' read -r name value; do
  case "$name" in ''|'#'*|staged_at|promoted_at) ;; *) add_env "SPIN_VARIABLE_$(printf '%s' "$name" | tr a-z A-Z)" "$value" ;; esac
done <"$work/out/keys.env"

echo "== orderly-host (the image's entrypoint, on port $port)"
args=()
for a in "${entrypoint[@]}"; do args+=("${a/0.0.0.0:3000/127.0.0.1:$port}"); done
if [ "$mode" = tree ]; then args=("${args[@]/\/etc\/orderly/$work/etc}"); fi
started=$(date +%s)
command_line "${args[@]}"
"${cmd[@]}" >"$work/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 1 600); do
  curl -fs -o /dev/null "$base/health" && break
  kill -0 "$host_pid" 2>/dev/null || { cat "$work/host.log" >&2; echo "smoke-test: orderly-host exited" >&2; exit 1; }
  sleep 0.5
done
echo "serving after $(($(date +%s) - started)) s"

check() { # name, expected status, curl args…
  local name=$1 expected=$2
  shift 2
  local status
  status=$(curl -s -o "$work/body" -w '%{http_code}' "$@")
  if [ "$status" != "$expected" ]; then
    echo "FAIL $name: HTTP $status, expected $expected: $(head -c 600 "$work/body")" >&2
    tail -n 20 "$work/host.log" >&2
    exit 1
  fi
  echo "ok   $name: HTTP $status"
}
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$work/body"; }

check "GET /ready" 200 "$base/ready"
[ "$(json '["status"]')" = ok ] || { echo "FAIL /ready body" >&2; exit 1; }
check "client_credentials token" 200 -u "$client_id:$client_secret" -d grant_type=client_credentials \
  -d "scope=products:read products:write" "$base/oauth2/token"
token=$(json '["access_token"]')
[ "$(json '["token_type"]')" = Bearer ] || { echo "FAIL token_type" >&2; exit 1; }
check "POST /api/v1/products" 201 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"sku\":\"$sku\",\"name\":\"Smoke test mug\",\"price\":{\"amount_minor\":1299,\"currency\":\"EUR\"},\"stock\":5}" \
  "$base/api/v1/products"
id=$(json '["id"]')
check "GET /api/v1/products/{id}" 200 "$base/api/v1/products/$id"
[ "$(json '["sku"]')" = "$sku" ] || { echo "FAIL product body" >&2; exit 1; }
check "GET /nope (no route: 404, as Spin)" 404 "$base/nope"

probe=()
for a in "${healthcheck[@]}"; do probe+=("${a/127.0.0.1:3000/127.0.0.1:$port}"); done
run "${probe[@]}" && echo "ok   HEALTHCHECK (${healthcheck[*]})"
echo "smoke-test ($mode): 7 passed, 0 failed"
