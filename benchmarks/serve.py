"""A bounded load run against `ganzoo serve` on 127.0.0.1: throughput, p50/p99 latency, no failed good request.

Starts `python -m ganzoo serve PRESET --port 0` in a subprocess, then
CLIENTS threads, each with its own keep-alive connection, send REQUESTS
requests in all: a seeded mix of good `/generate` queries (random seed, n
and, for a conditional preset, labels) and bad ones (each must get a 400
naming a parameter). Every good answer must be a PNG. Prints a Markdown
table for BENCHMARKS.md.

With `--slow N`, N slowloris connections are held open meanwhile: each sends
part of a request's headers, then one more byte every `--slow-interval`
seconds, and is reopened as soon as the server closes it. The table then
adds the server's memory (RSS after the warm-up, its peak during the run,
after the run), its peak count of open files, and what the server did with
the slow connections.

Usage:
    python benchmarks/serve.py                                  # cgan_fashion_mnist, 2000 requests, 8 clients
    python benchmarks/serve.py --slow 300 --requests 4000       # the same under 300 slow connections
    python benchmarks/serve.py --preset dcgan_digits --requests 500 --clients 4 --bad 0.2
    python benchmarks/serve.py --slow 300 --serve-args "--header-timeout 5 --max-connections 200"
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import selectors
import shlex
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from apps import cli_server  # noqa: E402

PARTIAL = b"GET /generate?n=16 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers that never end
BAD_QUERIES = ["n=0", "n=100000", "n=abc", "seed=-4", "label=99", "nrow=0", "colour=red", "n=1&n=2", "label=1,x"]


def make_requests(count, bad_share, conditional, seed):
    """A seeded list of `(query, is_good)`."""
    rng = np.random.default_rng(seed)
    requests = []
    for _ in range(count):
        if rng.random() < bad_share:
            requests.append((BAD_QUERIES[rng.integers(len(BAD_QUERIES))], False))
            continue
        n = int(rng.choice([1, 4, 16, 64]))
        query = f"n={n}&seed={int(rng.integers(0, 2**31))}"
        if conditional:
            query += f"&label={int(rng.integers(0, 10))}"
        requests.append((query, True))
    return requests


def client(url, work):
    """Sends `work` over one keep-alive connection; returns `[(is_good, status, ok, seconds, images)]`."""
    host, port = url.split("//", 1)[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    results = []
    for query, good in work:
        start = time.perf_counter()
        try:
            connection.request("GET", f"/generate?{query}")
            response = connection.getresponse()
            body = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            status, body = None, b""
        seconds = time.perf_counter() - start
        if good:
            ok = status == 200 and body.startswith(b"\x89PNG")
            images = int(query.split("&")[0][2:]) if ok else 0
        else:
            ok = status == 400 and json.loads(body or b"{}").get("parameter") is not None
            images = 0
        results.append((good, status, ok, seconds, images))
    connection.close()
    return results


class Slowloris(threading.Thread):
    """Holds `count` connections that never finish their headers; reopens each one the server closes."""

    def __init__(self, port, count, interval):
        super().__init__(daemon=True)
        self.port, self.count, self.interval = port, count, interval
        self.stop, self.ready = threading.Event(), threading.Event()
        self.opened = self.closed = self.answered_503 = self.connect_failed = 0
        self.longest = 0.0  # seconds the server kept one open, longest seen
        self.selector = selectors.DefaultSelector()

    def open(self):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(PARTIAL)
        except OSError:
            self.connect_failed += 1
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, time.monotonic())
        self.opened += 1

    def reopen(self, key, answer):
        self.answered_503 += answer.startswith(b"HTTP/1.1 503")
        self.closed += not answer
        self.longest = max(self.longest, time.monotonic() - key.data)
        self.selector.unregister(key.fileobj)
        key.fileobj.close()
        self.open()

    def run(self):
        for _ in range(self.count):
            self.open()
        self.ready.set()
        tick = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.05):
                try:
                    answer = key.fileobj.recv(4096)
                except OSError:
                    answer = b""
                self.reopen(key, answer)
            if time.monotonic() >= tick:
                tick += self.interval
                for key in list(self.selector.get_map().values()):
                    try:
                        key.fileobj.send(b"a")
                    except OSError:
                        self.reopen(key, b"")
        for key in list(self.selector.get_map().values()):
            self.longest = max(self.longest, time.monotonic() - key.data)  # still open at the end
            key.fileobj.close()


class Monitor(threading.Thread):
    """Samples the server's resident memory (MB) and open files every 0.1 s (Linux /proc)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.peak_rss = self.peak_files = 0

    def rss(self):
        with open(f"/proc/{self.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    def files(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def run(self):
        while not self.stop.is_set():
            self.peak_rss, self.peak_files = max(self.peak_rss, self.rss()), max(self.peak_files, self.files())
            time.sleep(0.1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cgan_fashion_mnist")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bad", type=float, default=0.2, help="share of bad requests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, help="the server's onnxruntime threads per request (default: the server's, 1)"
    )
    parser.add_argument("--slow", type=int, default=0, help="slowloris connections held open during the run")
    parser.add_argument("--slow-interval", type=float, default=1.0, help="seconds between a slow client's bytes")
    parser.add_argument("--serve-args", default="", help="more arguments for ganzoo serve, e.g. '--header-timeout 5'")
    args = parser.parse_args(argv)

    serve_args = (["--threads", str(args.threads)] if args.threads else []) + shlex.split(args.serve_args)
    with cli_server([args.preset, *serve_args]) as (process, url):
        with urllib.request.urlopen(f"{url}/metadata", timeout=60) as response:
            meta = json.loads(response.read())
        requests = make_requests(args.requests, args.bad, meta["metadata"]["num_classes"] is not None, args.seed)
        shares = [requests[i :: args.clients] for i in range(args.clients)]
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:  # warm-up: sessions, every worker thread
            list(pool.map(lambda work: client(url, work), [requests[: 4 * args.clients]] * args.clients))
        monitor = Monitor(process.pid)
        rss_before = monitor.rss()
        monitor.start()
        slow = Slowloris(int(url.rsplit(":", 1)[1]), args.slow, args.slow_interval)
        if args.slow:
            slow.start()
            slow.ready.wait()
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            results = [row for rows in pool.map(lambda work: client(url, work), shares) for row in rows]
        wall = time.perf_counter() - start
        slow.stop.set()
        if args.slow:
            slow.join()
        time.sleep(0.5)
        monitor.stop.set()
        monitor.join()
        rss_after = monitor.rss()
        alive = process.poll() is None

    good = [r for r in results if r[0]]
    bad = [r for r in results if not r[0]]
    good_ms = np.array([r[3] for r in good if r[2]] or [np.nan]) * 1e3  # the good queries answered with a PNG
    bad_ms = np.array([r[3] for r in bad]) * 1e3
    busy = sum(r[1] == 503 for r in results)  # turned away at a limit, with Retry-After: not a failure
    failed_good = sum(not r[2] and r[1] != 503 for r in good)
    wrong_bad = sum(not r[2] and r[1] != 503 for r in bad)
    images = sum(r[4] for r in good)
    print(
        f"ganzoo serve {args.preset} {' '.join(serve_args)} on 127.0.0.1: {args.requests} requests ({len(good)} good, {len(bad)} bad), "
        f"{args.clients} concurrent keep-alive clients, {args.slow} slow connections (a byte every "
        f"{args.slow_interval:g} s), {wall:.1f} s, {os.cpu_count()} logical CPUs shared by server and clients. "
        f"Good queries: n in {{1, 4, 16, 64}}, random seeds{' and labels' if meta['metadata']['num_classes'] else ''}.\n"
    )
    print(
        "| slow connections | requests/s | images/s | good p50 ms | good p99 ms | bad p50 ms | 503 answers | good failed "
        "| bad not refused | RSS MB before / peak / after | open files peak | slow: closed by server / 503 / longest s "
        "| server up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|")
    print(
        f"| {args.slow} | {len(results) / wall:,.0f} | {images / wall:,.0f} | {np.percentile(good_ms, 50):.1f} | "
        f"{np.percentile(good_ms, 99):.1f} | {np.percentile(bad_ms, 50) if len(bad) else float('nan'):.1f} | "
        f"{busy} | {failed_good} | {wrong_bad} | {rss_before:.0f} / {monitor.peak_rss:.0f} / {rss_after:.0f} | "
        f"{monitor.peak_files} | {slow.closed} / {slow.answered_503} / {slow.longest:.1f} | {'yes' if alive else 'NO'} |"
    )
    return 1 if failed_good or wrong_bad or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
