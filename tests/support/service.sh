# Sourced by the scripted system tests: the dev service (`cargo xtask up`) on a database and
# port of the caller's choosing, with the orderly-host the test command built.
#
#   service_start DATABASE PORT LOG [VAR=VALUE ...]   returns when /ready answers 200
#   service_stop                                      SIGINT to its process group, then drop DATABASE
#
# Sets SERVICE_BASE (http://127.0.0.1:PORT) and SERVICE_PID.

service_start() {
  local database=$1 port=$2 log=$3
  shift 3
  SERVICE_DB=$database
  SERVICE_BASE="http://127.0.0.1:$port"
  local host_bin=${ORDERLY_HOST_BIN:-$PWD/target/debug/orderly-host}
  [ -x "$host_bin" ] || cargo build -p orderly-host
  cargo xtask db drop "$database" >/dev/null 2>&1 || true # a killed run's leftover
  set -m # the service in its own process group
  env "$@" ORDERLY_DB_NAME="$database" ORDERLY_LISTEN="127.0.0.1:$port" ORDERLY_HOST_BIN="$host_bin" \
    cargo xtask up >"$log" 2>&1 &
  SERVICE_PID=$!
  set +m
  for _ in $(seq 1 900); do
    curl -fs -o /dev/null "$SERVICE_BASE/ready" && break
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
      tail -n 40 "$log" >&2
      echo "service: cargo xtask up exited" >&2
      return 1
    fi
    sleep 1
  done
  curl -fs -o /dev/null "$SERVICE_BASE/ready" ||
    { tail -n 40 "$log" >&2; echo "service: never became ready" >&2; return 1; }
  grep -m1 "serving database" "$log" || true
}

service_stop() {
  if [ -n "${SERVICE_PID:-}" ]; then
    kill -INT -- "-$SERVICE_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVICE_PID" 2>/dev/null
    SERVICE_PID=''
  fi
  if [ -n "${SERVICE_DB:-}" ]; then
    cargo xtask db drop "$SERVICE_DB" >/dev/null 2>&1 || echo "service: could not drop $SERVICE_DB" >&2
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
