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
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from orderly_http import Client, create_product, machine_token, user_token  # noqa: E402

base, machine_secret, email, password, stop_file, out = sys.argv[1:7]
client = Client(base)

user = user_token(client, email, password)["access_token"]
machine = machine_token(client, "orderly-machine", machine_secret)
product_id = create_product(client, machine, "Side-by-side mug", 1000000)
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
        client.close()
    time.sleep(0.4)

with open(out, "w") as f:
    json.dump({"reads": reads, "orders": orders, "errors": errors, "order_ids": order_ids,
               "product_id": product_id, "error_samples": samples[:20]}, f)
print(f"load: {reads} reads, {orders} orders, {errors} errors", flush=True)
