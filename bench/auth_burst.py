#!/usr/bin/env python3
"""Password hashing under bursts (issue: memory under authentication bursts).

  auth_burst.py burst BASE PID   200 registrations 64 at a time, then 1,000 logins (half
                                 with a wrong password) at 64 connections: hashes/s and the
                                 server's resident memory before, at peak and after.
  auth_burst.py rounds BASE PID  six bursts of 40 sign-ups + 40 logins (32 at a time) with
                                 catalogue reads between: resident memory after each burst
                                 and at peak (a process's life, not one burst, must stay bounded).
  auth_burst.py flood BASE       a 64-way sign-up flood from one address while one
                                 customer logs in again and again: that customer's login
                                 latency, and what the flood got (429s from the per-address
                                 registration limit, 503s from the hashing queue bound).

Standard library only; prints a few lines for bench/run's report.
"""
import concurrent.futures as futures
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

PASSWORD = "correct horse"


def post(base, path, body):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def register(base, name):
    return post(base, "/api/v1/users",
                {"username": name, "email": f"{name}@bench.example", "password": PASSWORD})


def log_in(base, name, password=PASSWORD):
    return post(base, "/api/v1/sessions", {"login": name, "password": password})


def resident_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else "0"
    return int(fields["VmRSS"]), int(fields["VmHWM"])


def tally(statuses):
    return ", ".join(f"{s} x{statuses.count(s)}" for s in sorted(set(statuses)))


def burst(base, pid):
    run = uuid.uuid4().hex[:8]
    before, _ = resident_kib(pid)
    names = [f"burst{n}_{run}" for n in range(200)]
    started = time.monotonic()
    with futures.ThreadPoolExecutor(64) as pool:
        registered = list(pool.map(lambda n: register(base, n), names))
    reg_secs = time.monotonic() - started
    attempts = [(names[n % 200], PASSWORD if n % 2 == 0 else "wrong horse") for n in range(1000)]
    started = time.monotonic()
    with futures.ThreadPoolExecutor(64) as pool:
        logins = list(pool.map(lambda a: log_in(base, *a), attempts))
    login_secs = time.monotonic() - started
    time.sleep(1)
    after, peak = resident_kib(pid)
    hashes = len(registered) + len(logins)
    print(f"auth_burst: 200 registrations in {reg_secs:.1f} s ({200 / reg_secs:.0f} hashes/s; "
          f"{tally(registered)}), 1000 logins in {login_secs:.1f} s "
          f"({1000 / login_secs:.0f} hashes/s; {tally(logins)})")
    print(f"auth_burst: {hashes / (reg_secs + login_secs):.0f} hashes/s overall; server resident "
          f"before {before / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, after {after / 1024:.1f} MiB")


def get(base, path):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
    except OSError:
        pass
    finally:
        conn.close()


def rounds(base, pid, count=6, size=40):
    run = uuid.uuid4().hex[:8]
    idle, _ = resident_kib(pid)
    after, statuses = [], []
    for r in range(count):
        names = [f"round{r}_{n}_{run}" for n in range(size)]
        with futures.ThreadPoolExecutor(32) as pool:
            statuses += pool.map(lambda n: register(base, n), names)
            statuses += pool.map(lambda n: log_in(base, n), names)
        for _ in range(20):
            get(base, "/api/v1/products?limit=20")
        after.append(resident_kib(pid)[0])
    _, peak = resident_kib(pid)
    print(f"auth_rounds: {count} bursts of {size} sign-ups + {size} logins ({tally(statuses)}): "
          f"resident idle {idle / 1024:.1f} MiB, after each "
          f"{' / '.join(f'{kib / 1024:.1f}' for kib in after)} MiB, peak {peak / 1024:.1f} MiB")


def flood(base, seconds=10.0):
    run = uuid.uuid4().hex[:8]
    customer = f"customer_{run}"
    register(base, customer)
    stop = threading.Event()
    flood_statuses = []
    lock = threading.Lock()

    def flooder(n):
        k = 0
        while not stop.is_set():
            status = register(base, f"flood{n}_{k}_{run}")
            k += 1
            with lock:
                flood_statuses.append(status)

    latencies, statuses = [], []
    with futures.ThreadPoolExecutor(64) as pool:
        for n in range(64):
            pool.submit(flooder, n)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            statuses.append(log_in(base, customer))
            latencies.append((time.monotonic() - started) * 1000)
        stop.set()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"signup_flood: a customer's login during a 64-way sign-up flood ({seconds:.0f} s): "
          f"{len(latencies)} logins, p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms, "
          f"statuses {tally(statuses)}; the flood got {tally(flood_statuses)}")


if __name__ == "__main__":
    if sys.argv[1] == "burst":
        burst(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "rounds":
        rounds(sys.argv[2], int(sys.argv[3]))
    else:
        flood(sys.argv[2])
