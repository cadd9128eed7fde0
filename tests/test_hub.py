"""Download by name against a real HTTP server on 127.0.0.1: cache, hashes, errors, offline.

The mirror and its server are in tests/hub_mirror.py; limits, concurrency and local hubs are in test_hub_limits.py.
"""

import json
import shutil
import socket

import pytest

from ganzoo.client import hub as hub_lib
from ganzoo.client import presets
from ganzoo.training import generators

from hub_mirror import TEAM, start_server, stop_server, weights_requests, leftovers
from hub_mirror import cache, mirror, server  # noqa: F401  (fixtures)


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
