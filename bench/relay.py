#!/usr/bin/env python3
"""Webhook relay throughput: deliveries per second to a local receiver (DESIGN.md §11).

  1. A receiver of its own: a threaded HTTP server on 127.0.0.1 (port 0) answering every
     POST 200 at once (HTTP/1.1 keep-alive), counting requests and distinct webhook-ids.
  2. An endpoint for it through the API (POST /api/v1/webhook-endpoints with an admin's
     bearer token), for ["stock.low"] only, so no other scenario's events reach it while
     it exists. The server must allow private targets (WEBHOOK_ALLOW_PRIVATE_TARGETS=true).
  3. N events and one delivery each to that endpoint written by SQL in one transaction
     (as scripts/cluster_test.py's section j does): all due at once.
  4. The time from the commit (psql returning) until every delivery row is `delivered`
     (the database polled every 50 ms) and the receiver has counted N requests.
  5. The endpoint deleted (DELETE /api/v1/webhook-endpoints/{id}): its deliveries go with it.

Stops waiting after --timeout seconds (deliveries stuck: reported, not hidden). Prints one
summary line; --json FILE writes the figures for bench/run.

  python3 bench/relay.py http://127.0.0.1:8080 ADMIN_TOKEN --database-url URL --events 20000
Python 3 standard library only (and psql).
"""

import argparse
import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse


def psql(database_url, sql):
    return subprocess.run(["psql", "-Atq", "-v", "ON_ERROR_STOP=1", database_url, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def api(base, method, path, token, body=None):
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the service's root URL")
    parser.add_argument("admin_token", help="an admin's bearer token")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--tag", default=str(os.getpid()), help="makes this run's event ids unique")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every delivery")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    base = args.base.rstrip("/")

    lock = threading.Lock()
    received = {"requests": 0, "ids": set(), "first": None, "last": None}

    class Receiver(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            wid = self.headers.get("webhook-id") or ""
            with lock:
                received["requests"] += 1
                received["ids"].add(wid)
                received["last"] = time.monotonic()
                if received["first"] is None:
                    received["first"] = received["last"]
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"

    status, body = api(base, "POST", "/api/v1/webhook-endpoints", args.admin_token,
                       {"url": url, "events": ["stock.low"], "description": "bench/relay.py receiver"})
    if status != 201:
        print(f"relay: POST /api/v1/webhook-endpoints answered {status}: {body[:300]!r}", file=sys.stderr)
        return 1
    endpoint = int(json.loads(body)["id"])
    figures = {"events": args.events, "endpoint": endpoint}
    try:
        # Events and their deliveries in one statement, one transaction: all due at once.
        inserted = psql(args.database_url, (
            "WITH ev AS (INSERT INTO events (id, type, data) "
            f"SELECT 'evt_' || substr(md5('bench-relay-{args.tag}-' || i), 1, 24), 'stock.low', "
            "jsonb_build_object('product_id', i, 'inventory_count', 4, 'threshold', 5) "
            f"FROM generate_series(1, {args.events}) AS i RETURNING id), "
            f"d AS (INSERT INTO webhook_deliveries (endpoint_id, event_id) SELECT {endpoint}, id FROM ev "
            "RETURNING event_id) SELECT count(*) FROM d"))
        committed = time.monotonic()
        if inserted != str(args.events):
            raise SystemExit(f"relay: inserted {inserted!r} deliveries, not {args.events}")
        counts = (0, 0, 0)
        done = None
        while time.monotonic() - committed < args.timeout:
            counts = tuple(int(x) for x in psql(args.database_url, (
                "SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'failed'), "
                f"count(*) FILTER (WHERE attempts > 1) FROM webhook_deliveries WHERE endpoint_id = {endpoint}")).split("|"))
            with lock:
                requests = received["requests"]
            if counts[0] >= args.events and requests >= args.events:
                done = time.monotonic()
                break
            time.sleep(0.05)
        with lock:
            requests, distinct = received["requests"], len(received["ids"])
            first, last = received["first"], received["last"]
        figures.update({
            "completed": done is not None,
            "elapsed_s": (done if done is not None else time.monotonic()) - committed,
            "delivered": counts[0], "failed": counts[1], "retried": counts[2],
            "requests": requests, "distinct_ids": distinct,
            # The wait for the first round (the relay looks about once a second when idle),
            # and the rate from the first request at the receiver to the last.
            "first_request_s": first - committed if first is not None else None,
            "sending_per_s": (requests - 1) / (last - first) if first is not None and last > first else None,
        })
        figures["per_s"] = figures["delivered"] / figures["elapsed_s"] if figures["elapsed_s"] > 0 else 0.0
        if done is None:
            errors = psql(args.database_url, (
                "SELECT status || ' ' || coalesce(last_status_code::text, '-') || ' ' || coalesce(last_error, '') "
                f"|| ' x' || count(*) FROM webhook_deliveries WHERE endpoint_id = {endpoint} AND status <> 'delivered' "
                "GROUP BY status, last_status_code, last_error ORDER BY count(*) DESC LIMIT 5"))
            figures["stuck"] = errors.splitlines()
    finally:
        status, body = api(base, "DELETE", f"/api/v1/webhook-endpoints/{endpoint}", args.admin_token)
        if status not in (200, 204):
            print(f"relay: DELETE /api/v1/webhook-endpoints/{endpoint} answered {status}: {body[:300]!r}",
                  file=sys.stderr)
        server.shutdown()
        server.server_close()
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out)
    print(f"relay: {figures['delivered']} of {args.events} deliveries in {figures['elapsed_s']:.2f} s = "
          f"{figures['per_s']:.0f} deliveries/s"
          + (f" (first request {figures['first_request_s']:.2f} s after the commit; first to last request "
             f"{figures['sending_per_s']:.0f}/s)" if figures["sending_per_s"] else "")
          + f"; receiver counted {figures['requests']} requests "
          f"({figures['distinct_ids']} distinct webhook-ids); failed {figures['failed']}, retried {figures['retried']}"
          + ("" if figures["completed"] else f"; INCOMPLETE after {args.timeout:.0f} s: {figures.get('stuck')}"))
    return 0 if figures["completed"] else 1


if __name__ == "__main__":
    sys.exit(main())
