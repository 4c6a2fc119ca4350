#!/usr/bin/env python3
"""Load on `attune serve`: N concurrent clients on /v1/embed and /v1/classify for a while, after a
cold start where all N ask for the not-yet-loaded model at once. Reports errors, latency
percentiles, throughput and the server's peak RSS against its --cache-mb budget.

Standard library only; the clients run in this process beside the server, so on a small machine
they take CPU from it (the figures are for the pair, as a user with one box would see them).
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "load-key"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path, body):
        data = json.dumps(body)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        for attempt in range(2):
            try:
                self.conn.request("POST", path, data, headers)
                r = self.conn.getresponse()
                text = r.read()
                return r.status, text
            except (ConnectionError, http.client.HTTPException):
                # A kept-alive connection the server closed: one fresh try, then it counts.
                self.conn.close()
                if attempt == 1:
                    raise
        return 0, b""


def start_server(home, cache_mb):
    env = dict(os.environ, ATTUNE_HOME=home)
    p = subprocess.Popen(
        [os.path.join(ROOT, "target", "release", "attune"), "serve", "--port", "0", "--api-key", KEY,
         "--cache-mb", str(cache_mb), "--no-jobs"],
        env=env, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "serving on" in line:
            port = int(line.split("serving on ")[1].split()[0].rsplit(":", 1)[1])
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, port
    raise SystemExit("the server did not start")


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--cache-mb", type=int, default=512)
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "serve_load.jsonl"))
    a = ap.parse_args()
    home = tempfile.mkdtemp(prefix="attune-load-")
    server, port = start_server(home, a.cache_mb)
    peak = [rss_mib(server.pid)]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib(server.pid))
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    texts = ["where is my parcel", "reset my password please", "refund the double charge",
             "the app crashes when I log in", "change my delivery address"]
    examples = [{"text": t, "label": l} for t, l in [
        ("my parcel is late", "delivery"), ("where is my order", "delivery"),
        ("I cannot log in", "account"), ("reset my password", "account")]]

    # Cold start: every client asks for the model before it is loaded.
    results, lock = [], threading.Lock()
    barrier = threading.Barrier(a.clients)

    def cold(i):
        c = Client(port)
        barrier.wait()
        t0 = time.perf_counter()
        try:
            status, _ = c.post("/v1/embed", {"texts": [texts[i % len(texts)]], "model": a.model})
        except Exception:
            status = 0
        with lock:
            results.append((status, time.perf_counter() - t0))

    threads = [threading.Thread(target=cold, args=(i,)) for i in range(a.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cold_s = time.perf_counter() - t0
    cold_errors = sum(1 for s, _ in results if s != 200)
    cold_rss = peak[0]

    # Steady load: each client alternates embed and classify until time is up.
    lat = {"embed": [], "classify": []}
    errors = {"embed": 0, "classify": 0}
    deadline = time.perf_counter() + a.seconds

    def steady(i):
        c = Client(port)
        n = i
        while time.perf_counter() < deadline:
            kind = "embed" if n % 2 == 0 else "classify"
            body = ({"texts": [texts[n % len(texts)]], "model": a.model} if kind == "embed" else
                    {"inputs": [texts[n % len(texts)]], "model": a.model, "examples": examples})
            t1 = time.perf_counter()
            try:
                status, _ = c.post("/v1/" + kind, body)
            except Exception:
                status = 0
            dt = time.perf_counter() - t1
            with lock:
                if status == 200:
                    lat[kind].append(dt)
                else:
                    errors[kind] += 1
            n += 1

    threads = [threading.Thread(target=steady, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    server.terminate()
    server.wait()
    row = {
        "clients": a.clients, "seconds": a.seconds, "cache_mb": a.cache_mb, "model": a.model,
        "cold_errors": cold_errors, "cold_s": round(cold_s, 2), "cold_peak_rss_mib": round(cold_rss),
        "peak_rss_mib": round(peak[0]),
    }
    for kind in lat:
        row[f"{kind}_requests"] = len(lat[kind])
        row[f"{kind}_errors"] = errors[kind]
        row[f"{kind}_rps"] = round(len(lat[kind]) / a.seconds, 1)
        row[f"{kind}_p50_ms"] = round(percentile(lat[kind], 0.5) * 1000, 1)
        row[f"{kind}_p99_ms"] = round(percentile(lat[kind], 0.99) * 1000, 1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=1))
    ok = cold_errors == 0 and all(v == 0 for v in errors.values())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
