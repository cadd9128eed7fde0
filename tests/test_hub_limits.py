"""The hub's limits and edges against a real HTTP server on 127.0.0.1: two processes at once, local hubs,
size_bytes and its cap, a flood, a full disk, a publish folder as a hub.
"""

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from ganzoo.client import hub as hub_lib
from ganzoo.client import presets
from ganzoo.training import generators

from hub_mirror import TEAM, REPO, start_server, stop_server, weights_requests, leftovers
from hub_mirror import cache, mirror, server  # noqa: F401  (fixtures)


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
