"""`ganzoo serve`: a real server on 127.0.0.1, without Keras or TensorFlow, checked against the Python runtime."""

import concurrent.futures
import hashlib
import io
import json
import math
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from PIL import Image  # noqa: E402

from apps import cli_server, no_training_stack_env  # noqa: E402
from ganzoo.export.runtime import OnnxGenerator  # noqa: E402
from ganzoo.export.service import render_png  # noqa: E402
from ganzoo.client.images import MIN_CELL_PIXELS  # noqa: E402

PRESETS = ("cgan_digits", "dcgan_digits")  # one conditional, one unconditional


@pytest.fixture(scope="module", params=PRESETS)
def served(request, tmp_path_factory):
    env = no_training_stack_env(tmp_path_factory.mktemp("serve"))  # the service must not need them
    with cli_server([request.param], env=env) as (process, url):
        yield request.param, process, url, OnnxGenerator.from_preset(request.param)


def get(url):
    """`(status, content type, body)`; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def cell(grid, index, columns, shape):
    """Image `index` cut out of a grid PNG (padding 2, upscaled as ganzoo.client.images does), scaled back down."""
    height, width, _ = shape
    scale = max(1, math.ceil(MIN_CELL_PIXELS / max(height, width)))
    top, left = (index // columns) * (height * scale + 2) + 2, (index % columns) * (width * scale + 2) + 2
    return grid[top : top + height * scale : scale, left : left + width * scale : scale]


def test_generate_returns_the_runtime_pixels_byte_for_byte(served):
    name, _, url, generator = served
    conditional = generator.num_classes is not None
    query = "n=12&seed=5" + ("&label=3,7" if conditional else "")
    status, content_type, body = get(f"{url}/generate?{query}")
    assert status == 200 and content_type == "image/png"
    labels = np.resize([3, 7], 12) if conditional else None
    assert body == render_png(generator, 12, 5, labels)  # byte for byte
    # Independently of the grid code: each cell is the runtime's image for that seed and label.
    grid = np.asarray(Image.open(io.BytesIO(body)))
    pixels = generator.generate(12, labels=labels, seed=5)
    columns = math.ceil(math.sqrt(12))
    for index in range(12):
        np.testing.assert_array_equal(cell(grid, index, columns, generator.image_shape), pixels[index, ..., 0])


def test_defaults_and_layout(served):
    _, _, url, generator = served
    status, _, body = get(f"{url}/generate")
    assert status == 200
    grid = np.asarray(Image.open(io.BytesIO(body)))
    if generator.num_classes is None:
        expected = generator.generate(16, seed=0)
        columns = 4
    else:  # one class per column
        expected = generator.generate(16, labels=np.arange(16) % generator.num_classes, seed=0)
        columns = generator.num_classes
    for index in (0, 5, 15):
        np.testing.assert_array_equal(cell(grid, index, columns, generator.image_shape), expected[index, ..., 0])


def test_metadata_route(served):
    name, _, url, generator = served
    status, content_type, body = get(f"{url}/metadata")
    assert status == 200 and content_type == "application/json"
    payload = json.loads(body)
    assert payload["name"] == name and payload["metadata"] == generator.metadata
    assert payload["limits"]["max_n"] == 256
    assert payload["sha256"] == hashlib.sha256(open(generator.path, "rb").read()).hexdigest()
    assert get(f"{url}/healthz")[2] == b"ok"


def test_etag_names_model_and_query(served):
    _, _, url, _ = served
    with urllib.request.urlopen(f"{url}/generate?n=3&seed=1", timeout=30) as response:
        etag = response.headers["ETag"]
    with urllib.request.urlopen(f"{url}/generate?n=3&seed=2", timeout=30) as response:
        assert response.headers["ETag"] != etag
    request = urllib.request.Request(f"{url}/generate?n=3&seed=1", headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError, match="304"):
        urllib.request.urlopen(request, timeout=30)


BAD = [
    ("n=0", "n"),
    ("n=257", "n"),
    ("n=abc", "n"),
    ("n=1.5", "n"),
    ("n=--2", "n"),
    ("n=1&n=2", "n"),
    ("seed=-1", "seed"),
    ("seed=99999999999999999999999", "seed"),
    ("seed=4294967296", "seed"),  # 2**32: was accepted, then the runtime refused it (HTTP 500)
    ("seed=%C2%B2", "seed"),
    ("nrow=0", "nrow"),
    ("size=3", "size"),
    ("label=", "label"),
]
BAD_CONDITIONAL = [("label=10", "label"), ("label=-1", "label"), ("label=1,x", "label"), ("label=1&label=2", "label")]


def test_bad_queries_get_a_400_naming_the_parameter_and_the_service_stays_up(served):
    _, process, url, generator = served
    cases = BAD + (BAD_CONDITIONAL if generator.num_classes is not None else [("label=1", "label")])
    for query, parameter in cases:
        status, content_type, body = get(f"{url}/generate?{query}")
        assert status == 400 and content_type == "application/json", query
        payload = json.loads(body)
        assert payload["parameter"] == parameter and "Expected" in payload["error"], (query, payload)
    assert get(f"{url}/nowhere")[0] == 404
    request = urllib.request.Request(f"{url}/generate", method="POST")
    with pytest.raises(urllib.error.HTTPError, match="405"):
        urllib.request.urlopen(request, timeout=30)
    assert process.poll() is None
    assert get(f"{url}/generate?n=2&seed=1")[0] == 200
    assert get(f"{url}/generate?n=2&seed=4294967295")[0] == 200  # the largest seed the runtime takes


def test_concurrent_clients_get_the_same_bytes(served):
    _, _, url, generator = served
    labels = np.resize(np.arange(generator.num_classes or 1), 8) if generator.num_classes else None
    expected = render_png(generator, 8, 11, labels, generator.num_classes)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: get(f"{url}/generate?n=8&seed=11"), range(24)))
    assert all(status == 200 and body == expected for status, _, body in answers)


def test_ctrl_c_stops_the_service_cleanly(tmp_path):
    with cli_server(["dcgan_digits"], env=no_training_stack_env(tmp_path)) as (process, url):
        assert get(f"{url}/healthz")[0] == 200
        process.send_signal(2)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in process.stderr.read()


def test_accepted_connections_get_tcp_nodelay():
    """Without TCP_NODELAY every keep-alive response waited 40 ms (Nagle + delayed ACK); asyncio sets it only
    on sockets created with proto=IPPROTO_TCP, which `listening_socket` does."""
    import asyncio
    import socket

    from ganzoo.commands.serve import listening_socket

    async def check():
        seen = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                seen.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        sock = listening_socket("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        value = await asyncio.wait_for(seen, 10)
        writer.close()
        server.close()
        return value

    assert asyncio.run(check()) != 0


def test_bad_arguments_fail_before_serving(tmp_path):
    import subprocess
    import sys

    env = no_training_stack_env(tmp_path)
    for args, message in (
        (["no_such_preset"], "Expected a known preset name"),
        ([str(tmp_path / "missing.onnx")], "Expected an existing ONNX file"),
        (["dcgan_digits", "--max-n", "0"], "--max-n"),
        (["dcgan_digits", "--port", "70000"], "--port"),
    ):
        port = [] if "--port" in args else ["--port", "0"]
        result = subprocess.run(
            [sys.executable, "-m", "ganzoo", "serve", *args, *port], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
