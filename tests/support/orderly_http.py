"""A small HTTP client for Orderly's scripted system tests (tests/isolation, tests/scale).

Standard library only: keep-alive connections (http.client), the browser sign-in of the
seeded public client `orderly-web` (PKCE S256, the /login form with its CSRF cookie), a
client_credentials token, and the admin database through the `mariadb` command line.
"""
import base64
import hashlib
import http.client
import json
import secrets
import shutil
import subprocess
import urllib.parse

REDIRECT = "http://127.0.0.1:8400/callback"


class Client:
    """One keep-alive connection to `base`, reopened when the server closed it."""

    def __init__(self, base, timeout=15):
        url = urllib.parse.urlparse(base)
        self.host, self.port, self.timeout = url.hostname, url.port, timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes). A keep-alive connection the server closed between
        two requests is retried once on a new one (that request never reached a handler)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response.status, response.headers, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def form(fields):
    return urllib.parse.urlencode(fields)


def expect(what, status, wanted, data):
    if status != wanted:
        raise SystemExit(f"{what} answered {status}, expected {wanted}: {data[:300]!r}")


def hidden(html, name):
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)].replace("&amp;", "&").replace("&quot;", '"')


def user_token(client, email, password, scope="openid orders:read orders:write products:read"):
    """Signs `email` in through /oauth2/authorize and /login; returns the token response."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = form({
        "response_type": "code", "client_id": "orderly-web", "redirect_uri": REDIRECT,
        "scope": scope, "state": "s1", "nonce": "n1",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    status, headers, data = client.request("GET", "/oauth2/authorize?" + query)
    expect("authorize", status, 303, data)
    status, headers, data = client.request("GET", headers["location"])
    expect("login page", status, 200, data)
    html = data.decode()
    csrf_cookie = next(c.split(";")[0] for c in headers.get_all("set-cookie") if c.startswith("orderly_csrf="))
    status, headers, data = client.request(
        "POST", "/login",
        body=form({"request": hidden(html, "request"), "csrf": hidden(html, "csrf"),
                   "email": email, "password": password}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": csrf_cookie})
    expect("sign-in", status, 303, data)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]
    status, _, data = client.request(
        "POST", "/oauth2/token",
        body=form({"grant_type": "authorization_code", "client_id": "orderly-web", "code": code,
                   "redirect_uri": REDIRECT, "code_verifier": verifier}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect("code exchange", status, 200, data)
    return json.loads(data)


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def machine_token(client, client_id, secret, scope="products:read products:write"):
    """A client_credentials access token (client_secret_basic)."""
    status, _, data = client.request(
        "POST", "/oauth2/token",
        body=form({"grant_type": "client_credentials", "scope": scope}),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": basic(client_id, secret)})
    expect("client_credentials", status, 200, data)
    return json.loads(data)["access_token"]


def create_product(client, token, name, stock):
    sku = "SYS-" + secrets.token_hex(4).upper()
    status, _, data = client.request(
        "POST", "/api/v1/products",
        body=json.dumps({"sku": sku, "name": name,
                         "price": {"amount_minor": 500, "currency": "EUR"}, "stock": stock}),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    expect("create product", status, 201, data)
    return json.loads(data)["id"]


def sql(admin_url, database, statement):
    """Runs `statement` as the admin account; returns the rows (tab-separated fields)."""
    url = urllib.parse.urlparse(admin_url)
    args = [shutil.which("mariadb") or shutil.which("mysql") or "mariadb", "--protocol=TCP",
            "-h", url.hostname or "127.0.0.1", "-P", str(url.port or 3306),
            "-u", urllib.parse.unquote(url.username or "root"), "-N", "-B", database, "-e", statement]
    if url.password:
        args.insert(1, "--password=" + urllib.parse.unquote(url.password))
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def uuid_hex(uuid):
    """`UNHEX('…')` of a hyphenated UUID, for BINARY(16) columns."""
    return "UNHEX('%s')" % uuid.replace("-", "")
