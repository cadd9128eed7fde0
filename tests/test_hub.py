"""Download by name against a real HTTP server on 127.0.0.1: cache, hashes, errors, offline, concurrency.

The mirror holds a tiny preset (`team_tiny`, published with `ganzoo.runs.publish.publish`
from a 16x16 generator with filters 8) and, once the shipped presets have
weights, a copy of `dcgan_digits`'s files, so that a shipped preset is also
fetched from a mirror and checked against its pinned hash.
"""

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ganzoo.client import hub as hub_lib
from ganzoo.client import presets
from ganzoo.training import generators
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


def test_first_download_then_cache_hit_without_request(server, cache):
    generator = generators.load_generator(TEAM, hub=server.url)
    assert generator.outputs[0].shape[1:] == (16, 16, 1)
    assert weights_requests(server) == 1
    cached = cache / TEAM / f"{TEAM}.keras"
    assert hub_lib.sha256_file(cached) == presets.load_config(TEAM, hub=server.url)["weights"]["sha256"]

    generators.load_generator(TEAM, hub=server.url)
    assert weights_requests(server) == 1  # a cache hit: no second request
    assert leftovers(cache) == []


def test_hub_from_environment_and_listing(server, monkeypatch):
    monkeypatch.setenv(hub_lib.HUB_ENV, server.url)
    assert TEAM in presets.list_presets()
    assert set(presets.list_presets()) >= {p.stem for p in hub_lib.shipped_dir().glob("*.json") if "." not in p.stem}
    assert presets.weights_path(TEAM).is_file()
    assert weights_requests(server) == 1


def test_corrupted_download_is_rejected_and_not_cached(server, cache):
    server.corrupt.add(f"{TEAM}.keras")
    expected = presets.load_config(TEAM, hub=server.url)["weights"]["sha256"]
    with pytest.raises(ValueError, match=f"sha256 {expected}.*Received: a file with sha256 [0-9a-f]{{64}}") as info:
        generators.load_generator(TEAM, hub=server.url)
    assert "not loaded" in str(info.value)
    assert not (cache / TEAM / f"{TEAM}.keras").exists()
    assert leftovers(cache) == []


def test_cut_off_download_never_sits_under_the_final_name(server, cache):
    server.truncate.add(f"{TEAM}.keras")
    with pytest.raises((ConnectionError, ValueError)):
        presets.weights_path(TEAM, hub=server.url)
    assert not (cache / TEAM / f"{TEAM}.keras").exists()
    assert leftovers(cache) == []


def test_partial_files_left_by_a_killed_process_are_cleaned(server, cache):
    stale = cache / TEAM / f".{TEAM}.keras.999.deadbeef.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    presets.weights_path(TEAM, hub=server.url)
    assert leftovers(cache) == []


def test_corrupt_cache_entry_is_replaced(server, cache):
    presets.weights_path(TEAM, hub=server.url)
    cached = cache / TEAM / f"{TEAM}.keras"
    cached.write_bytes(b"garbage")
    path = presets.weights_path(TEAM, hub=server.url)
    assert weights_requests(server) == 2
    assert hub_lib.sha256_file(path) == presets.load_config(TEAM, hub=server.url)["weights"]["sha256"]


def test_http_404_is_a_clear_error(mirror, tmp_path):
    partial_mirror = tmp_path / "partial"
    partial_mirror.mkdir()
    shutil.copy(mirror / f"{TEAM}.json", partial_mirror)  # the preset, but not its weights
    httpd = start_server(partial_mirror)
    try:
        with pytest.raises(FileNotFoundError, match=f"Expected the hub {httpd.url} to hold {TEAM}.keras.*HTTP 404"):
            generators.load_generator(TEAM, hub=httpd.url)
    finally:
        stop_server(httpd)


def test_unknown_name_on_a_hub_lists_the_known_ones(server):
    with pytest.raises(ValueError, match=r"one of: .*dcgan_digits.*no_such_preset"):
        presets.load_config("no_such_preset", hub=server.url)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hub_is_a_clear_error(server, mirror):
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ConnectionError, match="Could not reach the hub"):
        presets.load_config(TEAM, hub=url)
    config = json.loads((mirror / f"{TEAM}.json").read_text())
    with pytest.raises(ConnectionError, match=f"Could not reach the hub {url} to download {TEAM}.keras"):
        presets.weights_path(TEAM, hub=url, config=config)


def test_offline_mode_uses_only_the_cache(server, mirror, monkeypatch):
    monkeypatch.setenv(hub_lib.OFFLINE_ENV, "1")
    with pytest.raises((FileNotFoundError, ValueError), match="GANZOO_OFFLINE"):
        generators.load_generator(TEAM, hub=server.url)
    assert server.requests == {}

    monkeypatch.delenv(hub_lib.OFFLINE_ENV)
    generators.load_generator(TEAM, hub=server.url)
    before = dict(server.requests)
    monkeypatch.setenv(hub_lib.OFFLINE_ENV, "1")
    generator = generators.load_generator(TEAM, hub=server.url)  # preset JSON and weights from the cache
    import keras
    import numpy as np

    # The published file read by plain Keras is the reference: the cached copy holds the same weights.
    reference = keras.saving.load_model(mirror / f"{TEAM}.keras", compile=False)
    z = np.random.default_rng(3).normal(size=(6, 8)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(generator(z)), keras.ops.convert_to_numpy(reference(z)))
    assert server.requests == before


def test_offline_failures_leave_no_folder_and_say_corrupt(server, mirror, cache, monkeypatch):
    monkeypatch.setenv(hub_lib.OFFLINE_ENV, "1")
    config = json.loads((mirror / f"{TEAM}.json").read_text())
    with pytest.raises(FileNotFoundError, match="allows no download"):
        presets.weights_path(TEAM, hub=server.url, config=config)
    assert not (cache / TEAM).exists()  # no empty cache folder left behind
    monkeypatch.delenv(hub_lib.OFFLINE_ENV)
    path = presets.weights_path(TEAM, hub=server.url, config=config)
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setenv(hub_lib.OFFLINE_ENV, "1")
    with pytest.raises(ValueError, match="cached copy is corrupt and was removed"):
        presets.weights_path(TEAM, hub=server.url, config=config)
    assert not path.exists()


def test_shipped_preset_through_a_mirror_is_checked_against_the_pinned_hash(server, cache):
    config = presets.load_config("dcgan_digits")
    if not config["weights"]["file"]:
        pytest.skip("dcgan_digits has no published weights yet")
    path = presets.weights_path("dcgan_digits", hub=server.url)
    assert path == cache / "dcgan_digits" / config["weights"]["file"]
    assert weights_requests(server, "dcgan_digits") == 1
    assert server.requests.get("/dcgan_digits.json") is None  # the preset itself comes from the package


_WORKER = textwrap.dedent(
    """
    import sys
    import keras.utils  # import TensorFlow before the start signal, so both fetches overlap
    from ganzoo.client import hub
    from ganzoo.client import presets
    from ganzoo.training import generators
    print("ready", flush=True)
    sys.stdin.readline()
    print(presets.weights_path(sys.argv[1], hub=sys.argv[2]), flush=True)
    """
)


def test_two_processes_downloading_at_once_leave_a_valid_cache(server, cache):
    server.delay[f"{TEAM}.keras"] = 1.0  # the first download is still running when the second starts
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, TEAM, server.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    paths = {out.strip().splitlines()[-1] for out, _ in outputs}
    cached = cache / TEAM / f"{TEAM}.keras"
    assert paths == {str(cached)}
    assert hub_lib.sha256_file(cached) == presets.load_config(TEAM, hub=server.url)["weights"]["sha256"]
    assert weights_requests(server) == 1  # the lock made the second process wait, then hit the cache
    assert leftovers(cache) == []


def test_local_hub_is_read_in_place_and_verified(mirror, tmp_path, cache):
    path = presets.weights_path(TEAM, hub=mirror)
    assert path == mirror / f"{TEAM}.keras"
    assert presets.weights_path(TEAM, hub=mirror.as_uri()) == path
    assert not cache.exists()  # nothing copied

    bad = tmp_path / "bad_hub"
    shutil.copytree(mirror, bad)
    (bad / f"{TEAM}.keras").write_bytes(b"not the published file")
    with pytest.raises(ValueError, match="not loaded"):
        generators.load_generator(TEAM, hub=bad)


def test_hub_rejects_other_schemes_and_path_escapes(mirror):
    with pytest.raises(ValueError, match="ftp://"):
        hub_lib.Hub("ftp://example.com/zoo")
    with pytest.raises(ValueError, match="plain file name"):
        hub_lib.fetch(hub_lib.Hub(mirror), "../etc/passwd", "0" * 64, cache_subdir=TEAM, size_bytes=100)


def hub_copy(mirror, tmp_path, **weights):
    """A copy of the mirror whose team preset has `weights` changed."""
    directory = tmp_path / "hub_copy"
    shutil.copytree(mirror, directory)
    preset = json.loads((directory / f"{TEAM}.json").read_text())
    preset["weights"].update(weights)
    (directory / f"{TEAM}.json").write_text(json.dumps(preset))
    return directory, preset


@pytest.mark.parametrize("size_bytes", [None, 10**12, 0])
def test_size_bytes_is_required_and_bounded_before_any_request(mirror, tmp_path, cache, size_bytes):
    directory, _ = hub_copy(mirror, tmp_path, size_bytes=size_bytes)
    httpd = start_server(directory)
    httpd.flood.add(f"{TEAM}.keras")  # what a hostile hub would send, were it asked
    try:
        for hub in (httpd.url, directory):
            with pytest.raises(
                ValueError, match=rf"size of {TEAM}.keras as size_bytes.*Received: size_bytes={size_bytes}$"
            ):
                generators.load_generator(TEAM, hub=hub)
        assert weights_requests(httpd) == 0
        assert not (cache / TEAM / f"{TEAM}.keras").exists()
    finally:
        stop_server(httpd)


def test_the_size_bytes_cap_is_max_file_bytes():
    cap = hub_lib.MAX_FILE_BYTES
    assert hub_lib.check_size_bytes(f"{TEAM}.keras", cap) == cap
    for size_bytes in (cap + 1, 0, True, float(cap)):
        with pytest.raises(
            ValueError,
            match=rf"size of {TEAM}.keras as size_bytes, an integer from 1 to {cap} .*Received: size_bytes={size_bytes!r}$",
        ):
            hub_lib.check_size_bytes(f"{TEAM}.keras", size_bytes)


def test_a_flood_past_size_bytes_is_cut_off_and_never_cached(server, cache, mirror):
    server.flood.add(f"{TEAM}.keras")
    size = json.loads((mirror / f"{TEAM}.json").read_text())["weights"]["size_bytes"]
    start = time.monotonic()
    with pytest.raises(ValueError, match=rf"to have {size} bytes \(size_bytes\). Received: more"):
        presets.weights_path(TEAM, hub=server.url)
    assert time.monotonic() - start < 5
    assert not (cache / TEAM / f"{TEAM}.keras").exists()
    assert leftovers(cache) == []


@pytest.mark.parametrize("kind", ["local", "http"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_a_wrong_size_bytes_is_refused_by_local_and_http_hubs_alike(mirror, tmp_path, cache, kind, delta):
    size = (mirror / f"{TEAM}.keras").stat().st_size
    directory, _ = hub_copy(mirror, tmp_path, size_bytes=size + delta)  # the sha256 still matches the file
    httpd = start_server(directory) if kind == "http" else None
    try:
        with pytest.raises(ValueError, match=rf"{TEAM}.keras from .* to have {size + delta} bytes \(size_bytes\)"):
            generators.load_generator(TEAM, hub=httpd.url if httpd else directory)
    finally:
        if httpd:
            stop_server(httpd)
    assert not (cache / TEAM / f"{TEAM}.keras").exists()
    assert leftovers(cache) == []


class DiskFull:
    """Stands in for `open` in one module: opening works, every write fails as on a full disk."""

    def __init__(self, *args):
        self.file = open(*args)

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def test_a_full_cache_disk_is_one_line_naming_the_file(server, cache, monkeypatch, capsys):
    from ganzoo.client import download as download_lib
    from ganzoo.client import files as files_lib
    from ganzoo.cli import main

    monkeypatch.setattr(files_lib, "open", DiskFull, raising=False)  # the cached preset JSON (files.write_atomic)
    with pytest.raises(
        OSError,
        match=rf"^\[Errno 28\] Could not write {re.escape(str(cache / TEAM / TEAM))}\.json into the ganzoo cache: No space left on",
    ):
        presets.load_config(TEAM, hub=server.url)
    monkeypatch.delattr(files_lib, "open")
    config = presets.load_config(TEAM, hub=server.url)

    monkeypatch.setattr(download_lib, "open", DiskFull, raising=False)  # the weights
    target = cache / TEAM / f"{TEAM}.keras"
    with pytest.raises(
        OSError, match=rf"Could not write {re.escape(str(target))} into the ganzoo cache: No space left on device\. "
    ):
        presets.weights_path(TEAM, hub=server.url, config=config)
    assert not target.exists()
    assert leftovers(cache) == []

    capsys.readouterr()
    assert main(["download", TEAM, "--hub", server.url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "No space left on device" in err


def test_download_all_from_a_publish_folder_fetches_what_it_holds(mirror, capsys):
    from ganzoo.cli import main

    assert main(["download", "--all", "--hub", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == [TEAM]
    assert str(mirror / f"{TEAM}.keras") in out and str(mirror / f"{TEAM}.onnx") in out
