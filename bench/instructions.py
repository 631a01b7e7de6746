#!/usr/bin/env python3
"""Instructions per request of the service, counted by valgrind's callgrind: a figure
that does not move with the machine's load, beside bench/run's throughput ratios.

For each route, the release build serves a fresh seeded database under callgrind twice:
once answering WARMUP_REQUESTS requests, once answering that + REQUESTS, one after the other on
one keep-alive connection. The difference of the two totals, divided by REQUESTS, is what
one request costs the service's process (start, warm-up and shutdown cancel out; the
database's own work is not counted: it runs in PostgreSQL's processes).

    bench/instructions.py                      (STOREFRONT_BIN=target/release/storefront)
    REQUESTS=1000 SCENARIOS="product_by_id cart_get" bench/instructions.py
    SCENARIOS="product_by_id reference" bench/instructions.py

`reference` is bench/reference (REFERENCE_BIN, as bench/run builds it) answering the same
product reads on the same database: the yardstick's own instructions per request.

Prints one line per route: `name  instructions/request  (total A - total B) / n`.
CALLGRIND_DIR=<dir> keeps each route's longer run there (`build.<name>.callgrind`), for
`callgrind_annotate --inclusive=yes <dir>/build.<name>.callgrind`: the profile behind the
figure (and the warm-up alone, `build.<name>.warmup.callgrind`: subtract it per function
for one request's profile). BASELINE_BIN=<binary> counts that build too, right before, on the same database
(`baseline.<name>.callgrind`), and prints the change.
"""

import base64
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("STOREFRONT_BIN", "target/release/storefront")
BASELINE_BIN = os.environ.get("BASELINE_BIN")  # counted too, on the same database
REFERENCE_BIN = os.environ.get("REFERENCE_BIN", "target/reference/release/reference-server")
REQUESTS = int(os.environ.get("REQUESTS", "2000"))
WARMUP = int(os.environ.get("WARMUP_REQUESTS", "200"))
PRODUCTS = int(os.environ.get("PRODUCTS", "10000"))
SCENARIOS = os.environ.get(
    "SCENARIOS", "product_by_id list_first_page list_category cart_get cart_add").split()
CATEGORY = {}  # the department listing the most products, found after seeding
HOT = 5  # products the cart adds cycle through (stock raised so they never run out)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def server_url():
    with open(".env.test") as env:
        for line in env:
            if line.startswith("DATABASE_URL="):
                return re.sub(r"/[^/?]*(\?.*)?$", "", line.split("=", 1)[1].strip())
    raise SystemExit("no DATABASE_URL in .env.test")


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requests_for(name, token, rng):
    """The (method, path, body, headers) of the scenario's next request."""
    auth = {"Authorization": f"Bearer {token}"}
    if name in ("product_by_id", "reference"):
        return "GET", f"/api/v1/products/{rng.randint(1, PRODUCTS)}", None, {}
    if name == "list_first_page":
        return "GET", "/api/v1/products?limit=20", None, {}
    if name == "list_category":
        return "GET", f"/api/v1/products?category={CATEGORY['slug']}&limit=20", None, {}
    if name == "cart_get":
        return "GET", "/api/v1/cart", None, auth
    if name == "cart_add":
        body = json.dumps({"product_id": rng.randint(1, HOT), "quantity": 1})
        return "POST", "/api/v1/cart/items", body, {**auth, "Content-Type": "application/json"}
    raise SystemExit(f"unknown scenario {name}")


def serve_and_count(env, name, token, count, keep=None, binary=BIN):
    """Runs the server under callgrind, sends `count` requests, stops it: total Ir."""
    port = free_port()
    out = tempfile.NamedTemporaryFile(suffix=".callgrind", delete=False).name
    command = [REFERENCE_BIN] if name == "reference" else [binary, "serve"]
    ready = "/api/v1/products/1" if name == "reference" else "/health/live"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        env={**env, "BIND_ADDR": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", ready)
            conn.getresponse().read()
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit(f"{name}: the server did not start under valgrind")
            time.sleep(0.5)
    rng = random.Random(7)
    for _ in range(count):
        method, path, body, headers = requests_for(name, token, rng)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status >= 300:
            raise SystemExit(f"{name}: {method} {path} answered {response.status}")
    conn.close()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=300)
    with open(out) as data:
        totals = [line for line in data if line.startswith(("summary:", "totals:"))]
    if keep:
        os.replace(out, keep)
    else:
        os.unlink(out)
    return int(totals[-1].split()[1])


def main():
    base = server_url()
    db = f"storefront_instructions_{os.getpid()}"
    url = f"{base}/{db}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RUST_LOG": "warn",
        "WORKERS": "1",
        # No in-process payment gateway, no sweeps during the count.
        "PAYMENT_GATEWAY_URL": "http://127.0.0.1:9",
        "PAYMENT_WEBHOOK_SECRET": "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "SWEEP_INTERVAL_SECS": "3600",
    }
    psql(f"{base}/postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    try:
        log(f"== seeding {PRODUCTS} products")
        subprocess.run([BIN, "seed", "--users", "10", "--products", str(PRODUCTS)], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        # A bearer token as the service issues them (256 random bits, base64url); the
        # session stores its SHA-256.
        token = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        digest = hashlib.sha256(token.encode()).hexdigest()
        psql(url, f"INSERT INTO sessions (user_id, token_hash, expires_at) "
                  f"VALUES (1, '\\x{digest}', '2099-01-01')")
        psql(url, f"UPDATE products SET inventory_count = 1000000, archived_at = NULL "
                  f"WHERE id <= {HOT}")
        CATEGORY["slug"] = subprocess.run(
            ["psql", "-Atq", url, "-c",
             "SELECT c.slug FROM categories c JOIN category_listings l ON l.category_id = c.id "
             "WHERE c.parent_id IS NULL GROUP BY c.slug ORDER BY count(*) DESC, c.slug LIMIT 1"],
            check=True, capture_output=True, text=True).stdout.strip()
        for name in SCENARIOS:
            builds = [("", BIN)]
            if BASELINE_BIN and name != "reference":
                builds.insert(0, ("baseline ", BASELINE_BIN))
            figures = []
            for label, binary in builds:
                log(f"== {label}{name}: {WARMUP} then {WARMUP + REQUESTS} requests under callgrind")
                keep = os.environ.get("CALLGRIND_DIR")
                stem = f"{label.strip() or 'build'}.{name}"
                short = serve_and_count(env, name, token, WARMUP,
                                        keep and os.path.join(keep, f"{stem}.warmup.callgrind"),
                                        binary=binary)
                long = serve_and_count(env, name, token, WARMUP + REQUESTS,
                                       keep and os.path.join(keep, f"{stem}.callgrind"),
                                       binary=binary)
                per = (long - short) / REQUESTS
                figures.append(per)
                print(f"{(label + name):25} {per:12,.0f} instructions/request  ({long:,} - {short:,}) / {REQUESTS}",
                      flush=True)
            if len(figures) == 2:
                print(f"{'':25} {(figures[1] / figures[0] - 1) * 100:+.1f} % against the baseline", flush=True)
    finally:
        psql(f"{base}/postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
