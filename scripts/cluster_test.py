#!/usr/bin/env python3
"""Drives a running storefront cluster (scripts/cluster up) from outside, through nginx,
and checks what DESIGN.md section 6 ("Scaling out") promises:

  a. the customer journey works through the load balancer;
  b. anonymous catalogue reads are served by the streaming replica;
  c. 200 concurrent checkouts of a 50-unit product, spread over the instances: exactly
     50 orders, 150 x 409 insufficient_stock, no 5xx, stock 0;
  e. the replica stopped under catalogue load: no error, reads move to the primary and
     come back once the replica does;
  f. a rolling restart (scripts/cluster restart N, one instance after the other) under a
     mixed load: no failed request, no lost or doubled order;
  g. the same with a bare SIGTERM to each instance, nginx's configuration untouched (the
     instances drain themselves, SHUTDOWN_DRAIN_SECS): no failed request either;
  d. (it locks client addresses out) failed logins from one client address throttle
     it on every instance, in total, and leave another address alone;
  i. (DESIGN.md section 9) 100 orders paid through nginx with the test payment gateway
     (a process of its own, its webhooks spread over the instances by nginx) while one
     instance is restarted: every order paid exactly once, one capture per order at the
     gateway, webhooks answered by more than one instance, one inbox row per event;
  j. (DESIGN.md section 11) 1,000 events to a webhook receiver of the test's own while
     one instance is SIGKILLed mid-batch and started again: every event delivered, the
     dead instance's claims sent again after their lease (same webhook-id), never two
     deliveries of one event at once, all delivered in the database, every signature
     verified by the standardwebhooks package (a second implementation);
  h. (last: it waits out the payment window, ORDER_PAYMENT_WINDOW_SECS) unpaid orders
     placed through nginx expire while the three instances run: each cancelled
     (payment_expired) exactly once, one release movement per line, stock back.

Standard library only (j verifies signatures with the standardwebhooks package, run in
the venv scripts/cluster makes: --webhook-python). Every request opens its own
connection, so a client never races nginx closing an idle keep-alive connection (nginx does that on reload, which the rolling
restart uses). Prints a summary; exits 1 if any check failed.

Usually run by `scripts/cluster test`, which passes the arguments.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import http.client
import http.server
from dataclasses import dataclass, field

PASSWORD = "correct horse battery"
THROTTLE_PER_LOGIN = 5  # LOGIN_THROTTLE_MAX_FAILURES in the instances' environment
THROTTLE_PER_ADDRESS = 10  # LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS


# ------------------------------------------------------------------------------- HTTP


@dataclass
class Resp:
    status: int | None  # None: no HTTP answer at all (connection refused/reset, timeout)
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def code(self):
        doc = self.json()
        return doc.get("code") if isinstance(doc, dict) else None

    def describe(self):
        if self.status is None:
            return f"no response ({self.error})"
        return f"{self.status} {self.body[:200].decode('utf-8', 'replace')}"


class Http:
    """One connection per request; counts requests and status classes per target."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = collections.Counter()  # target -> requests
        self.classes = collections.Counter()  # (target, class) -> count

    def call(self, base, method, path, body=None, token=None, source=None, headers=None,
             timeout=30.0, target="nginx"):
        url = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(
            url.hostname, url.port, timeout=timeout,
            source_address=(source, 0) if source else None)
        hdrs = {"Connection": "close", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=hdrs)
            res = conn.getresponse()
            resp = Resp(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
        except (OSError, http.client.HTTPException) as err:
            resp = Resp(None, error=f"{type(err).__name__}: {err}")
        finally:
            conn.close()
        klass = "error" if resp.status is None else f"{resp.status // 100}xx"
        with self.lock:
            self.sent[target] += 1
            self.classes[(target, klass)] += 1
        return resp


# ----------------------------------------------------------------------------- checks


class CheckFailed(Exception):
    pass


class Checks:
    def __init__(self):
        self.results = []  # (section, description, ok, detail)
        self.section = ""

    def expect(self, ok, description, detail=""):
        self.results.append((self.section, description, bool(ok), detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  [{mark}] {description}" + (f"\n         {detail}" if detail and not ok else ""),
              flush=True)
        return bool(ok)

    def require(self, ok, description, detail=""):
        """Like expect, but the rest of the section cannot go on without it."""
        if not self.expect(ok, description, detail):
            raise CheckFailed(description)

    @property
    def failed(self):
        return [r for r in self.results if not r[2]]


class Cluster:
    def __init__(self, args):
        self.nginx = args.nginx
        self.instances = args.instances.split(",")
        self.primary_url = args.primary_url
        self.gateway = args.gateway.rstrip("/")
        self.psql_bin = args.psql
        self.bin = args.bin
        self.cluster = args.cluster
        self.payment_window = args.payment_window
        self.webhook_python = args.webhook_python
        self.cluster_dir = args.cluster_dir
        self.http = Http()
        self.checks = Checks()
        self.run = format(int(time.time() * 1000) % 16**8, "x")  # unique names per run
        # Two client addresses for d: loopback addresses other than 127.0.0.1 (nginx's own,
        # a trusted proxy), new ones per run, so a rerun against the same cluster within the
        # throttle window does not start out throttled.
        rnd = random.Random(self.run)
        net = f"127.{rnd.randint(1, 254)}.{rnd.randint(0, 255)}"
        self.client_a, self.client_b = f"{net}.2", f"{net}.3"
        self.summary = collections.OrderedDict()
        # Working directory for `storefront admin promote`: one with no .env to pick up.
        self._workdir = tempfile.TemporaryDirectory(prefix="storefront-cluster-test-")
        self.workdir = self._workdir.name

    # -- helpers -------------------------------------------------------------------

    def api(self, method, path, **kw):
        return self.http.call(self.nginx, method, "/api/v1" + path, **kw)

    def direct(self, instance, method, path, **kw):
        return self.http.call(instance, method, path, target="direct", **kw)

    def psql(self, sql):
        out = subprocess.run([self.psql_bin, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                              self.primary_url, "-c", sql],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            self.checks.require(False, f"psql on the primary: {sql}", out.stderr.strip())
        return out.stdout.strip()

    def cluster_cmd(self, *argv):
        started = time.monotonic()
        out = subprocess.run([self.cluster, *argv], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            self.checks.require(False, f"scripts/cluster {' '.join(argv)}: exit 0",
                                (out.stdout + out.stderr).strip())
        return out.stdout.strip(), time.monotonic() - started

    def register(self, username, source=None):
        return self.api("POST", "/users", body={
            "username": username, "email": f"{username}@example.com", "password": PASSWORD},
            source=source)

    def login(self, login, password=PASSWORD, source=None, base=None, headers=None):
        body = {"login": login, "password": password}
        if base:
            return self.http.call(base, "POST", "/api/v1/sessions", body=body, source=source,
                                  target="direct", headers=headers)
        return self.api("POST", "/sessions", body=body, source=source, headers=headers)

    def new_user(self, username):
        resp = self.register(username)
        self.checks.require(resp.status == 201, f"register {username}: 201", resp.describe())
        resp = self.login(username)
        self.checks.require(resp.status == 200 and resp.json().get("token"),
                            f"log in as {username}: 200 with a token", resp.describe())
        return resp.json()["token"]

    def create_product(self, name, inventory):
        resp = self.api("POST", "/products", token=self.admin_token, body={
            "name": name, "description": "cluster test", "price": "19.99",
            "inventory_count": inventory})
        self.checks.require(resp.status == 201, f"admin creates product {name!r}: 201",
                            resp.describe())
        return resp.json()["id"]

    def inventory(self, product_id):
        return int(self.psql(f"SELECT inventory_count FROM products WHERE id = {product_id}"))

    def metrics(self):
        """{instance: {pool: count}} of db_catalogue_reads_total; an instance whose /metrics
        lacks the counter maps to None."""
        out = {}
        for inst in self.instances:
            resp = self.direct(inst, "GET", "/metrics")
            pools = {}
            if resp.status == 200:
                for m in re.finditer(r'^db_catalogue_reads_total\{([^}]*)\}\s+(\S+)',
                                     resp.body.decode(), re.M):
                    pool = re.search(r'pool="([^"]*)"', m.group(1))
                    if pool:
                        pools[pool.group(1)] = pools.get(pool.group(1), 0) + float(m.group(2))
            out[inst] = pools or None
        return out

    def route_counts(self, method, route, status=None):
        """Requests each instance answered for one route (http_requests_total; all statuses,
        or one class: status="2xx"). A route pattern may hold braces (`/orders/{id}`): the
        labels run to the line's last `}`."""
        return [self.route_count(self.direct(inst, "GET", "/metrics").body.decode(), method, route, status)
                for inst in self.instances]

    @staticmethod
    def route_count(metrics, method, route, status=None):
        """http_requests_total of one route in one /metrics text (see route_counts)."""
        total = 0.0
        for m in re.finditer(r'^http_requests_total\{(.*)\}\s+(\S+)$', metrics, re.M):
            labels = m.group(1)
            if f'method="{method}"' in labels and f'route="{route}"' in labels and (
                    status is None or f'status="{status}"' in labels):
                total += float(m.group(2))
        return total

    def job_rows(self, job):
        """Rows each instance's background job `job` handled (background_job_rows_total)."""
        out = []
        for inst in self.instances:
            resp = self.direct(inst, "GET", "/metrics")
            m = re.search(r'^background_job_rows_total\{job="%s"\}\s+(\S+)' % re.escape(job),
                          resp.body.decode(), re.M)
            out.append(float(m.group(1)) if m else 0.0)
        return out

    def pool_totals(self, metrics):
        if any(v is None for v in metrics.values()):
            return None
        return {pool: sum(m.get(pool, 0) for m in metrics.values())
                for pool in ("primary", "replica")}

    def require_metrics(self, metrics):
        missing = [i for i, v in metrics.items() if v is None]
        self.checks.require(
            not missing,
            "every instance's /metrics has db_catalogue_reads_total{pool=...}",
            f"missing on {', '.join(missing)}: this binary does not count catalogue reads "
            "per pool (replica routing, DESIGN.md §6, not in this build?)")
        return self.pool_totals(metrics)

    def readiness(self):
        out = {}
        for inst in self.instances:
            resp = self.direct(inst, "GET", "/health/ready")
            doc = resp.json() if resp.status is not None else None
            out[inst] = (resp.status, doc.get("replica") if isinstance(doc, dict) else None)
        return out

    def wait_for(self, predicate, timeout, interval=0.1):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(interval)

    # -- a. the customer journey -----------------------------------------------------

    def check_journey(self):
        c = self.checks
        admin = f"admin_{self.run}"
        resp = self.register(admin)
        c.require(resp.status == 201, "POST /users (register the admin-to-be): 201", resp.describe())
        out = subprocess.run([self.bin, "admin", "promote", admin], cwd=self.workdir,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                  "DATABASE_URL": self.primary_url, "RUST_LOG": "warn"},
                             capture_output=True, text=True, check=False)
        c.require(out.returncode == 0, f"storefront admin promote {admin}: exit 0",
                  (out.stdout + out.stderr).strip())
        resp = self.login(admin)
        c.require(resp.status == 200, "POST /sessions (admin): 200", resp.describe())
        self.admin_token = resp.json()["token"]
        self.journey_product = self.create_product(f"Blue teapot {self.run}", 10)
        pid = self.journey_product

        token = self.new_user(f"shopper_{self.run}")
        # Anonymous reads go to the replica, which sees the product after streaming lag.
        listed = self.wait_for(lambda: (lambda r: r.status == 200 and any(
            p["id"] == pid for p in r.json()["items"]))(self.api("GET", "/products?limit=100")), 5)
        c.expect(listed, "GET /products lists the new product (within 5 s)")
        resp = self.wait_for(lambda: (lambda r: r if r.status == 200 else None)(
            self.api("GET", f"/products/{pid}")), 5)
        c.expect(resp and resp.json()["name"] == f"Blue teapot {self.run}",
                 f"GET /products/{pid}: 200 with the product", resp and resp.describe())
        resp = self.api("POST", "/cart/items", token=token, body={"product_id": pid, "quantity": 2})
        c.require(resp.status == 201, "POST /cart/items: 201", resp.describe())
        resp = self.api("POST", "/cart/checkout", token=token)
        c.require(resp.status == 201 and resp.json()["status"] == "checked_out",
                  "POST /cart/checkout: 201, status checked_out", resp.describe())
        order_id = resp.json()["id"]
        resp = self.api("GET", "/orders", token=token)
        c.expect(resp.status == 200 and [o["id"] for o in resp.json()["items"]] == [order_id],
                 "GET /orders: 200 listing the order", resp.describe())
        c.expect(self.inventory(pid) == 8, "stock went from 10 to 8")

    # -- b. catalogue reads from the replica ---------------------------------------------

    def check_replica_reads(self):
        c = self.checks
        # Poll while the replica catches up; not at all if the field is missing.
        ready = self.wait_for(lambda: (lambda r: r if all(
            s == 200 and rep in ("up", None) for s, rep in r.values()) else None)(self.readiness()), 10)
        ready = ready or self.readiness()
        c.expect(all(s == 200 and rep == "up" for s, rep in ready.values()),
                 'every instance\'s /health/ready: 200 with "replica": "up"',
                 "; ".join(f"{i}: status {s}, replica={rep!r}" for i, (s, rep) in ready.items())
                 + ("  (no \"replica\" field: this build has no replica support)"
                    if any(rep is None for _, rep in ready.values()) else ""))
        pid = self.journey_product
        # The cluster commits asynchronously (synchronous_commit = off), so the replica may
        # be a moment behind the journey's writes, and a read of the product can be a 404
        # until it catches up (measured: up to seconds on a slow machine). Wait until every
        # instance's replica shows it: these reads test where reads go, not replication delay.
        self.wait_for(lambda: all(
            self.direct(inst, "GET", f"/api/v1/products/{pid}").status == 200
            for inst in self.instances), 15)
        before = self.require_metrics(self.metrics())
        reads = 30
        bad = []
        for i in range(reads):
            path = f"/products/{pid}" if i % 2 else "/products?limit=5"
            resp = self.api("GET", path)
            if resp.status != 200:
                bad.append(f"GET {path}: {resp.describe()}")
        c.require(not bad, f"{reads} anonymous GET /products and /products/{{id}} through nginx: 200",
                  f"{len(bad)} failed, e.g. {bad[:3]}")
        after = self.pool_totals(self.metrics())
        delta = {p: after[p] - before[p] for p in after}
        self.summary["catalogue reads, b (replica healthy)"] = (
            f"{reads} anonymous reads -> replica +{delta['replica']:.0f}, "
            f"primary +{delta['primary']:.0f}")
        c.expect(delta["replica"] >= reads and delta["primary"] == 0,
                 f"{reads} anonymous catalogue reads all served by the replica pool",
                 f"replica +{delta['replica']:.0f}, primary +{delta['primary']:.0f}")

    # -- c. 200 concurrent checkouts of 50 units ----------------------------------------

    def check_concurrent_checkouts(self):
        c = self.checks
        users, stock = 200, 50
        pid = self.create_product(f"Limited kettle {self.run}", stock)
        names = [f"buyer{i:03d}_{self.run}" for i in range(users)]

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(6) as pool:  # argon2: keep it moderate
            regs = list(pool.map(self.register, names))
        bad = [r.describe() for r in regs if r.status != 201]
        c.require(not bad, f"{users} registrations through nginx: all 201",
                  f"{len(bad)} failed, e.g. {bad[:3]}")
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            logins = list(pool.map(self.login, names))
        bad = [r.describe() for r in logins if r.status != 200]
        c.require(not bad, f"{users} logins through nginx: all 200",
                  f"{len(bad)} failed, e.g. {bad[:3]}")
        tokens = [r.json()["token"] for r in logins]
        self.summary["registrations + logins, c"] = f"{users} + {users} in {time.monotonic() - started:.1f} s"

        def add(token):
            return self.api("POST", "/cart/items", token=token, body={"product_id": pid, "quantity": 1})

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            adds = list(pool.map(add, tokens))
        bad = [r.describe() for r in adds if r.status != 201]
        c.require(not bad, f"{users} cart adds of 1 unit: all 201", f"{len(bad)} failed, e.g. {bad[:3]}")

        spread_before = self.route_counts("POST", "/api/v1/cart/checkout")
        barrier = threading.Barrier(users)
        results = [None] * users

        def checkout(i):
            barrier.wait()
            results[i] = self.api("POST", "/cart/checkout", token=tokens[i])

        threads = [threading.Thread(target=checkout, args=(i,)) for i in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        spread = [a - b for a, b in zip(self.route_counts("POST", "/api/v1/cart/checkout"), spread_before)]
        statuses = collections.Counter(r.status for r in results)
        codes = collections.Counter(r.code() for r in results if r.status == 409)
        self.summary["concurrent checkouts, c"] = (
            f"{users} at once for {stock} in stock: "
            + ", ".join(f"{s or 'no response'} x{n}" for s, n in sorted(statuses.items(), key=str)))
        self.summary["checkouts per instance, c"] = " / ".join(f"{n:.0f}" for n in spread)
        c.expect(all(n > 0 for n in spread) and sum(spread) == users,
                 "the checkouts were spread over the three instances by nginx",
                 f"per instance (http_requests_total): {spread}")
        c.expect(statuses[201] == stock, f"exactly {stock} checkouts 201", dict(statuses))
        c.expect(statuses[409] == users - stock and codes["insufficient_stock"] == users - stock,
                 f"the other {users - stock}: 409 insufficient_stock", f"{dict(statuses)}, codes {dict(codes)}")
        c.expect(not any(r.status is None or r.status >= 500 for r in results),
                 "no 5xx, no connection error", dict(statuses))
        resp = self.api("GET", f"/products/{pid}", token=self.admin_token)
        left = resp.json().get("inventory_count") if resp.status == 200 else None
        orders = int(self.psql(
            "SELECT count(DISTINCT c.id) FROM carts c JOIN cart_items i ON i.cart_id = c.id "
            f"WHERE c.status = 'checked_out' AND i.product_id = {pid}"))
        self.summary["orders vs stock, c"] = f"{orders} orders, stock {stock} -> {left}"
        c.expect(left == 0, "inventory_count ends at 0 (admin GET, primary)", f"inventory_count={left}")
        c.expect(orders == stock, f"{stock} orders in the database", f"{orders} orders")
        # The buyers whose checkout went through have empty carts: the rolling restart uses them.
        self.spare_users = [(names[i], tokens[i]) for i in range(users) if results[i].status == 201]

    # -- e. replica stopped under catalogue load ----------------------------------------

    def check_replica_outage(self):
        c = self.checks
        pid = self.journey_product
        stop = threading.Event()
        seen = collections.Counter()
        failures = []

        def reader():
            i = 0
            while not stop.is_set():
                path = f"/products/{pid}" if i % 2 else "/products?limit=5"
                resp = self.api("GET", path, timeout=10)
                seen[resp.status] += 1
                if resp.status != 200:
                    failures.append(f"GET {path}: {resp.describe()}")
                i += 1

        readers = [threading.Thread(target=reader) for _ in range(2)]
        for t in readers:
            t.start()
        # Without replica support in the binary there is nothing to wait for below.
        has_replica_field = any(rep is not None for _, rep in self.readiness().values())
        try:
            time.sleep(0.5)
            metrics_ok = all(v is not None for v in self.metrics().values())
            before = self.pool_totals(self.metrics()) if metrics_ok else None
            _, took = self.cluster_cmd("replica", "stop")
            stopped_at = time.monotonic()
            moved_after = None
            if metrics_ok:
                grew = self.wait_for(lambda: self.pool_totals(self.metrics())["primary"] > before["primary"], 5, 0.05)
                moved_after = time.monotonic() - stopped_at if grew else None
            down = has_replica_field and self.wait_for(lambda: (lambda r: r if all(
                s == 200 and rep == "down" for s, rep in r.values()) else None)(self.readiness()), 5)
            # Keep reading while the replica is gone: the primary serves every read.
            time.sleep(0.5)
            mid = self.pool_totals(self.metrics()) if metrics_ok else None
            time.sleep(1.0)
            during = self.pool_totals(self.metrics()) if metrics_ok else None
            self.cluster_cmd("replica", "start")
            started_at = time.monotonic()
            back_after = None
            if metrics_ok:
                back = self.wait_for(lambda: self.pool_totals(self.metrics())["replica"] > during["replica"], 20, 0.1)
                back_after = time.monotonic() - started_at if back else None
            up = has_replica_field and self.wait_for(lambda: (lambda r: r if all(
                s == 200 and rep == "up" for s, rep in r.values()) else None)(self.readiness()), 20)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in readers:
                t.join()
        after = self.pool_totals(self.metrics()) if metrics_ok else None

        total = sum(seen.values())
        self.summary["catalogue reads, e (replica stopped)"] = (
            f"{total} anonymous reads through nginx: "
            + ", ".join(f"{s or 'no response'} x{n}" for s, n in sorted(seen.items(), key=str)))
        self.summary["catalogue reads per pool, e"] = (
            f"before the stop {fmt_pools(before)}; replica stopped {fmt_pools(during)}; "
            f"after its restart {fmt_pools(after)}")
        c.expect(not failures and total > 0,
                 "replica stopped and restarted under catalogue load: every read 200 (no 5xx, "
                 "no connection error)", f"{len(failures)} failed of {total}, e.g. {failures[:3]}")
        self.require_metrics(self.metrics())
        c.expect(moved_after is not None and moved_after < 3,
                 "reads move to the primary within about the replica timeout once the replica stops",
                 f"primary counter {'grew after %.2f s' % moved_after if moved_after else 'did not grow in 5 s'}")
        c.expect(during["primary"] > mid["primary"] and during["replica"] == mid["replica"],
                 "while the replica is stopped, the primary serves every catalogue read",
                 f"over 1 s: primary +{during['primary'] - mid['primary']:.0f}, "
                 f"replica +{during['replica'] - mid['replica']:.0f}")
        c.expect(bool(down), 'every /health/ready: 200 with "replica": "down" while it is stopped',
                 str(self.readiness()))
        c.expect(back_after is not None, "reads return to the replica after it restarts (within 20 s)",
                 f"replica counter {'grew after %.1f s' % back_after if back_after else 'did not grow'}")
        c.expect(bool(up), 'every /health/ready: "replica": "up" again', str(self.readiness()))
        if moved_after is not None:
            self.summary["replica failover, e"] = (
                f"reads on the primary {moved_after:.2f} s after the stop; back on the replica "
                + (f"{back_after:.1f} s after the restart" if back_after is not None else "never"))

    # -- f, g. rolling restart under a mixed load ---------------------------------------

    def check_rolling_restart(self, drain=True, key="f"):
        """drain: take each instance out of nginx first (scripts/cluster restart N);
        otherwise SIGTERM it in place (--no-drain) and rely on its own drain."""
        c = self.checks
        shoppers = 4
        # Buyers from c, their carts empty; f and g each take their own.
        first = 0 if key == "f" else shoppers * 3
        users = self.spare_users[first: first + shoppers * 3]
        while len(users) < shoppers * 3:
            name = f"shopper{len(users)}{key}_{self.run}"
            users.append((name, self.new_user(name)))
        stock = 1_000_000
        pid = self.create_product(f"Everyday mug {key} {self.run}", stock)
        # Anonymous reads come from the replica: start the load once it has the product
        # (a read in the first milliseconds would rightly be a 404, the replica's lag).
        c.require(self.wait_for(lambda: self.api("GET", f"/products/{pid}").status == 200, 5),
                  f"the new product is readable anonymously (replica caught up) within 5 s")
        stop = threading.Event()
        lock = threading.Lock()
        failures = []
        tally = collections.Counter()  # what the client saw succeed
        pending = {}  # user -> units added but not yet checked out (client's view)

        def fail(what, resp):
            with lock:
                failures.append(f"{what}: {resp.describe()}")

        def shopper(users):
            rnd = random.Random()
            while not stop.is_set():
                for name, token in users:
                    if stop.is_set():
                        break
                    for _ in range(rnd.randint(1, 3)):
                        qty = rnd.randint(1, 3)
                        resp = self.api("POST", "/cart/items", token=token,
                                        body={"product_id": pid, "quantity": qty})
                        if resp.status == 201:
                            with lock:
                                tally["cart adds 201"] += 1
                                pending[name] = pending.get(name, 0) + qty
                        else:
                            fail("POST /cart/items", resp)
                    resp = self.api("POST", "/cart/checkout", token=token)
                    if resp.status == 201:
                        units = sum(i["quantity"] for i in resp.json()["items"] if i["product_id"] == pid)
                        with lock:
                            tally["checkouts 201"] += 1
                            tally["units in 201 orders"] += units
                            if units != pending.get(name, 0):
                                failures.append(f"{name}: order holds {units} units, "
                                                f"client added {pending.get(name, 0)}")
                            pending[name] = 0
                    else:
                        fail("POST /cart/checkout", resp)

        def reader():
            i = 0
            while not stop.is_set():
                path = f"/products/{pid}" if i % 2 else "/products?limit=10"
                resp = self.api("GET", path)
                if resp.status == 200:
                    with lock:
                        tally["reads 200"] += 1
                else:
                    fail(f"GET {path}", resp)
                i += 1

        threads = [threading.Thread(target=shopper, args=(users[k::shoppers],)) for k in range(shoppers)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        restarts = []
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            for n in (1, 2, 3):
                argv = ["restart", str(n)] + ([] if drain else ["--no-drain"])
                out, took = self.cluster_cmd(*argv)
                restarts.append(f"{out.removeprefix('cluster: ')} in {took:.1f} s")
                time.sleep(0.5)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()

        orders, units = self.psql(
            "SELECT count(DISTINCT c.id), coalesce(sum(i.quantity), 0) FROM carts c "
            f"JOIN cart_items i ON i.cart_id = c.id WHERE c.status = 'checked_out' AND i.product_id = {pid}"
        ).split("|")
        orders, units = int(orders), int(units)
        open_units = int(self.psql(
            "SELECT coalesce(sum(i.quantity), 0) FROM carts c JOIN cart_items i ON i.cart_id = c.id "
            f"WHERE c.status = 'open' AND i.product_id = {pid}"))
        left = self.inventory(pid)
        self.summary[f"rolling restart, {key}"] = "; ".join(restarts)
        self.summary[f"mixed load during restarts, {key}"] = (
            f"{tally['reads 200']} reads, {tally['cart adds 201']} cart adds, "
            f"{tally['checkouts 201']} checkouts ({tally['units in 201 orders']} units) succeeded")
        self.summary[f"rolling-restart failures, {key}"] = (
            f"{len(failures)}" + (f" (e.g. {failures[0]})" if failures else ""))
        self.summary[f"orders vs stock, {key}"] = (
            f"{orders} orders holding {units} units in the database; stock {stock} -> {left}")
        how = "rolling restart" if drain else "bare SIGTERMs, nginx untouched"
        c.expect(not failures, f"{how}: zero failed requests (no 5xx, no connection error)",
                 f"{len(failures)} failed, e.g. {failures[:5]}")
        c.expect(tally["checkouts 201"] > 0 and tally["reads 200"] > 0,
                 "the load ran during the restarts", dict(tally))
        c.expect(orders == tally["checkouts 201"],
                 "orders in the database == checkout 201s the client saw (none lost or doubled)",
                 f"{orders} orders, {tally['checkouts 201']} checkouts 201")
        c.expect(units == tally["units in 201 orders"] and stock - left == units,
                 "stock decreased by exactly the units the orders hold",
                 f"units in orders {units}, in 201 bodies {tally['units in 201 orders']}, "
                 f"stock decrease {stock - left}")
        c.expect(open_units == sum(pending.values()),
                 "units still in open carts == units added after the last checkout (no lost add)",
                 f"{open_units} in open carts, client expects {sum(pending.values())}")

    # -- d. login throttle shared by the instances, per client address --------------------

    def check_login_throttle(self):
        c = self.checks
        victim, bob, carol = f"victim_{self.run}", f"bob_{self.run}", f"carol_{self.run}"
        for name in (victim, bob, carol):
            resp = self.register(name)
            c.require(resp.status == 201, f"register {name}: 201", resp.describe())

        # Client A guesses the victim's password: three guesses straight at the three
        # instances (from an untrusted address: the instances take the peer), two through
        # nginx (peer nginx, trusted: the address nginx appended to X-Forwarded-For).
        seen = []
        for i, inst in enumerate(self.instances):
            resp = self.login(victim, "wrong password!", source=self.client_a, base=inst)
            seen.append(resp.status)
        for _ in range(THROTTLE_PER_LOGIN - len(self.instances)):
            resp = self.login(victim, "wrong password!", source=self.client_a)
            seen.append(resp.status)
        c.expect(seen == [401] * THROTTLE_PER_LOGIN,
                 f"client A: {THROTTLE_PER_LOGIN} wrong passwords for one login (3 instances directly, "
                 "2 through nginx): each 401", f"statuses {seen}")
        resp = self.login(victim, PASSWORD, source=self.client_a)
        c.expect(resp.status == 429 and "retry-after" in resp.headers,
                 f"client A: attempt {THROTTLE_PER_LOGIN + 1}, right password, through nginx: 429 with "
                 f"Retry-After ({THROTTLE_PER_LOGIN} failures in total across the instances, not per instance)",
                 resp.describe() + "  (throttle state not shared through the database, or the client "
                 "address not taken from X-Forwarded-For behind TRUSTED_PROXIES? DESIGN.md §6)")

        # Client B, another address, is not affected: it logs in to its own account.
        resp = self.login(bob, source=self.client_b)
        c.expect(resp.status == 200, f"client B ({self.client_b}): logs in to another account: 200",
                 resp.describe())

        # Client A goes on with unknown logins until its address allowance is spent.
        failures = seen.count(401)
        statuses = []
        for i in range(THROTTLE_PER_ADDRESS):
            resp = self.login(f"ghost{i}_{self.run}", "whatever-password", source=self.client_a)
            statuses.append(resp.status)
        failures += statuses.count(401)
        ordered = statuses == sorted(statuses, key=lambda s: s == 429)
        c.expect(failures == THROTTLE_PER_ADDRESS and ordered and set(statuses) <= {401, 429},
                 f"client A: failed logins count per address across the instances: exactly "
                 f"{THROTTLE_PER_ADDRESS} failures (401) in total, then 429",
                 f"{failures} failures in total; unknown-login statuses {statuses}")
        resp = self.login(carol, PASSWORD, source=self.client_a)
        c.expect(resp.status == 429,
                 "client A: next login (right password, another account): 429, the address is throttled",
                 resp.describe())
        resp = self.login(carol, PASSWORD, source=self.client_a, headers={"X-Forwarded-For": "203.0.113.9"})
        c.expect(resp.status == 429,
                 "client A with a forged X-Forwarded-For through nginx: still 429", resp.describe())
        resp = self.login(carol, PASSWORD, source=self.client_a, base=self.instances[0],
                          headers={"X-Forwarded-For": "203.0.113.9"})
        c.expect(resp.status == 429,
                 "client A with a forged X-Forwarded-For straight at an instance: still 429",
                 resp.describe())
        resp = self.login(carol, source=self.client_b)
        c.expect(resp.status == 200, "client B meanwhile: logs in: 200", resp.describe())

    # -- h. unpaid orders expire while three instances run ---------------------------

    def check_order_expiry(self):
        c = self.checks
        window = self.payment_window
        c.require(window > 0, "the instances run with a payment window (ORDER_PAYMENT_WINDOW_SECS > 0)",
                  f"--payment-window {window}")
        # Checkouts (and releases) of one product queue on its row lock, so 150 deadlines
        # spread over about a second and every instance's rounds take a share (with 45, one
        # round of one instance took them all, and the sharing went untested).
        users, stock_vase, stock_lamp = 150, 1000, 500
        vase = self.create_product(f"Reserved vase {self.run}", stock_vase)
        lamp = self.create_product(f"Reserved lamp {self.run}", stock_lamp)
        names = [f"waverer{i:02d}_{self.run}" for i in range(users)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:  # argon2: keep it moderate
            regs = list(pool.map(self.register, names))
            logins = list(pool.map(self.login, names))
        bad = [r.describe() for r in regs + logins if r.status not in (200, 201)]
        c.require(not bad, f"{users} registrations and logins through nginx",
                  f"{len(bad)} failed, e.g. {bad[:3]}")
        tokens = [r.json()["token"] for r in logins]

        # Every shopper takes 1-3 vases, every other one two lamps as well: orders of one and
        # of two lines, two products whose stock must both come back.
        def fill(i):
            lines = [(vase, i % 3 + 1)] + ([(lamp, 2)] if i % 2 else [])
            return [self.api("POST", "/cart/items", token=tokens[i],
                             body={"product_id": p, "quantity": q}) for p, q in lines]

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            adds = [r for rs in pool.map(fill, range(users)) for r in rs]
        bad = [r.describe() for r in adds if r.status != 201]
        c.require(not bad, f"{len(adds)} cart adds: all 201", f"{len(bad)} failed, e.g. {bad[:3]}")

        # The earlier phases' orders are still running out their windows. Let them expire
        # first, so the job counters below count this phase's orders and nothing else.
        left = lambda: int(self.psql("SELECT count(*) FROM orders WHERE payment_due_at IS NOT NULL"))
        c.require(self.wait_for(lambda: left() == 0, window + 10, 0.5),
                  f"the earlier phases' unpaid orders expired first (within {window + 10} s)",
                  f"{left()} still awaiting payment")
        time.sleep(1.0)  # a round counts its rows once its last transaction committed
        rows_before = self.job_rows("expire_unpaid_orders")
        spread_before = self.route_counts("POST", "/api/v1/cart/checkout")

        barrier = threading.Barrier(users)
        results = [None] * users

        def checkout(i):
            barrier.wait()
            results[i] = self.api("POST", "/cart/checkout", token=tokens[i])

        threads = [threading.Thread(target=checkout, args=(i,)) for i in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        checked_out = time.monotonic()
        bad = [r.describe() for r in results if r.status != 201]
        c.require(not bad, f"{users} concurrent checkouts through nginx: all 201",
                  f"{len(bad)} failed, e.g. {bad[:3]}")
        placed = [r.json() for r in results]
        spread = [a - b for a, b in zip(self.route_counts("POST", "/api/v1/cart/checkout"), spread_before)]
        c.expect(all(o["payment_status"] == "awaiting_payment" and o["payment_due_at"] for o in placed),
                 "every order placed awaiting_payment, with a payment_due_at",
                 str([(o["id"], o["payment_status"], o["payment_due_at"]) for o in placed][:3]))
        c.expect(all(n > 0 for n in spread), "the checkouts were spread over the three instances",
                 f"per instance (http_requests_total): {spread}")
        ids = ",".join(str(o["id"]) for o in placed)
        sold_vase = sum(i % 3 + 1 for i in range(users))
        sold_lamp = 2 * (users // 2)
        c.expect(self.inventory(vase) == stock_vase - sold_vase and self.inventory(lamp) == stock_lamp - sold_lamp,
                 "checkout took the stock", f"vase {self.inventory(vase)}, lamp {self.inventory(lamp)}")

        # Wait out the window (the job runs on every instance every second).
        open_ = lambda: int(self.psql(f"SELECT count(*) FROM orders WHERE id IN ({ids}) AND status <> 'cancelled'"))
        done = self.wait_for(lambda: open_() == 0, window + 10, 0.2)
        waited = time.monotonic() - checked_out
        c.require(done, f"all {users} orders cancelled within the window + 10 s ({window + 10} s)",
                  f"{open_()} not cancelled after {waited:.1f} s")

        expired = int(self.psql(
            f"SELECT count(*) FROM orders WHERE id IN ({ids}) AND status = 'cancelled' "
            "AND cancel_reason = 'payment_expired' AND payment_status = 'voided' "
            "AND payment_due_at IS NULL AND cancelled_at IS NOT NULL"))
        c.expect(expired == users,
                 "every one: status cancelled, cancel_reason payment_expired, payment_status voided, "
                 "no deadline left", f"{expired} of {users}")
        # One release per line (order, product), moving back exactly the line's units.
        lines = [row.split("|") for row in self.psql(
            "SELECT i.cart_id, i.product_id, i.quantity, count(m.id), coalesce(sum(m.delta), 0) "
            "FROM cart_items i LEFT JOIN stock_movements m ON m.order_id = i.cart_id "
            "AND m.product_id = i.product_id AND m.reason = 'release' "
            f"WHERE i.cart_id IN ({ids}) GROUP BY i.cart_id, i.product_id, i.quantity").splitlines()]
        wrong = [ln for ln in lines if ln[3] != "1" or ln[4] != ln[2]]
        releases = int(self.psql(
            f"SELECT count(*) FROM stock_movements WHERE reason = 'release' AND order_id IN ({ids})"))
        c.expect(lines and not wrong and releases == len(lines),
                 f"exactly one release movement per line ({len(lines)} lines), of the line's quantity",
                 f"{releases} release movements; (order, product, qty, releases, units) off: {wrong[:5]}")
        back = (self.inventory(vase), self.inventory(lamp))
        c.expect(back == (stock_vase, stock_lamp), "the stock is back where it started",
                 f"vase {back[0]} (started {stock_vase}), lamp {back[1]} (started {stock_lamp})")
        unbalanced = self.psql(
            "SELECT p.id, p.inventory_count, coalesce(sum(m.delta), 0) FROM products p "
            "LEFT JOIN stock_movements m ON m.product_id = p.id GROUP BY p.id "
            "HAVING p.inventory_count <> coalesce(sum(m.delta), 0)")
        c.expect(not unbalanced, "ledger balanced: every product's movements sum to its inventory_count",
                 f"(product, inventory_count, sum of deltas): {unbalanced}")

        # How long after its deadline each order was cancelled (payment_due_at is gone by
        # now; the deadline is the checkout plus the window, both from one now()).
        lag = f"extract(epoch FROM o.cancelled_at - (c.checked_out_at + interval '{window} seconds'))"
        early, worst, median = (float(x) for x in self.psql(
            f"SELECT min({lag}), max({lag}), percentile_cont(0.5) WITHIN GROUP (ORDER BY {lag}) "
            f"FROM orders o JOIN carts c ON c.id = o.id WHERE o.id IN ({ids})").split("|"))
        c.expect(early >= 0, "no order cancelled before its deadline", f"earliest {early:.3f} s after it")

        # The job counts what it expired: across the instances, each order once.
        rows = self.wait_for(lambda: (lambda d: d if sum(d) >= users else None)(
            [a - b for a, b in zip(self.job_rows("expire_unpaid_orders"), rows_before)]), 3)
        rows = rows or [a - b for a, b in zip(self.job_rows("expire_unpaid_orders"), rows_before)]
        c.expect(sum(rows) == users,
                 f'background_job_rows_total{{job="expire_unpaid_orders"}} grew by {users} across the '
                 "instances (each order expired once)", f"per instance {rows}")

        # Staff see them among the cancelled orders, through nginx.
        seen, cursor, pages = {}, "", 0
        while pages < 50:
            resp = self.api("GET", f"/admin/orders?status=cancelled&limit=100&cursor={cursor}",
                            token=self.admin_token)
            if resp.status != 200:
                break
            page = resp.json()
            seen.update((o["id"], o) for o in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if not cursor or all(o["id"] in seen for o in placed):
                break
        c.require(resp.status == 200, f"GET /admin/orders?status=cancelled (admin): 200, {pages} page(s)",
                  resp.describe())
        listed = [seen.get(o["id"]) for o in placed]
        c.expect(all(o and o["status"] == "cancelled" and o["cancel_reason"] == "payment_expired"
                     and o["payment_status"] == "voided" for o in listed)
                 and all(o["status"] == "cancelled" for o in seen.values()),
                 f"GET /admin/orders?status=cancelled lists all {users}, cancelled by payment_expired, "
                 "and nothing but cancelled orders",
                 f"{sum(o is None for o in listed)} missing after {pages} page(s)")
        resp = self.api("GET", f"/orders/{placed[0]['id']}", token=tokens[0])
        c.expect(resp.status == 200 and resp.json()["status"] == "cancelled"
                 and resp.json()["payment_due_at"] is None,
                 "its owner reads an expired order: cancelled, no payment_due_at", resp.describe())

        self.summary["orders expired, h"] = (
            f"{expired} of {users} ({len(lines)} lines, {releases} release movements) with a "
            f"{window} s window; all cancelled {waited:.1f} s after the checkouts")
        self.summary["deadline to cancellation, h"] = (
            f"median {median:.2f} s, max {worst:.2f} s, min {early:.3f} s")
        self.summary["expired per instance, h"] = (
            " / ".join(f"{n:.0f}" for n in rows)
            + f" (background_job_rows_total); checkouts per instance {' / '.join(f'{n:.0f}' for n in spread)}")

    # -- i. payments through nginx while one instance restarts ---------------------------

    def gw(self, method, path, **kw):
        return self.http.call(self.gateway, method, path, target="gateway", **kw)

    def check_payments(self):
        c = self.checks
        orders, restarted = 100, 2  # instance 2 restarts (scripts/cluster restart 2)
        # Flows start one every `pace` seconds; the restart starts once `trigger` orders are
        # paid, and the flows from `gate` on wait until it is over: some orders are paid
        # before, some during and some after the restart, whatever it takes.
        pace, trigger, gate = 0.1, 25, 80
        webhook_route = "/api/v1/payments/webhooks/{provider}"
        resp = self.gw("GET", "/v1/test/events")
        c.require(resp.status == 200, f"the payment gateway answers at {self.gateway} (GET /v1/test/events)",
                  resp.describe())
        stock = 1000
        pid = self.create_product(f"Paid teapot {self.run}", stock)
        names = [f"payer{i:03d}_{self.run}" for i in range(orders)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:  # argon2: keep it moderate
            regs = list(pool.map(self.register, names))
            logins = list(pool.map(self.login, names))
        bad = [r.describe() for r in regs + logins if r.status not in (200, 201)]
        c.require(not bad, f"{orders} registrations and logins through nginx",
                  f"{len(bad)} failed, e.g. {bad[:3]}")
        tokens = [r.json()["token"] for r in logins]

        lock = threading.Lock()
        flows = [dict(i=i, qty=i % 3 + 1, retries=collections.Counter()) for i in range(orders)]
        tally = collections.Counter()  # flows paid / failed so far
        restart = {}  # start, end, out, took, error; old_hooks: the old process's webhook count
        restart_done = threading.Event()

        def retrying(flow, step, call, retry_on=(None, 502, 503, 504), deadline=30.0):
            """Calls `call` until its answer is not one a front end retries (no answer, or
            502/503/504: nothing learnt); waits Retry-After (at most 2 s) or 0.2 s."""
            until = time.monotonic() + deadline
            while True:
                resp = call()
                if resp.status not in retry_on or time.monotonic() >= until:
                    return resp
                flow["retries"][f"{step} {resp.status or 'no response'}"] += 1
                try:
                    wait = min(float(resp.headers.get("retry-after", "0.2")), 2.0)
                except ValueError:
                    wait = 0.2
                time.sleep(wait)

        def pay(i):
            flow, token = flows[i], tokens[i]
            if i >= gate:
                restart_done.wait(180)
                slot = restart.get("end", time.monotonic()) + (i - gate) * pace
            else:
                slot = started + i * pace
            time.sleep(max(0.0, slot - time.monotonic()))

            def failed(step, resp):
                flow["error"] = f"{step}: {resp.describe()}"
                with lock:
                    tally["failed"] += 1

            # A cart add is not safe to repeat (it would add the units twice): one try.
            resp = self.api("POST", "/cart/items", token=token,
                            body={"product_id": pid, "quantity": flow["qty"]})
            if resp.status != 201:
                return failed("POST /cart/items", resp)
            # The checkout is, with an Idempotency-Key: a retry replays the order.
            key = f"pay-{self.run}-{i}"
            resp = retrying(flow, "checkout", lambda: self.api(
                "POST", "/cart/checkout", token=token, headers={"Idempotency-Key": key}))
            if resp.status not in (200, 201):
                return failed("POST /cart/checkout", resp)
            flow["checked_out"] = time.monotonic()
            order = resp.json()
            flow["order"] = order["id"]
            # A second start while the payment is open returns it (200).
            resp = retrying(flow, "start", lambda: self.api(
                "POST", f"/orders/{order['id']}/payments", token=token, body={"provider": "test"}))
            if resp.status not in (200, 201) or not (resp.json() or {}).get("next_action"):
                return failed(f"POST /orders/{order['id']}/payments", resp)
            payment = resp.json()
            flow.update(payment=payment["id"], ref=payment["provider_ref"], amount=payment["amount"])
            # The shopper at the gateway.
            url = urllib.parse.urlsplit(payment["next_action"]["url"])
            resp = self.http.call(f"{url.scheme}://{url.netloc}", "POST", url.path, target="gateway",
                                  body={"client_secret": payment["client_secret"], "payment_method": "pm_ok"})
            if resp.status != 200 or (resp.json() or {}).get("status") != "succeeded":
                return failed(f"confirm at the gateway ({url.path})", resp)
            # Back from the gateway: complete, again on 503 (after its Retry-After), 502/504
            # or no answer: the same payment id, as a front end does.
            path = f"/orders/{order['id']}/payments/{payment['id']}/complete"
            resp = retrying(flow, "complete", lambda: self.api("POST", path, token=token))
            flow["completed"] = time.monotonic()
            if resp.status != 200 or resp.json().get("payment_status") != "paid":
                return failed(f"POST {path}", resp)
            with lock:
                tally["paid"] += 1

        def watch_old_process():
            """The restarted instance's counters start again at 0 in its new process: polls
            the old one's /metrics (it answers while it drains) until the process behind the
            port is a new one (its count of GET /metrics, one more per poll, goes down), and
            keeps the old process's last count of webhooks."""
            inst, last = self.instances[restarted - 1], None
            while not restart_done.is_set():
                # Its own target: refused connections while the instance is down are expected.
                resp = self.http.call(inst, "GET", "/metrics", timeout=2, target="restart watch")
                if resp.status == 200:
                    text = resp.body.decode()
                    seen = (self.route_count(text, "GET", "/metrics"),
                            self.route_count(text, "POST", webhook_route, "2xx"))
                    if last is not None and seen[0] < last[0]:
                        break
                    last = seen
                time.sleep(0.1)
            restart["old_hooks"] = last[1] if last else None

        def restarter():
            watcher = threading.Thread(target=watch_old_process)
            try:
                self.wait_for(lambda: tally["paid"] + tally["failed"] >= trigger, 60, 0.05)
                watcher.start()
                restart["start"] = time.monotonic()
                restart["out"], restart["took"] = self.cluster_cmd("restart", str(restarted))
            except Exception as err:  # CheckFailed from cluster_cmd, already reported
                restart["error"] = f"{type(err).__name__}: {err}"
            finally:
                restart["end"] = time.monotonic()
                restart_done.set()
                if watcher.is_alive():
                    watcher.join()

        hooks_before = self.route_counts("POST", webhook_route, "2xx")
        inbox_before = int(self.psql("SELECT count(*) FROM processed_webhooks"))
        started = time.monotonic()
        thread = threading.Thread(target=restarter)
        thread.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                list(pool.map(pay, range(orders)))
        finally:
            thread.join()
        took = time.monotonic() - started

        c.expect("error" not in restart, f"scripts/cluster restart {restarted} during the payments",
                 restart.get("error", ""))
        errors = [f"order {f.get('order')}: {f['error']}" for f in flows if "error" in f]
        retries = sum((f["retries"] for f in flows), collections.Counter())
        c.expect(not errors,
                 f"{orders} shoppers: cart add, checkout, start payment, confirm (pm_ok) at the gateway, "
                 "complete (retried on 503 / no answer): every complete 200 with payment_status paid",
                 f"{len(errors)} failed, e.g. {errors[:3]}")
        during = sum(1 for f in flows if "completed" in f and "start" in restart
                     and restart["start"] <= f["completed"] <= restart["end"])
        before = sum(1 for f in flows if "completed" in f and f["completed"] < restart.get("start", 0))
        after = sum(1 for f in flows if "completed" in f and f["completed"] > restart.get("end", float("inf")))
        c.expect(before > 0 and during > 0 and after > 0,
                 "orders were paid before, during and after the restart",
                 f"before {before}, during {during}, after {after}")
        slowest = max((f["completed"] - f["checked_out"] for f in flows if "completed" in f), default=0.0)

        # The gateway delivers payment.succeeded after each capture, at least once, through
        # nginx: wait until every one of these intents' events is delivered.
        refs = {f["ref"]: f for f in flows if "ref" in f}

        def events():
            resp = self.gw("GET", "/v1/test/events")
            if resp.status != 200:
                return None
            return [e for e in resp.json()["items"] if e["intent_id"] in refs]

        def all_delivered():
            evs = events()
            ok = evs is not None and all(e["pending"] == 0 and e["delivered"] > 0 for e in evs) and \
                sum(e["type"] == "payment.succeeded" for e in evs) >= len(refs)
            return evs if ok else None

        delivered = self.wait_for(all_delivered, 60, 0.5)
        evs = delivered or events() or []
        succeeded = [e for e in evs if e["type"] == "payment.succeeded"]
        c.expect(delivered and len(succeeded) == len(refs)
                 and {e["intent_id"] for e in succeeded} == set(refs),
                 f"the gateway: one payment.succeeded event per intent ({len(refs)}), every one "
                 "delivered (within 60 s)",
                 f"{len(succeeded)} payment.succeeded events, "
                 f"{sum(e['pending'] > 0 for e in evs)} with deliveries pending, "
                 f"other types {collections.Counter(e['type'] for e in evs if e['type'] != 'payment.succeeded')}")

        # Every order, as its owner reads it through nginx.
        def read(f):
            return self.api("GET", f"/orders/{f['order']}", token=tokens[f["i"]])

        placed = [f for f in flows if "order" in f]
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            reads = list(pool.map(read, placed))
        wrong = []
        for f, r in zip(placed, reads):
            doc = r.json() if r.status == 200 else None
            pays = (doc or {}).get("payments") or []
            if not (doc and doc["payment_status"] == "paid" and doc["payment_due_at"] is None
                    and doc["status"] == "checked_out" and not doc.get("refunds")
                    and len(pays) == 1 and pays[0]["status"] == "succeeded"
                    and pays[0]["id"] == f.get("payment") and pays[0]["captured_amount"] == f.get("amount")):
                wrong.append(f"order {f['order']}: " + (
                    f"payment_status {doc['payment_status']}, refunds {len(doc.get('refunds') or [])}, payments "
                    + str([(p["id"], p["status"], p["captured_amount"]) for p in pays])
                    if doc else r.describe()))
        paid = len(placed) - len(wrong)
        c.expect(len(placed) == orders and not wrong,
                 f"all {orders} orders read (GET /orders/{{id}}, owner): payment_status paid, no deadline, "
                 "exactly one payment, succeeded, capturing the order's amount, no refund",
                 f"{len(placed)} placed; {len(wrong)} off, e.g. {wrong[:3]}")

        # The gateway's own count: one capture per intent, as many as paid orders.
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            intents = list(pool.map(lambda ref: self.gw("GET", f"/v1/intents/{ref}"), refs))
        counts = [r.json()["capture_count"] if r.status == 200 else None for r in intents]
        captures = sum(n or 0 for n in counts)
        c.expect(all(n == 1 for n in counts) and captures == paid == orders,
                 f"the gateway's capture_count: 1 for every intent, {orders} in all == paid orders",
                 f"{captures} captures for {paid} paid orders; per intent {collections.Counter(counts)}; "
                 f"not 200: {[r.describe() for r in intents if r.status != 200][:3]}")
        left = self.inventory(pid)
        sold = sum(f["qty"] for f in placed)
        c.expect(left == stock - sold, "the stock went down by exactly the units ordered",
                 f"stock {stock} -> {left}, {sold} units ordered")

        # The webhooks went through nginx to more than one instance, which accepted them
        # (2xx; a rejected one, 400, would not count). The restarted instance's counter
        # started again at 0: add what its old process had counted.
        hooks_after = self.route_counts("POST", webhook_route, "2xx")
        hooks = [a - b for a, b in zip(hooks_after, hooks_before)]
        k = restarted - 1
        if restart.get("old_hooks") is not None:
            hooks[k] = restart["old_hooks"] - hooks_before[k] + hooks_after[k]
        c.expect(sum(n > 0 for n in hooks) >= 2,
                 f"the gateway's webhooks (POST {webhook_route}, through nginx) were accepted (2xx) by "
                 "more than one instance", f"per instance (http_requests_total, 2xx): {hooks}")
        # Every delivery the gateway counts as delivered was a 2xx answer of an instance.
        deliveries = sum(e["delivered"] for e in evs)
        c.expect(sum(hooks) >= deliveries >= len(evs),
                 "the instances accepted at least as many webhooks as the gateway delivered, every event once or more",
                 f"instances {sum(hooks):.0f} (per instance {hooks}), deliveries {deliveries}, events {len(evs)}")

        # The inbox: one row per payment.succeeded event, none for anything else of ours.
        ids = [e["id"] for e in succeeded]
        c.require(all(re.fullmatch(r"[A-Za-z0-9_-]+", x) for x in ids), "event ids are plain tokens", str(ids[:3]))
        in_inbox = int(self.psql(
            "SELECT count(*) FROM processed_webhooks WHERE provider = 'test' AND webhook_id IN ("
            + ",".join(f"'{x}'" for x in ids) + ")")) if ids else 0
        inbox_after = int(self.psql("SELECT count(*) FROM processed_webhooks"))
        c.expect(ids and in_inbox == len(ids) == orders and inbox_after - inbox_before == len(evs),
                 f"processed_webhooks: one row per payment.succeeded event ({orders}), no other new row",
                 f"{in_inbox} rows for {len(ids)} payment.succeeded events; "
                 f"{inbox_after - inbox_before} new rows for {len(evs)} events of these intents")

        self.summary["payments, i"] = (
            f"{tally['paid']} of {orders} orders paid by their complete through nginx in {took:.1f} s "
            f"(before / during / after the restart: {before} / {during} / {after}), {paid} read paid "
            f"at the end; checkout to paid at most {slowest:.2f} s")
        self.summary["gateway captures, i"] = (
            f"{captures} (capture_count per intent: "
            + ", ".join(f"{n} x{m}" for n, m in sorted(collections.Counter(counts).items(), key=str))
            + f"); {len(succeeded)} payment.succeeded events, {in_inbox} in processed_webhooks")
        self.summary["webhooks per instance, i"] = (
            " / ".join(f"{n:.0f}" for n in hooks)
            + f" (2xx answers; {sum(hooks):.0f} for {deliveries} deliveries of {len(evs)} events); "
            + (f"{restart['out'].removeprefix('cluster: ')} in {restart['took']:.1f} s" if "out" in restart
               else f"restart of instance {restarted} failed"))
        self.summary["client retries, i"] = (
            ", ".join(f"{k} x{v}" for k, v in sorted(retries.items())) or "none")

    # -- j. outgoing webhooks: 1,000 events, one instance SIGKILLed mid-batch ---------------

    def check_webhooks(self):
        c = self.checks
        events, killed = 1000, 2  # instance 2 is SIGKILLed (scripts/cluster kill 2)
        # The receiver answers each delivery after `delay` s, so every instance has a batch
        # in flight; the kill comes once `kill_at` deliveries have arrived.
        delay, kill_at = 0.05, 250
        lease, batch = 60, 32  # the relay's lease and batch (src/jobs/relay.rs)
        c.require(self.webhook_python and os.access(self.webhook_python, os.X_OK),
                  "a Python with the standardwebhooks package (scripts/cluster up makes the venv)",
                  f"--webhook-python {self.webhook_python!r}")

        lock = threading.Lock()
        arrivals = []  # (webhook-id, timestamp, signature, body, arrived at (monotonic))
        handling = collections.Counter()  # webhook-id -> deliveries of it being handled now
        unanswered = {}  # sender's port -> webhook-id, from arrival until the 200 is written
        concurrent_dups = []  # (webhook-id, arrived at)
        kill_now = threading.Event()

        class Receiver(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                wid = self.headers.get("webhook-id") or ""
                port = self.client_address[1]
                with lock:
                    if handling[wid]:
                        concurrent_dups.append((wid, arrived))
                    handling[wid] += 1
                    unanswered[port] = wid
                    arrivals.append((wid, self.headers.get("webhook-timestamp"),
                                     self.headers.get("webhook-signature"), body, arrived))
                    if len(arrivals) >= kill_at:
                        kill_now.set()
                try:
                    time.sleep(delay)
                    # Under the lock: the kill (taken under it) sees this one either
                    # unanswered, or answered before the SIGKILL.
                    with lock:
                        unanswered.pop(port, None)
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender died (the SIGKILLed instance): nothing to answer
                finally:
                    with lock:
                        handling[wid] -= 1

            def log_message(self, *args):
                pass

        resets = []

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # three instances, a batch of 32 each, at once

            def handle_error(self, request, client_address):
                # The killed instance's connections end in resets: counted, not printed.
                err = sys.exc_info()[1]
                if isinstance(err, ConnectionError):
                    resets.append(client_address)
                else:
                    super().handle_error(request, client_address)

        server = Server(("127.0.0.1", 0), Receiver)
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            self._webhooks_with(server, url, events, killed, delay, kill_at, lease, batch,
                                lock, arrivals, concurrent_dups, kill_now, unanswered)
        finally:
            server.shutdown()
            server.server_close()

    @staticmethod
    def sender_ports(pid, remote_port):
        """Local ports of process `pid`'s TCP connections to 127.0.0.1:`remote_port`
        (its socket inodes in /proc/PID/fd, matched in /proc/PID/net/tcp)."""
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    continue
                if m:
                    inodes.add(m.group(1))
            with open(f"/proc/{pid}/net/tcp") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            return set()
        ports = set()
        for line in lines:
            cols = line.split()
            if cols[9] in inodes and int(cols[2].split(":")[1], 16) == remote_port:
                ports.add(int(cols[1].split(":")[1], 16))
        return ports

    def _webhooks_with(self, server, url, events, killed, delay, kill_at, lease, batch,
                       lock, arrivals, concurrent_dups, kill_now, unanswered):
        c = self.checks
        resp = self.api("POST", "/webhook-endpoints", token=self.admin_token, body={
            "url": url, "events": ["product.created"], "description": f"cluster test j {self.run}"})
        c.require(resp.status == 201 and str((resp.json() or {}).get("secret", "")).startswith("whsec_"),
                  f"POST /webhook-endpoints (receiver {url}, product.created) through nginx: 201 with "
                  "a whsec_ secret", resp.describe())
        endpoint, secret = resp.json()["id"], resp.json()["secret"]

        # The 1,000 events: written straight into the outbox, events and their deliveries to
        # this endpoint in one statement (one transaction), as the service writes one: all
        # due at once, so the three relays contend for the same rows from the start.
        inserted = self.psql(
            "WITH ev AS (INSERT INTO events (id, type, data) "
            f"SELECT 'evt_' || substr(md5('{self.run}-j-' || i), 1, 24), 'product.created', "
            f"jsonb_build_object('product_id', 900000000 + i, 'name', 'Webhook load {self.run} ' || i) "
            f"FROM generate_series(1, {events}) AS i RETURNING id), "
            f"d AS (INSERT INTO webhook_deliveries (endpoint_id, event_id) SELECT {int(endpoint)}, id FROM ev "
            "RETURNING event_id) SELECT count(*) FROM d")
        written = time.monotonic()
        c.require(inserted == str(events),
                  f"{events} product.created events with a delivery to the endpoint written in one "
                  "transaction (psql on the primary)", f"inserted {inserted!r}")
        ids = set(self.psql(f"SELECT event_id FROM webhook_deliveries WHERE endpoint_id = {int(endpoint)}")
                  .split())

        # The kill: once `kill_at` deliveries have arrived and the receiver is handling at
        # least one that the instance sent (a connection of its process, seen in /proc),
        # SIGKILL it (its PID file, as scripts/cluster keeps it), holding the receiver's
        # lock: those deliveries cannot be answered before it dies.
        pidfile = os.path.join(self.cluster_dir, f"instance{killed}.pid")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            c.require(b"serve" in f.read(), f"{pidfile} names a running instance (PID {pid})")
        kill_now.wait(30)
        in_flight, killed_at, at_kill = None, None, 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ports = self.sender_ports(pid, server.server_address[1])
            with lock:
                mine = {unanswered[p] for p in ports if p in unanswered}
                if mine:
                    os.kill(pid, 9)
                    killed_at, at_kill, in_flight = time.monotonic(), len(arrivals), mine
                    break
            time.sleep(0.002)
        c.require(in_flight, f"instance {killed} SIGKILLed (kill -9 PID {pid}) mid-batch: with deliveries of its "
                  "own unanswered at the receiver", f"none seen from it in 20 s; {len(arrivals)} arrived")
        self.wait_for(lambda: not os.path.exists(f"/proc/{pid}/cmdline")
                      or not open(f"/proc/{pid}/cmdline", "rb").read(), 5, 0.05)
        start_out, start_took = self.cluster_cmd("start", str(killed))
        c.expect(at_kill < events, f"the kill came mid-batch ({at_kill} of {events} arrived), "
                 f"instance {killed} started again (scripts/cluster start {killed})", start_out)

        # Every event arrives and every delivery is recorded delivered, the ones the dead
        # instance held after their lease (60 s): sent again by a live instance.
        def all_arrived():
            with lock:
                seen = {a[0] for a in arrivals}
            return ids <= seen

        def none_pending():
            return self.psql(f"SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = {int(endpoint)} "
                             "AND status <> 'delivered'") == "0"

        limit = lease + 40
        settled = self.wait_for(lambda: all_arrived() and none_pending(), limit, 0.5)
        arrived = all_arrived()
        time.sleep(2 * delay + 1)  # a late straggler would still show up
        with lock:
            got, dups_at_once = list(arrivals), list(concurrent_dups)
        by_id = collections.defaultdict(list)
        for a in got:
            by_id[a[0]].append(a)
        c.expect(arrived and set(by_id) == ids and len(by_id) == events,
                 f"every one of the {events} events arrived at the receiver; distinct webhook-ids == events, "
                 "none foreign",
                 f"{len(ids & set(by_id))} of {len(ids)} arrived; foreign ids {list(set(by_id) - ids)[:3]}")
        c.expect(not dups_at_once,
                 "no webhook-id arrived while another delivery of it was still being handled "
                 "(no concurrent duplicate)",
                 f"{len(dups_at_once)}: e.g. {dups_at_once[:3]}")

        # Sequential duplicates: only the deliveries the dead instance had claimed, sent
        # again after their lease. Each first came before the kill (or just after it: what
        # it had sent before it died, still in the kernel's buffers or the receiver's
        # listen backlog, is read a moment later), again >= ~lease later.
        transit = 1.0
        dups = {wid: sorted(x[4] for x in a) for wid, a in by_id.items() if len(a) > 1}
        off = [(wid, [round(t - killed_at, 2) for t in ts]) for wid, ts in dups.items()
               if len(ts) != 2 or ts[0] > killed_at + transit or ts[1] - ts[0] < lease - 5]
        late = sum(1 for ts in dups.values() if ts[0] > killed_at)
        late_max = max((ts[0] - killed_at for ts in dups.values()), default=0.0)
        c.expect(len(dups) <= batch and not off,
                 f"duplicates only from the killed instance's batch: at most {batch}, each first before "
                 f"the kill (or within {transit:.0f} s after it: in transit) and again at least {lease - 5} s "
                 "later (the lease)",
                 f"{len(dups)} duplicated ids; off: {off[:3]} (s after the kill)")
        c.expect(in_flight <= set(dups),
                 f"the {len(in_flight)} deliveries the killed instance had unanswered at the receiver "
                 "came again (same webhook-id)", f"not again: {sorted(in_flight - set(dups))[:3]}")

        # The database: every delivery delivered (200); attempts 2 only where the lease ran
        # out (the dead instance's claims), and those are the only ones sent again.
        rows = [r.split("|") for r in self.psql(
            f"SELECT event_id, status, attempts, coalesce(last_status_code, 0) FROM webhook_deliveries "
            f"WHERE endpoint_id = {int(endpoint)}").splitlines()]
        status = collections.Counter((r[1], r[3]) for r in rows)
        reclaimed = {r[0] for r in rows if int(r[2]) > 1}
        c.expect(settled and len(rows) == events and status == {("delivered", "200"): events},
                 f"webhook_deliveries: all {events} delivered, last status 200 (psql; within {limit} s of the kill)",
                 f"{len(rows)} rows, (status, code): {dict(status)}")
        c.expect(0 < len(reclaimed) <= batch and set(dups) <= reclaimed
                 and all(int(r[2]) <= 2 for r in rows),
                 f"the kill caught deliveries in flight: 1..{batch} claimed again after the lease "
                 "(attempts 2), every duplicate among them, no delivery tried more than twice",
                 f"{len(reclaimed)} with attempts > 1 (max {max((int(r[2]) for r in rows), default=0)}); "
                 f"duplicates not among them: {list(set(dups) - reclaimed)[:3]}")

        # The same through the admin route (keyset pages, through nginx).
        items, cursor, pages = [], "", 0
        while pages < 50:
            resp = self.api("GET", f"/webhook-endpoints/{endpoint}/deliveries?limit=100"
                            + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""),
                            token=self.admin_token)
            pages += 1
            if resp.status != 200:
                break
            items += resp.json()["items"]
            cursor = resp.json().get("next_cursor")
            if not cursor:
                break
        listed = collections.Counter(i["status"] for i in items)
        c.expect(resp.status == 200 and len(items) == events and listed == {"delivered": events}
                 and {i["event_id"] for i in items} == ids
                 and all(i["event_type"] == "product.created" for i in items),
                 f"GET /webhook-endpoints/{{id}}/deliveries (keyset, {pages} pages, through nginx): "
                 f"{events} deliveries, every one delivered",
                 f"{resp.describe() if resp.status != 200 else ''} {len(items)} items, {dict(listed)}")

        # Every arrival: the body is the event (its id the webhook-id) and the signature
        # verifies with the endpoint's secret, checked by another implementation than the
        # service's: the standardwebhooks package (PyPI), in the cluster's venv.
        shape = [a[0] for a in got if (lambda d: not (isinstance(d, dict) and d.get("id") == a[0]
                                                      and d.get("type") == "product.created"
                                                      and isinstance(d.get("data"), dict)))(
            (lambda b: json.loads(b) if b.startswith(b"{") else None)(a[3]))]
        c.expect(not shape, "every body is {id, type, created_at, data} with id == webhook-id, "
                 "type product.created", f"{len(shape)} off, e.g. {shape[:3]}")
        verifier = r"""
import json, sys
from standardwebhooks.webhooks import Webhook
req = json.load(sys.stdin)
hook, bad = Webhook(req["secret"]), []
for d in req["deliveries"]:
    try:
        hook.verify(d["body"], {"webhook-id": d["id"], "webhook-timestamp": d["timestamp"],
                                "webhook-signature": d["signature"]})
    except Exception as err:
        bad.append(f"{d['id']}: {type(err).__name__}: {err}")
print(json.dumps({"verified": len(req["deliveries"]) - len(bad), "bad": bad}))
"""
        payload = json.dumps({"secret": secret, "deliveries": [
            {"id": a[0], "timestamp": a[1] or "", "signature": a[2] or "", "body": a[3].decode()}
            for a in got]})
        out = subprocess.run([self.webhook_python, "-c", verifier], input=payload,
                             capture_output=True, text=True, check=False)
        result = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None
        version = subprocess.run([self.webhook_python, "-m", "pip", "show", "standardwebhooks"],
                                 capture_output=True, text=True, check=False).stdout
        version = (re.search(r"^Version: (\S+)", version, re.M) or [None, "?"])[1]
        c.expect(result and result["verified"] == len(got) and not result["bad"],
                 f"every delivery's webhook-signature verifies with the endpoint's secret "
                 f"(standardwebhooks {version}, Webhook(secret).verify(body, headers))",
                 f"{result['verified']} of {len(got)} verified, e.g. {result['bad'][:3]}" if result
                 else f"the verifier failed: {out.stderr.strip()[-500:]}")

        # The endpoint stops receiving: later sections' products need no receiver.
        resp = self.api("PATCH", f"/webhook-endpoints/{endpoint}", token=self.admin_token,
                        body={"enabled": False})
        c.expect(resp.status == 200, "PATCH /webhook-endpoints/{id} {enabled: false}: 200", resp.describe())

        times = sorted(a[4] for a in got)
        span = times[-1] - times[0] if times else 0.0
        # The first pass: every arrival but the re-sends after the lease.
        first_pass = [t for t in times if t < killed_at + lease / 2]
        fp_span = first_pass[-1] - first_pass[0] if len(first_pass) > 1 else 0.0
        self.summary["webhooks, j"] = (
            f"{events} events (SQL into the outbox, one transaction), {len(by_id)} distinct webhook-ids "
            f"arrived, {status.get(('delivered', '200'), 0)} delivered in the DB; duplicates after the kill "
            f"{len(dups)} ({len(reclaimed)} re-claimed after the lease; {late} first read after the SIGKILL, "
            "in transit" + (f", at most {late_max * 1000:.0f} ms after it" if late else "")
            + f"), concurrent duplicates {len(dups_at_once)}; first to last arrival {span:.1f} s")
        self.summary["webhook throughput, j"] = (
            f"{len(first_pass)} deliveries in {fp_span:.2f} s before the lease wait "
            f"({len(first_pass) / fp_span if fp_span else 0:.0f} deliveries/s, receiver {delay * 1000:.0f} ms "
            f"per delivery); {len(got)} in all, {len(got) / span if span else 0:.1f}/s over {span:.1f} s; "
            f"SIGKILL at {at_kill} arrived, {len(in_flight)} of instance {killed}'s unanswered; "
            f"{start_out.removeprefix('cluster: ')} in {start_took:.1f} s")



def fmt_pools(p):
    return "n/a (no db_catalogue_reads_total)" if p is None else f"primary {p['primary']:.0f} / replica {p['replica']:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nginx", default="http://127.0.0.1:18080")
    parser.add_argument("--instances",
                        default="http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083")
    parser.add_argument("--primary-url", default="postgres://postgres@127.0.0.1:55432/storefront")
    parser.add_argument("--gateway", default="http://127.0.0.1:18090",
                        help="the test payment gateway (storefront payment-gateway) the instances use")
    parser.add_argument("--psql", default="/usr/lib/postgresql/15/bin/psql")
    parser.add_argument("--bin", default="target/debug/storefront")
    parser.add_argument("--cluster", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster"))
    parser.add_argument("--payment-window", type=int, default=30,
                        help="the instances' ORDER_PAYMENT_WINDOW_SECS (h waits it out)")
    parser.add_argument("--cluster-dir", default="/tmp/storefront-cluster",
                        help="scripts/cluster's directory (j reads an instance's PID file there)")
    parser.add_argument("--webhook-python", default=None,
                        help="a Python with the standardwebhooks package (j verifies signatures with it)")
    parser.add_argument("--only", default="abcdefghij",
                        help="letters of the checks to run (default: all); e, f, g, h, i and j need a")
    args = parser.parse_args()
    t = Cluster(args)
    started = time.monotonic()

    sections = [
        ("a. customer journey through nginx", t.check_journey),
        ("b. anonymous catalogue reads served by the replica", t.check_replica_reads),
        ("c. 200 concurrent checkouts, 50 in stock", t.check_concurrent_checkouts),
        ("e. replica stopped under catalogue load", t.check_replica_outage),
        ("f. rolling restart under mixed load", t.check_rolling_restart),
        ("g. bare SIGTERM to each instance under mixed load, nginx untouched",
         lambda: t.check_rolling_restart(drain=False, key="g")),
        ("d. login throttle shared by the instances, per client address", t.check_login_throttle),
        # Before h: h waits for every earlier unpaid order to expire; i leaves none.
        ("i. payments: 100 orders paid through nginx, one instance restarted", t.check_payments),
        ("j. webhooks: 1,000 events to a receiver, one instance SIGKILLed mid-batch",
         t.check_webhooks),
        ("h. unpaid orders expire while three instances run", t.check_order_expiry),
    ]
    t.spare_users = []
    for title, run in sections:
        if title[0] not in args.only:
            continue
        print(f"\n== {title}", flush=True)
        t.checks.section = title
        section_started = time.monotonic()
        try:
            run()
        except CheckFailed as err:
            print(f"  (section stopped: {err})", flush=True)
        except Exception as err:  # a bug in the test or an unexpected answer shape
            t.checks.expect(False, f"section ran to the end", f"{type(err).__name__}: {err}")
        print(f"  ({time.monotonic() - section_started:.1f} s)", flush=True)

    http_ = t.http
    print("\n== summary")
    print(f"  instances: {', '.join(t.instances)} behind nginx {t.nginx}")
    for target in ("nginx", "direct", "gateway"):
        classes = {k: v for (tg, k), v in sorted(http_.classes.items()) if tg == target}
        label = {"nginx": "through nginx", "direct": "straight to instances",
                 "gateway": "to the payment gateway"}[target]
        print(f"  requests {label}: {http_.sent[target]}  "
              + "  ".join(f"{k}: {v}" for k, v in classes.items()))
    for key, value in t.summary.items():
        print(f"  {key}: {value}")
    failed = t.checks.failed
    passed = len(t.checks.results) - len(failed)
    print(f"  checks: {passed} passed, {len(failed)} failed ({time.monotonic() - started:.0f} s)")
    for section, description, _, detail in failed:
        print(f"    FAIL [{section[:1]}] {description}" + (f": {detail}" if detail else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
