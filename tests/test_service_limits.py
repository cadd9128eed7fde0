"""`ganzoo serve` under slow and greedy clients: real slowloris sockets and real servers on 127.0.0.1.

The limits: a deadline on a whole request (`--header-timeout`), a cap on open
connections (`--max-connections`, a 503 beyond it), a cap on requests whose
images are made at once (`--max-in-flight`, a 503 with `Retry-After` after
`--queue-timeout`), and a pixel budget per request (`--max-pixels`).
"""

import contextlib
import http.client
import json
import os
import select
import socket
import threading
import time
import tracemalloc
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from starlette.datastructures import QueryParams  # noqa: E402

from apps import cli_server  # noqa: E402
from ganzoo.commands.serve import listening_socket  # noqa: E402
from ganzoo.export.connection_limits import uvicorn_server  # noqa: E402
from ganzoo.export.runtime import OnnxGenerator  # noqa: E402
from ganzoo.export.service import QueryError, create_app, parse_query, render_png  # noqa: E402

PARTIAL = b"GET /generate?n=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers that never end


def get(url, timeout=30):
    """`(status, headers, body)`; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def status_of(url):
    """The HTTP status, or None for a connection reset (beyond the cap, once as many turned-away clients linger)."""
    try:
        return get(url, timeout=5)[0]
    except OSError:
        return None


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def slow_clients(port, count):
    """`count` connections that have sent part of a request's headers."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(PARTIAL)
        sockets.append(sock)
    return sockets


def trickle_until_closed(sockets, seconds, interval=0.2):
    """Sends one more header byte on each socket every `interval` s; returns each one's seconds until the server
    closed it (None: still open after `seconds`)."""
    start = time.monotonic()
    closed = {}
    while len(closed) < len(sockets) and time.monotonic() - start < seconds:
        for sock in sockets:
            if sock in closed:
                continue
            try:
                sock.sendall(b"a")
            except OSError:
                closed[sock] = time.monotonic() - start
        readable, _, _ = select.select([s for s in sockets if s not in closed], [], [], interval)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed[sock] = time.monotonic() - start
    return [closed.get(sock) for sock in sockets]


def test_slow_header_connections_are_closed_within_the_header_timeout():
    """Before the deadline, 300 such connections stayed open 110 s: each trickled byte reset nothing, and nothing
    ever closed them."""
    with cli_server(["dcgan_digits", "--header-timeout", "1", "--keep-alive", "30"]) as (process, url):
        sockets = slow_clients(port_of(url), 20)
        # A keep-alive connection that got one answer, then trickles its next request: uvicorn's keep-alive timer
        # is cancelled by the first byte, the request deadline is not.
        reused = http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=10)
        reused.request("GET", "/healthz")
        assert reused.getresponse().read() == b"ok"
        reused.sock.sendall(PARTIAL)
        sockets.append(reused.sock)
        try:
            times = trickle_until_closed(sockets, seconds=6)
        finally:
            for sock in sockets:
                sock.close()
        assert all(t is not None and 0.8 <= t <= 2.5 for t in times), times
        assert get(f"{url}/generate?n=2")[0] == 200 and process.poll() is None


def open_files(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts the server's descriptors in /proc")
def test_connections_beyond_the_cap_get_503_and_use_no_descriptors():
    """Before the cap, 20,200 slow connections used up the 20,000 descriptors and /generate stopped answering."""
    cap = 8
    with cli_server(["dcgan_digits", "--max-connections", str(cap), "--header-timeout", "30"]) as (process, url):
        port = port_of(url)
        base = open_files(process.pid)
        holders = slow_clients(port, cap)
        time.sleep(0.3)  # accepted by now
        extra = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        extra.request("GET", "/generate?n=2")
        response = extra.getresponse()
        payload = json.loads(response.read())
        assert response.status == 503 and response.headers["Retry-After"] == "1", response.status
        assert "connection limit" in payload["error"] and payload["parameter"] is None
        extra.close()
        # A flood beyond the cap: each gets a 503 and is closed; it holds no descriptor for long (a few linger
        # to deliver the 503, at most `cap` of them).
        flood = slow_clients(port, 60)
        time.sleep(0.5)
        held = open_files(process.pid) - base
        for sock in flood:
            sock.close()
        assert held <= 2 * cap + 4, held
        for sock in holders:
            sock.close()
        deadline = time.monotonic() + 5
        while status_of(f"{url}/healthz") != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, _, body = get(f"{url}/generate?n=2&seed=1")
        assert status == 200 and body.startswith(b"\x89PNG") and process.poll() is None


class BlockingGenerator:
    """A stand-in for `OnnxGenerator` whose `generate` waits for `release`; counts the calls running at once."""

    def __init__(self, path, wait=None):
        self.path, self.metadata, self.num_classes, self.image_shape = path, {"preset": "stub"}, None, (8, 8, 1)
        self.release, self.wait = threading.Event(), wait
        self.entered = threading.Semaphore(0)
        self.running = self.most = 0
        self.lock = threading.Lock()

    def generate(self, n, labels=None, seed=None):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.entered.release()
        if self.wait is None:
            self.release.wait(20)
        else:
            time.sleep(self.wait)
        with self.lock:
            self.running -= 1
        return np.zeros((n, 8, 8, 1), np.uint8)


@contextlib.contextmanager
def thread_server(app, **limits):
    """Runs `app` under `uvicorn_server` on 127.0.0.1 in a thread; yields the base URL."""
    settings = {"header_timeout": 10, "keep_alive": 5, "max_connections": 100, **limits}
    server = uvicorn_server(app, **settings)
    sock = listening_socket("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_requests_beyond_max_in_flight_wait_queue_timeout_then_get_503_with_retry_after(tmp_path):
    (tmp_path / "stub.onnx").write_bytes(b"stub")
    generator = BlockingGenerator(str(tmp_path / "stub.onnx"))
    app = create_app(generator, max_in_flight=1, queue_timeout=0.3)
    with thread_server(app) as url, concurrent_get() as run:
        first = run(f"{url}/generate?n=2")
        assert generator.entered.acquire(timeout=10)  # the one slot is taken
        start = time.monotonic()
        status, headers, body = get(f"{url}/generate?n=3")
        waited = time.monotonic() - start
        assert status == 503 and headers["Retry-After"] == "1", status
        assert "max_in_flight=1" in json.loads(body)["error"] and 0.25 <= waited < 5, waited
        generator.release.set()
        assert first.result(timeout=10)[0] == 200
        assert get(f"{url}/generate?n=2&seed=4")[0] == 200  # the slot was given back
        assert generator.most == 1


def test_max_in_flight_bounds_the_images_made_at_once(tmp_path):
    """Before, requests ran on Starlette's 40-thread pool with no limit: 6 concurrent requests made 6 grids at once."""
    (tmp_path / "stub.onnx").write_bytes(b"stub")
    generator = BlockingGenerator(str(tmp_path / "stub.onnx"), wait=0.2)
    app = create_app(generator, max_in_flight=2, queue_timeout=10)
    with thread_server(app) as url, concurrent_get() as run:
        answers = [run(f"{url}/generate?n=2&seed={seed}") for seed in range(6)]
        assert [answer.result(timeout=30)[0] for answer in answers] == [200] * 6  # waited for a slot, not refused
    assert generator.most == 2


class NoiseGenerator:
    """A stand-in for `OnnxGenerator` whose images are noise: their PNG does not compress (3 MB for 256)."""

    def __init__(self, path):
        self.path, self.metadata, self.num_classes, self.image_shape = path, {"preset": "noise"}, None, (64, 64, 3)

    def generate(self, n, labels=None, seed=None):
        return np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def test_a_client_that_never_reads_its_response_loses_the_connection_after_the_header_timeout(tmp_path):
    """uvicorn's keep-alive timer closes gracefully: the transport waits, holding the descriptor, for the client to
    read a response it never reads."""
    (tmp_path / "noise.onnx").write_bytes(b"stub")
    app = create_app(NoiseGenerator(str(tmp_path / "noise.onnx")))
    with thread_server(app, header_timeout=1, keep_alive=1, max_connections=1) as url:
        greedy = socket.socket()
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.connect(("127.0.0.1", port_of(url)))
        greedy.sendall(b"GET /generate?n=256 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.5)
        assert get(f"{url}/healthz")[0] == 503  # the one connection is the greedy one's
        deadline = time.monotonic() + 6
        while status_of(f"{url}/healthz") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert get(f"{url}/healthz")[0] == 200
        greedy.close()


@contextlib.contextmanager
def concurrent_get():
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        yield lambda url: pool.submit(get, url)


def test_a_request_over_the_pixel_budget_is_a_400_naming_n():
    with cli_server(["dcgan_digits", "--max-pixels", "2560"]) as (process, url):  # 10 images of 16x16x1
        status, _, body = get(f"{url}/generate?n=11")
        payload = json.loads(body)
        assert status == 400 and payload["parameter"] == "n", payload
        assert "n <= 10" in payload["error"] and "max_pixels=2560" in payload["error"]
        assert get(f"{url}/generate?n=10")[0] == 200
        limits = json.loads(get(f"{url}/metadata")[2])["limits"]
        assert limits["max_pixels"] == 2560 and limits["max_n_by_pixels"] == 10
        assert get(f"{url}/generate")[0] == 200  # the default n (16) is cut to the budget


def test_more_label_ids_than_max_n_is_named_as_too_many():
    """Before: "Expected label to be a class id in [0, 10)" for ids that were all valid, only too many."""
    with pytest.raises(QueryError, match=r"at most max_n=4 comma-separated class ids in label\. Received: 5 ids"):
        parse_query(QueryParams("label=1,2,3,4,5"), num_classes=10, max_n=4)
    with pytest.raises(QueryError, match=r"class id in \[0, 10\)") as info:
        parse_query(QueryParams("label=1,x"), num_classes=10, max_n=4)
    assert info.value.parameter == "label"


class FloatGenerator(OnnxGenerator):
    """`OnnxGenerator.generate` on a float32 graph's outputs, without a graph: the costliest case in memory."""

    def __init__(self, image_shape):
        self.latent_dim, self.num_classes, self.image_shape, self.output_dtype = 4, None, image_shape, "float32"
        self.metadata = {}

    def run(self, z, labels=None):
        return np.random.default_rng(0).uniform(-1, 1, (z.shape[0], *self.image_shape)).astype(np.float32)


@pytest.mark.parametrize("image_shape", [(16, 16, 1), (28, 28, 1), (256, 256, 3)])
def test_a_request_costs_at_most_40_bytes_per_budget_pixel(image_shape):
    """The figure behind --max-pixels' default (4 Mi pixels, about 150 MB): measured, with a ceiling."""
    n = max(1, 2**20 // int(np.prod(image_shape)))
    generator = FloatGenerator(image_shape)
    tracemalloc.start()
    try:
        render_png(generator, n, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 40 * n * np.prod(image_shape), peak / (n * np.prod(image_shape))


def test_bad_limit_flags_fail_before_serving(tmp_path):
    import subprocess
    import sys

    for args, message in (
        (["--max-pixels", "100"], "Expected --max-pixels >= 256, one 16x16x1 image"),
        (["--max-pixels", "0"], "--max-pixels"),
        (["--max-in-flight", "0"], "--max-in-flight"),
        (["--header-timeout", "0"], "--header-timeout"),
        (["--queue-timeout", "nan"], "--queue-timeout"),
        (["--max-connections", "100000000"], "--max-connections"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "ganzoo", "serve", "dcgan_digits", *args, "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (
            args,
            result.stderr,
        )
