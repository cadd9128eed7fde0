"""A zoo mirror served over HTTP on 127.0.0.1 for the hub tests: the fixtures `mirror`, `server` and `cache`.

The mirror holds a tiny preset (`team_tiny`, published with `ganzoo.runs.publish.publish`
from a 16x16 generator with filters 8) and, once the shipped presets have
weights, a copy of `dcgan_digits`'s files. The server can corrupt, cut off,
slow down or flood a file, and counts requests. `cache` (autouse where
imported) points the hub cache at a fresh folder.
"""

import json
import shutil
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ganzoo.client import hub as hub_lib
from ganzoo.client import presets
from ganzoo.runs.publish import publish

TEAM = "team_tiny"
REPO = Path(__file__).resolve().parents[1]


class MirrorHandler(SimpleHTTPRequestHandler):
    """Serves the mirror directory; counts requests; can corrupt, cut off, slow down or flood a file."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests[self.path] = server.requests.get(self.path, 0) + 1
        name = self.path.lstrip("/")
        if name in server.delay:
            time.sleep(server.delay[name])
        if name in server.flood:  # no Content-Length, then 64 MiB: only the client's cap stops it
            self.send_response(200)
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(1024):
                    self.wfile.write(b"\0" * (1 << 16))
            except (BrokenPipeError, ConnectionResetError):  # the client cut it off, as it should
                pass
            return
        if name in server.corrupt or name in server.truncate:
            body = (Path(self.directory) / name).read_bytes()
            length = len(body)
            if name in server.corrupt:
                body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
            else:
                body = body[: length // 2]  # announce the full length, send half, hang up
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A hub directory holding the tiny team preset (and dcgan_digits when shipped with weights)."""
    from ganzoo.training.config import build_network, default_config

    run_dir = tmp_path_factory.mktemp("run")
    config = default_config("dcgan", dataset="digits", latent_dim=8, filters=8, epochs=1)
    build_network(config["generator"]).save(run_dir / "generator.keras")
    (run_dir / "config.json").write_text(json.dumps(config))
    directory = tmp_path_factory.mktemp("mirror")
    publish(run_dir, TEAM, directory)
    shipped = presets.read_preset("dcgan_digits")
    if shipped["weights"]["file"]:
        shutil.copy(hub_lib.shipped_dir() / shipped["weights"]["file"], directory)
    return directory


def start_server(directory):
    """Serves `directory` on 127.0.0.1 (a free port) from a thread; `.url`, `.requests` count GETs by path."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(MirrorHandler, directory=str(directory)))
    httpd.requests, httpd.lock = {}, threading.Lock()
    httpd.corrupt, httpd.truncate, httpd.delay, httpd.flood = set(), set(), {}, set()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd


def stop_server(httpd):
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(mirror):
    httpd = start_server(mirror)
    yield httpd
    stop_server(httpd)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv(hub_lib.CACHE_ENV, str(directory))
    monkeypatch.delenv(hub_lib.OFFLINE_ENV, raising=False)
    monkeypatch.delenv(hub_lib.HUB_ENV, raising=False)
    return directory


def weights_requests(server, name=TEAM):
    return server.requests.get(f"/{name}.keras", 0)


def leftovers(directory):
    return sorted(p.name for p in directory.rglob("*.part"))
