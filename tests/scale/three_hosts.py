#!/usr/bin/env python3
"""Three hosts behind HAProxy as one service (issue 14; run by tests/scale/three-hosts.sh).

The environment holds the Spin variables of one migrated, seeded database
(`cargo xtask vars`), plus:
  HOST_BIN      the orderly-host to run (three processes, one port each)
  HAPROXY       the haproxy binary (Debian's package)
  ADMIN_URL     MariaDB admin URL; DB_NAME the database the variables point at
  ADMIN_BIN     orderly-admin (creates the OAuth clients the checks use)
  MACHINE_SECRET, DEMO_EMAIL, DEMO_PASSWORD   what the seed was given
  WORK          a scratch directory

The three hosts share one MariaDB and one Redis (the `shared` store) and nothing else: each
has its own state directory and `default` store. Host 1 reaches MariaDB through a TCP proxy
that the breaker check closes. HAProxy balances round robin with keep-alive on both sides,
health-checks `/ready`, and drains a server through its runtime API for the rolling restart.

Checks (each prints what it measured):
  1. one rate limit across the three: a client's per-minute quota holds through the
     balancer (every host answered part of the burst) with no overshoot;
  2. a token revoked through host 2 is refused by hosts 1 and 3 within 1 s;
  3. the MariaDB breaker opened by failures host 1 sees short-circuits host 2 (whose own
     database path is fine) within its documented delay (BREAKER_STATE_TTL, 1 s), and both
     recover by themselves when the database returns;
  4. a rolling restart of all three under steady reads and orders: 0 failed requests, and
     every acknowledged order in the database exactly once.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from orderly_http import Client, basic, create_product, form, machine_token, sql, user_token, uuid_hex  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.environ["WORK"]
ADMIN_URL = os.environ["ADMIN_URL"]
DB_NAME = os.environ["DB_NAME"]
RATE_LIMIT = 600  # per minute per client: the checks' own traffic stays far below it
BREAKER_STATE_TTL = 1.0  # crates/kit/src/spin.rs BREAKER_STATE_TTL
# An instance trusts a "not revoked" answer for 1 s (components/auth/src/service.rs
# REVOCATION_CHECK_TTL_MILLIS); the bound adds one request's time and the polling step.
REVOCATION_BOUND = 1.0 + 0.2
BREAKER_THRESHOLD = 5  # crates/store/src/breaker.rs BreakerConfig::new failure_threshold


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message):
    print(f"three-hosts: {message}", flush=True)


def fail(message):
    raise SystemExit(f"three-hosts: FAIL {message}")


class TcpProxy:
    """A TCP proxy to MariaDB that can be closed (every connection cut, the port refusing)
    and reopened on the same port: "the database is unreachable from this host"."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.listener = None
        self.conns = []
        self.lock = threading.Lock()

    def open(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        if self.listener is not None:
            # shutdown() wakes the thread blocked in accept() (close() alone does not on
            # Linux, and the port would keep accepting).
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []


class Host:
    """One orderly-host process: its own port, state directory and runtime config."""

    def __init__(self, index, env):
        self.index = index
        self.name = f"h{index}"
        self.port = free_port()
        self.env = env
        self.dir = os.path.join(WORK, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "runtime-config.toml")
        with open(self.config, "w") as f:
            f.write(f"""[key_value_store.default]
type = "spin"
path = "{self.dir}/sqlite_key_value.db"

[key_value_store.shared]
type = "redis"
url = "{os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379')}"

[outbound_mysql]
max_connections = 32
""")
        self.process = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        log_file = open(os.path.join(self.dir, "host.log"), "a")
        self.process = subprocess.Popen(
            [os.environ["HOST_BIN"], "--manifest", os.path.join(ROOT, "spin.toml"),
             "--runtime-config-file", self.config, "--listen", f"127.0.0.1:{self.port}",
             "--state-dir", os.path.join(self.dir, "state")],
            cwd=ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"{self.name} exited with {self.process.returncode}; see {self.dir}/host.log")
            try:
                status, _, _ = Client(self.base, timeout=2).request("GET", "/ready")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        fail(f"{self.name} never became ready")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Balancer:
    """HAProxy: round robin, keep-alive to clients and servers, /ready health checks, a
    runtime API socket for draining servers."""

    def __init__(self, hosts):
        self.port = free_port()
        self.socket = os.path.join(WORK, "haproxy.sock")
        self.config = os.path.join(WORK, "haproxy.cfg")
        servers = "\n".join(f"    server {h.name} 127.0.0.1:{h.port}" for h in hosts)
        with open(self.config, "w") as f:
            f.write(f"""global
    stats socket {self.socket} mode 600 level admin
    maxconn 2000

defaults
    mode http
    option http-keep-alive
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    # Only a connection that could not be made is retried: a request that reached a host is
    # never sent twice. A rolling restart loses nothing because servers are drained first.
    retries 2
    retry-on conn-failure
    option redispatch

frontend api
    bind 127.0.0.1:{self.port}
    default_backend orderly

backend orderly
    balance roundrobin
    http-reuse safe
    option httpchk GET /ready
    http-check expect status 200
    default-server check inter 300ms fall 2 rise 1
{servers}
""")
        self.process = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen([os.environ["HAPROXY"], "-db", "-f", self.config],
                                        stdout=open(os.path.join(WORK, "haproxy.log"), "w"),
                                        stderr=subprocess.STDOUT)
        self.wait_up(set(f"h{i}" for i in (1, 2, 3)))

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.socket)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self):
        """{server: {"status", "scur", "stot"}} of the backend."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "orderly" and row.get("svname", "").startswith("h"):
                out[row["svname"]] = row
        return out

    def wait_up(self, names, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                stats = self.stats()
                if all(stats.get(n, {}).get("status") == "UP" for n in names):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        fail(f"HAProxy does not see {sorted(names)} up")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait()


def check_shared_rate_limit(lb, client_id, secret, product_id):
    """1. One per-minute quota across three hosts, counted exactly (atomic increments)."""
    client = Client(lb.base)
    token = machine_token(client, client_id, secret, scope="products:read")
    # The limiter counts fixed minute windows: keep the burst inside one.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    before = {n: int(r["stot"]) for n, r in lb.stats().items()}
    statuses = {}
    burst = RATE_LIMIT + 60
    window = int(time.time() // 60)
    for _ in range(burst):
        status, headers, _ = client.request(
            "GET", f"/api/v1/products/{product_id}", headers={"Authorization": "Bearer " + token})
        statuses[status] = statuses.get(status, 0) + 1
    if int(time.time() // 60) != window:
        fail("the burst crossed a minute boundary; it must fit in one window")
    served = {n: int(r["stot"]) - before[n] for n, r in lb.stats().items()}
    log(f"rate limit {RATE_LIMIT}/min, burst of {burst} through the balancer: {statuses}, requests per host {served}")
    if statuses.get(200, 0) != RATE_LIMIT or statuses.get(429, 0) != burst - RATE_LIMIT:
        fail(f"expected exactly {RATE_LIMIT} answers 200 and {burst - RATE_LIMIT} answers 429, got {statuses}")
    if min(served.values()) < burst // 4:
        fail(f"the balancer did not spread the burst over the three hosts: {served}")


def check_revocation_everywhere(hosts, client_id, secret, product_id):
    """2. A token revoked through host 2 is refused by hosts 1 and 3 within 1 s (the
    per-instance revocation-check cache) plus one request."""
    h1, h2, h3 = hosts
    token = machine_token(Client(h2.base), client_id, secret, scope="products:read")
    path = f"/api/v1/products/{product_id}"
    auth = {"Authorization": "Bearer " + token}
    for h in (h1, h3):
        status, _, data = Client(h.base).request("GET", path, headers=auth)
        if status != 200:
            fail(f"{h.name} refused the fresh token: {status} {data[:200]!r}")
    status, _, data = Client(h2.base).request(
        "POST", "/oauth2/revoke", body=form({"token": token}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(client_id, secret)})
    if status != 200:
        fail(f"revocation through h2 answered {status} {data[:200]!r}")
    revoked_at = time.monotonic()
    for h in (h1, h3):
        client = Client(h.base)
        while True:
            status, headers, _ = client.request("GET", path, headers=auth)
            elapsed = time.monotonic() - revoked_at
            if status == 401:
                if "invalid_token" not in headers.get("www-authenticate", ""):
                    fail(f"{h.name} refused the revoked token without error=invalid_token")
                break
            if elapsed > REVOCATION_BOUND:
                fail(f"{h.name} still accepts the revoked token {elapsed:.2f} s after revocation ({status})")
            time.sleep(0.02)
        log(f"token revoked through h2: refused by {h.name} after {elapsed * 1000:.0f} ms")


def check_shared_breaker(hosts, proxy, product_id):
    """3. Failures seen by host 1 open the breaker for host 2 within BREAKER_STATE_TTL."""
    h1, h2, _ = hosts
    path = f"/api/v1/products/{product_id}"
    status, _, data = Client(h2.base).request("GET", path)
    if status != 200:
        fail(f"h2 before the outage: {status} {data[:200]!r}")
    proxy.close()
    log("MariaDB unreachable from h1 (its proxy closed)")
    c1 = Client(h1.base)
    opened = None
    # A failed call is 503 + `Retry-After: 1`; an open breaker answers with the time it
    # stays open (BreakerConfig::open_for, 5 s): crates/edge-http/src/api_error.rs.
    for _ in range(4 * BREAKER_THRESHOLD):
        status, headers, _ = c1.request("GET", path)
        retry_after = int(headers.get("retry-after", "0"))
        if status != 503 or retry_after < 1:
            fail(f"h1 with its database unreachable answered {status} (Retry-After {retry_after})")
        if retry_after >= 2:
            opened = time.monotonic()  # the breaker is open on h1
            break
    if opened is None:
        fail("h1's breaker never opened")
    c2 = Client(h2.base)
    while True:
        status, headers, data = c2.request("GET", path)
        elapsed = time.monotonic() - opened
        if status == 503:
            if int(headers.get("retry-after", "0")) < 1:
                fail(f"h2's 503 has no Retry-After >= 1: {headers.get('retry-after')}")
            break
        if status != 200:
            fail(f"h2 answered {status} {data[:200]!r}")
        if elapsed > BREAKER_STATE_TTL + 0.5:
            fail(f"h2 (database reachable) still calls MariaDB {elapsed:.2f} s after h1 opened the shared breaker")
        time.sleep(0.02)
    log(f"breaker opened by h1's failures: h2 short-circuits after {elapsed * 1000:.0f} ms (bound {BREAKER_STATE_TTL:.0f} s + 0.5 s)")
    proxy.open()
    recovered = {}
    deadline = time.monotonic() + 30
    while len(recovered) < 2 and time.monotonic() < deadline:
        for h, c in ((h1, c1), (h2, c2)):
            if h.name not in recovered and c.request("GET", path)[0] == 200:
                recovered[h.name] = round(time.monotonic() - opened, 1)
        time.sleep(0.2)
    if len(recovered) < 2:
        fail(f"not recovered 30 s after the database returned: {recovered}")
    log(f"database back: recovered unaided (seconds after the breaker opened) {recovered}")


class Load:
    """Steady reads and orders through the balancer; every failure recorded."""

    def __init__(self, lb, machine, user, product_id):
        self.lb, self.machine, self.user, self.product_id = lb, machine, user, product_id
        self.stop = threading.Event()
        self.reads = self.orders = 0
        self.errors = []
        self.order_ids = []
        self.threads = [threading.Thread(target=self._reads, daemon=True),
                        threading.Thread(target=self._orders, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()

    def _reads(self):
        client = Client(self.lb.base)
        while not self.stop.is_set():
            try:
                status, _, data = client.request(
                    "GET", f"/api/v1/products/{self.product_id}",
                    headers={"Authorization": "Bearer " + self.machine})
                self.reads += 1
                if status != 200:
                    self.errors.append(f"read {status} {data[:200]!r}")
            except Exception as error:  # noqa: BLE001 - a cut connection is a failure too
                self.errors.append(f"read {type(error).__name__}: {error}")
                client.close()
            time.sleep(0.1)

    def _orders(self):
        client = Client(self.lb.base)
        while not self.stop.is_set():
            try:
                status, _, data = client.request(
                    "POST", "/api/v1/users/me/orders",
                    body=json.dumps({"items": [{"product_id": self.product_id, "quantity": 1}]}),
                    headers={"Content-Type": "application/json", "Authorization": "Bearer " + self.user,
                             "Idempotency-Key": str(uuid.uuid4())})
                self.orders += 1
                if status == 201:
                    self.order_ids.append(json.loads(data)["id"])
                else:
                    self.errors.append(f"order {status} {data[:200]!r}")
            except Exception as error:  # noqa: BLE001
                self.errors.append(f"order {type(error).__name__}: {error}")
                client.close()
            time.sleep(0.25)


def check_rolling_restart(lb, hosts, machine, user, user_id, product_id):
    """4. Restart every host in turn under load, draining each at the balancer first."""
    started_at = sql(ADMIN_URL, DB_NAME, "SELECT NOW(6)")[0][0]
    load = Load(lb, machine, user, product_id)
    load.start()
    time.sleep(2)
    for h in hosts:
        lb.command(f"set server orderly/{h.name} state maint")
        deadline = time.monotonic() + 10
        while int(lb.stats()[h.name]["scur"]) > 0:
            if time.monotonic() > deadline:
                fail(f"{h.name} still has requests in flight 10 s after it was drained")
            time.sleep(0.05)
        h.stop()
        h.start()
        lb.command(f"set server orderly/{h.name} state ready")
        lb.wait_up({h.name})
        log(f"{h.name} drained, restarted (SIGTERM) and back in rotation")
        time.sleep(1.5)
    time.sleep(1)
    load.finish()
    log(f"rolling restart under load: {load.reads} reads, {load.orders} orders, {len(load.errors)} failed")
    if load.errors:
        fail(f"requests failed during the rolling restart: {load.errors[:10]}")
    if load.reads < 50 or len(load.order_ids) < 20:
        fail(f"too little load to prove anything: {load.reads} reads, {len(load.order_ids)} orders")
    ids = ",".join(uuid_hex(i) for i in load.order_ids)
    found = sql(ADMIN_URL, DB_NAME, f"SELECT COUNT(*) FROM orders WHERE id IN ({ids})")[0][0]
    placed = sql(ADMIN_URL, DB_NAME,
                 f"SELECT COUNT(*) FROM orders WHERE user_id = {uuid_hex(user_id)} AND created_at >= '{started_at}'")[0][0]
    if int(found) != len(load.order_ids) or int(placed) != len(load.order_ids):
        fail(f"{len(load.order_ids)} orders acknowledged; {found} of them in the database; "
             f"{placed} orders placed by the user during the restart")
    log(f"every acknowledged order is in the database exactly once ({placed})")


def admin_client(client_id, secret_file):
    subprocess.run([os.environ["ADMIN_BIN"], "client", "create", "--id", client_id, "--name", client_id,
                    "--grant", "client_credentials", "--scope", "products:read products:write",
                    "--secret-out", secret_file],
                   check=True, env={**os.environ, "ORDERLY_DB_ADMIN_URL": ADMIN_URL, "ORDERLY_DB_NAME": DB_NAME},
                   stdout=subprocess.DEVNULL)
    with open(secret_file) as f:
        return f.read().strip()


def main():
    base_env = dict(os.environ)
    base_env["SPIN_VARIABLE_RATE_LIMIT_PER_MINUTE"] = str(RATE_LIMIT)
    base_env["SPIN_VARIABLE_KV_PREFIX"] = f"scale{os.getpid()}"
    proxy = TcpProxy(("127.0.0.1", 3306))
    proxy.open()
    hosts = []
    for i in (1, 2, 3):
        env = dict(base_env)
        if i == 1:  # host 1 reaches MariaDB through the proxy only
            for name, value in env.items():
                if name.startswith("SPIN_VARIABLE_") and name.endswith("_DB_URL"):
                    env[name] = re.sub(r"@[^/@]+/", f"@127.0.0.1:{proxy.port}/", value)
            env["SPIN_VARIABLE_DB_HOST"] = f"127.0.0.1:{proxy.port}"
        hosts.append(Host(i, env))
    lb = Balancer(hosts)
    issuer = lb.base
    for h in hosts:  # one issuer: the balancer's address, as clients see it
        h.env["SPIN_VARIABLE_ISSUER"] = issuer
        h.env["SPIN_VARIABLE_AUDIENCE"] = issuer + "/api"
    try:
        for h in hosts:
            h.start()
        lb.start()
        log(f"three hosts {[h.port for h in hosts]} behind HAProxy {lb.port} (h1's MariaDB through proxy {proxy.port})")

        rl_client = f"scale-rl-{os.getpid()}"
        rl_secret = admin_client(rl_client, os.path.join(WORK, "rl-secret"))
        rv_client = f"scale-rv-{os.getpid()}"
        rv_secret = admin_client(rv_client, os.path.join(WORK, "rv-secret"))
        client = Client(lb.base)
        machine = machine_token(client, "orderly-machine", os.environ["MACHINE_SECRET"])
        product_id = create_product(client, machine, "Scale-out mug", 1_000_000)
        signed_in = user_token(client, os.environ["DEMO_EMAIL"], os.environ["DEMO_PASSWORD"])
        user_id = sql(ADMIN_URL, DB_NAME,
                      f"SELECT LOWER(HEX(id)) FROM users WHERE email = '{os.environ['DEMO_EMAIL']}'")[0][0]
        user_id = str(uuid.UUID(user_id))

        check_shared_rate_limit(lb, rl_client, rl_secret, product_id)
        check_revocation_everywhere(hosts, rv_client, rv_secret, product_id)
        check_shared_breaker(hosts, proxy, product_id)
        check_rolling_restart(lb, hosts, machine, signed_in["access_token"], user_id, product_id)
        log("all checks passed")
    finally:
        lb.stop()
        for h in hosts:
            h.stop()
        proxy.close()


if __name__ == "__main__":
    main()
