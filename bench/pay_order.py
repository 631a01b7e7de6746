#!/usr/bin/env python3
"""Pay an order, end to end, as fast as the service allows (DESIGN.md §9).

Each flow places and pays one order, the way a shopper and a front end do:

  1. POST /api/v1/cart/checkout with a delivery (an inline address in Germany and the
     bench's shipping method, as bench/checkout_totals.lua)   -> 201 order
  2. POST /api/v1/orders/{id}/payments {"provider": "test"}   -> 201 payment
  3. POST <payment.next_action.url> {client_secret, "pm_ok"}  -> 200 {"status": "succeeded"}
     (the shopper, at the payment gateway)
  4. POST /api/v1/orders/{id}/payments/{payment_id}/complete  -> 200 order, payment_status "paid"

wrk cannot chain dependent requests, hence this driver: WORKERS threads, each with its
own keep-alive connections (one to the service, one to the gateway), each flow for the
next unused buyer (a buyer's cart is checked out once per run: bench/run refills the
carts before each run). Any other status, a body that does not say what it should, or a
connection error fails the flow (it is not retried: a POST is not repeated blindly), and
the flow's buyer is not used again. It runs for DURATION seconds (flows in flight at the
end finish and count, and the time they take is in the elapsed time) or for ORDERS
flows, and stops early if every buyer has been used.

Prints one summary line (paid orders/s, per-flow latency p50/p99 of the paid flows,
failures by step and status); --json FILE writes the figures for bench/run, --paid FILE
the `order_id,provider_ref` of every order it saw paid (bench/run checks them in the
database and at the gateway).

  python3 bench/pay_order.py http://127.0.0.1:8080 BUYERS_FILE --workers 64 --duration 10
Python 3 standard library only.
"""

import argparse
import collections
import http.client
import json
import math
import sys
import threading
import time
import urllib.parse

STEPS = ("checkout", "start", "confirm", "complete")


def delivery_body(shipping_method):
    return json.dumps({
        "shipping_address": {"name": "Erika Mustermann", "line1": "Heidestraße 17",
                             "city": "Köln", "postal_code": "51147", "country": "DE"},
        "shipping_method_id": shipping_method,
    }).encode()


class Failed(Exception):
    """A flow that did not end paid: which step, and what came back."""

    def __init__(self, step, what):
        super().__init__(f"{step} {what}")
        self.key = f"{step} {what}"


class Connections:
    """One keep-alive connection per host:port, for one worker thread."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.open = {}

    def request(self, step, url, body, headers):
        parts = urllib.parse.urlsplit(url)
        key = parts.netloc
        conn = self.open.get(key)
        if conn is None:
            conn = self.open[key] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as err:
            # Never sent again: the next flow gets a fresh connection.
            conn.close()
            del self.open[key]
            raise Failed(step, f"connection error ({type(err).__name__})") from None
        if response.will_close:
            conn.close()
            del self.open[key]
        return response.status, data

    def close(self):
        for conn in self.open.values():
            conn.close()


def expect(step, status, data, wanted):
    if status != wanted:
        raise Failed(step, str(status))
    try:
        body = json.loads(data)
    except ValueError:
        raise Failed(step, f"{status} not JSON") from None
    if not isinstance(body, dict):
        raise Failed(step, f"{status} not an object")
    return body


def pay_one(conns, base, token, delivery):
    """One order placed and paid; per-step seconds and the paid order's id and intent."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    marks = [time.perf_counter()]
    order = expect("checkout", *conns.request("checkout", f"{base}/api/v1/cart/checkout", delivery, auth), 201)
    marks.append(time.perf_counter())
    order_id = order.get("id")
    if not isinstance(order_id, int):
        raise Failed("checkout", "201 without an id")
    payment = expect("start", *conns.request("start", f"{base}/api/v1/orders/{order_id}/payments",
                                             b'{"provider":"test"}', auth), 201)
    marks.append(time.perf_counter())
    try:
        url = payment["next_action"]["url"]
        confirm = json.dumps({"client_secret": payment["client_secret"], "payment_method": "pm_ok"}).encode()
        payment_id, provider_ref = payment["id"], payment["provider_ref"]
    except (KeyError, TypeError):
        raise Failed("start", "201 without next_action.url, client_secret, id or provider_ref") from None
    answer = expect("confirm", *conns.request("confirm", url, confirm, {"Content-Type": "application/json"}), 200)
    if answer.get("status") != "succeeded":
        raise Failed("confirm", f"200 status {answer.get('status')!r}")
    marks.append(time.perf_counter())
    paid = expect("complete", *conns.request(
        "complete", f"{base}/api/v1/orders/{order_id}/payments/{payment_id}/complete", b"", auth), 200)
    if paid.get("payment_status") != "paid":
        raise Failed("complete", f"200 payment_status {paid.get('payment_status')!r}")
    if paid.get("id") != order_id:
        raise Failed("complete", "200 another order")
    marks.append(time.perf_counter())
    return [b - a for a, b in zip(marks, marks[1:])], order_id, provider_ref


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the service's root URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("buyers", help="a file of bearer tokens, one a line, each with an open cart that holds items")
    parser.add_argument("--workers", type=int, default=64)
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--duration", type=float, help="seconds (default 10)")
    limit.add_argument("--orders", type=int, help="this many flows instead of a duration")
    parser.add_argument("--shipping-method", type=int, default=1, help="the shipping method's id (to DE)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--paid", help="write order_id,provider_ref of each paid order here")
    args = parser.parse_args()
    if args.duration is None and args.orders is None:
        args.duration = 10.0
    base = args.base.rstrip("/")
    buyers = [line.strip() for line in open(args.buyers) if line.strip()]
    total = min(len(buyers), args.orders) if args.orders is not None else len(buyers)
    delivery = delivery_body(args.shipping_method)

    lock = threading.Lock()
    state = {"next": 0}
    flows, paid_orders = [], []
    failures = collections.Counter()
    start = time.perf_counter()
    deadline = start + args.duration if args.duration is not None else None
    ends = []

    def worker():
        conns = Connections(args.timeout)
        mine, mine_paid, mine_failed = [], [], collections.Counter()
        try:
            while deadline is None or time.perf_counter() < deadline:
                with lock:
                    index = state["next"]
                    if index >= total:
                        break
                    state["next"] = index + 1
                began = time.perf_counter()
                try:
                    steps, order_id, provider_ref = pay_one(conns, base, buyers[index], delivery)
                except Failed as failed:
                    mine_failed[failed.key] += 1
                    continue
                mine.append((time.perf_counter() - began, steps))
                mine_paid.append((order_id, provider_ref))
        finally:
            conns.close()
            with lock:
                flows.extend(mine)
                paid_orders.extend(mine_paid)
                failures.update(mine_failed)
                ends.append(time.perf_counter())

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = max(ends) - start
    exhausted = state["next"] >= len(buyers) and (args.orders is None or args.orders > len(buyers))

    latencies = sorted(flow for flow, _ in flows)
    per_step = {step: sorted(steps[i] for _, steps in flows) for i, step in enumerate(STEPS)}
    failed = sum(failures.values())
    figures = {
        "paid": len(flows),
        "failed": failed,
        "flows": len(flows) + failed,
        "elapsed_s": elapsed,
        "orders_per_s": len(flows) / elapsed if elapsed > 0 else 0.0,
        "flows_per_s": (len(flows) + failed) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "step_p50_ms": {step: percentile(values, 50) * 1000 for step, values in per_step.items()},
        "failures": dict(failures.most_common()),
        "workers": args.workers,
        "buyers_exhausted": exhausted,
    }
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out)
    if args.paid:
        with open(args.paid, "a") as out:
            out.writelines(f"{order_id},{ref}\n" for order_id, ref in paid_orders)
    steps = ", ".join(f"{step} {ms:.1f}" for step, ms in figures["step_p50_ms"].items())
    why = "; ".join(f"{key} x{count}" for key, count in failures.most_common())
    print(f"pay_order: {figures['orders_per_s']:.1f} paid orders/s ({len(flows)} in {elapsed:.1f} s, "
          f"{args.workers} workers); per order p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms "
          f"(steps p50 ms: {steps}); failures {failed} of {len(flows) + failed}"
          + (f" ({why})" if why else "")
          + ("; stopped early: every buyer used" if exhausted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
