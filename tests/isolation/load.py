#!/usr/bin/env python3
"""Steady client load on a running Orderly service (the side-by-side check, issue 15).

    load.py BASE_URL MACHINE_SECRET DEMO_EMAIL DEMO_PASSWORD STOP_FILE OUT_JSON

Signs the demo customer in as a browser app does (public client `orderly-web`, PKCE S256,
the /login form with its CSRF cookie), gets a machine token (client_credentials), creates
one product with ample stock, then until STOP_FILE exists: reads a product with the bearer
token through `auth` every 0.4 s and places an order every 1.2 s (paced under the default
300/min rate limit). Every answer that is not the expected status is an error. Writes
{"reads", "orders", "errors", "order_ids", "product_id", "error_samples"} to OUT_JSON.
Standard library only.
"""
import base64
import hashlib
import http.client
import json
import os
import secrets
import sys
import time
import urllib.parse

base, machine_secret, email, password, stop_file, out = sys.argv[1:7]
url = urllib.parse.urlparse(base)
REDIRECT = "http://127.0.0.1:8400/callback"


class Client:
    def __init__(self):
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                return response.status, response.headers, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed between requests: retry once
                # on a new one (the request was never processed).
                self.conn.close()
                self.conn = None
                if attempt:
                    raise


client = Client()


def form(fields):
    return urllib.parse.urlencode(fields)


def expect(what, status, wanted, data):
    if status != wanted:
        raise SystemExit(f"load: {what} answered {status}, expected {wanted}: {data[:300]!r}")


def hidden(html, name):
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)].replace("&amp;", "&").replace("&quot;", '"')


def user_token():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = form({
        "response_type": "code", "client_id": "orderly-web", "redirect_uri": REDIRECT,
        "scope": "openid orders:read orders:write products:read", "state": "s1", "nonce": "n1",
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
    return json.loads(data)["access_token"]


def machine_token():
    basic = base64.b64encode(f"orderly-machine:{machine_secret}".encode()).decode()
    status, _, data = client.request(
        "POST", "/oauth2/token",
        body=form({"grant_type": "client_credentials", "scope": "products:read products:write"}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + basic})
    expect("client_credentials", status, 200, data)
    return json.loads(data)["access_token"]


user = user_token()
machine = machine_token()
sku = "SIDE-" + secrets.token_hex(4).upper()
status, _, data = client.request(
    "POST", "/api/v1/products",
    body=json.dumps({"sku": sku, "name": "Side-by-side mug",
                     "price": {"amount_minor": 500, "currency": "EUR"}, "stock": 1000000}),
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + machine})
expect("create product", status, 201, data)
product_id = json.loads(data)["id"]
print(f"load: signed in, product {product_id}; reading and ordering until {stop_file} exists", flush=True)

reads = orders = errors = 0
order_ids, samples = [], []
next_order = time.monotonic()
while not os.path.exists(stop_file):
    try:
        status, _, data = client.request(
            "GET", f"/api/v1/products/{product_id}", headers={"Authorization": "Bearer " + machine})
        reads += 1
        if status != 200:
            errors += 1
            samples.append(f"read {status} {data[:200]!r}")
        if time.monotonic() >= next_order:
            next_order += 1.2
            status, _, data = client.request(
                "POST", "/api/v1/users/me/orders",
                body=json.dumps({"items": [{"product_id": product_id, "quantity": 1}]}),
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + user,
                         "Idempotency-Key": secrets.token_hex(16)})
            orders += 1
            if status == 201:
                order_ids.append(json.loads(data)["id"])
            else:
                errors += 1
                samples.append(f"order {status} {data[:200]!r}")
    except Exception as error:  # a refused or cut connection is an error too
        errors += 1
        samples.append(f"{type(error).__name__}: {error}")
        client.conn = None
    time.sleep(0.4)

with open(out, "w") as f:
    json.dump({"reads": reads, "orders": orders, "errors": errors, "order_ids": order_ids,
               "product_id": product_id, "error_samples": samples[:20]}, f)
print(f"load: {reads} reads, {orders} orders, {errors} errors", flush=True)
