"""A bounded load run against `ganzoo serve` on 127.0.0.1: throughput, p50/p99 latency, no failed good request.

Starts `python -m ganzoo serve PRESET --port 0` in a subprocess, then
CLIENTS threads, each with its own keep-alive connection, send REQUESTS
requests in all: a seeded mix of good `/generate` queries (random seed, n
and, for a conditional preset, labels) and bad ones (each must get a 400
naming a parameter). Every good answer must be a PNG. Prints a Markdown
table for BENCHMARKS.md.

Usage:
    python benchmarks/serve.py                                  # cgan_fashion_mnist, 2000 requests, 8 clients
    python benchmarks/serve.py --preset dcgan_digits --requests 500 --clients 4 --bad 0.2
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from apps import cli_server  # noqa: E402

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cgan_fashion_mnist")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bad", type=float, default=0.2, help="share of bad requests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, help="the server's onnxruntime threads per request (default: physical cores)"
    )
    args = parser.parse_args(argv)

    threads = ["--threads", str(args.threads)] if args.threads else []
    with cli_server([args.preset, *threads]) as (process, url):
        with urllib.request.urlopen(f"{url}/metadata", timeout=60) as response:
            meta = json.loads(response.read())
        requests = make_requests(args.requests, args.bad, meta["metadata"]["num_classes"] is not None, args.seed)
        shares = [requests[i :: args.clients] for i in range(args.clients)]
        client(url, requests[:8])  # warm-up: sessions, threads, first allocations
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            results = [row for rows in pool.map(lambda work: client(url, work), shares) for row in rows]
        wall = time.perf_counter() - start
        alive = process.poll() is None

    good = [r for r in results if r[0]]
    bad = [r for r in results if not r[0]]
    good_ms = np.array([r[3] for r in good]) * 1e3
    bad_ms = np.array([r[3] for r in bad]) * 1e3
    failed_good = sum(not r[2] for r in good)
    wrong_bad = sum(not r[2] for r in bad)
    images = sum(r[4] for r in good)
    print(
        f"ganzoo serve {args.preset} on 127.0.0.1: {args.requests} requests ({len(good)} good, {len(bad)} bad), "
        f"{args.clients} concurrent keep-alive clients, onnxruntime threads {args.threads or 'default'}, {os.cpu_count()} logical CPUs shared by server and clients. "
        f"Good queries: n in {{1, 4, 16, 64}}, random seeds{' and labels' if meta['metadata']['num_classes'] else ''}.\n"
    )
    print(
        "| requests/s | images/s | good p50 ms | good p99 ms | bad p50 ms | good failed | bad not refused | server up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {len(results) / wall:,.0f} | {images / wall:,.0f} | {np.percentile(good_ms, 50):.1f} | "
        f"{np.percentile(good_ms, 99):.1f} | {np.percentile(bad_ms, 50) if len(bad) else float('nan'):.1f} | "
        f"{failed_good} | {wrong_bad} | {'yes' if alive else 'NO'} |"
    )
    return 1 if failed_good or wrong_bad or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
