"""The browser demo (export/web/) in real headless Chromium, checked pixel for pixel against the Python runtime.

Needs Debian's `chromium`, the `playwright` package (it drives that browser;
no browser download) and `npm ci --prefix export/web` (onnxruntime-web).
Without them the tests skip, except under CI=true, where they must run.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from apps import REPO, static_server
from ganzoo import hub as hub_lib
from ganzoo.export.runtime import OnnxGenerator
from ganzoo.images import grid_array

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORT_WEB = REPO / "export" / "web" / "node_modules" / "onnxruntime-web" / "dist" / "ort.wasm.min.js"
PRESETS = hub_lib.list_names(hub_lib.Hub(hub_lib.shipped_dir()))
# Flags from this machine kind's notes: no sandbox as root, and no background connections (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package"
    if CHROMIUM is None:
        return "Chromium (apt-get install chromium)"
    if not ORT_WEB.is_file():
        return "onnxruntime-web (npm ci --prefix export/web)"
    return None


if _missing():
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the browser tests; missing {_missing()}", pytrace=False)
    pytest.skip(f"browser demo test needs {_missing()}", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser):
    with static_server(REPO) as url:
        page = browser.new_page(viewport={"width": 1000, "height": 760})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/export/web/index.html?preset=cgan_fashion_mnist")
        names = page.evaluate("window.ganzoo.ready")
        assert names == PRESETS, names
        yield page
        assert not errors, errors
        page.close()


BOUNDARY_FLIPS = {}  # name -> (pixels that differ, pixels near a rounding boundary, pixels); see the note


def float_output(name, z, labels):
    """The float32 image in [-1, 1] that the uint8 graph rounds: the graph cut before its to-uint8 tail."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(hub_lib.shipped_dir() / f"{name}.onnx")
    tail = [node for node in model.graph.node if node.name.startswith("to_uint8_")]
    for node in tail:
        model.graph.node.remove(node)
    (floats,) = [value for value in model.graph.value_info if value.name == "image_float"]
    del model.graph.output[:]
    model.graph.output.append(floats)
    constants = [init for init in model.graph.initializer if not init.name.startswith("to_uint8_")]
    del model.graph.initializer[:]  # without the tail's constants (onnxruntime would warn about each)
    model.graph.initializer.extend(constants)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"z": z} if labels is None else {"z": z, "label": labels}
    return session.run(None, feeds)[0]


def run_in_page(page, name, z, labels):
    result = page.evaluate(
        """async ([name, z, labels]) => {
            await ganzoo.load(name);
            const out = await ganzoo.run(Float32Array.from(z), labels);
            return {pixels: Array.from(out.pixels), dims: out.dims};
        }""",
        [name, z.ravel().tolist(), None if labels is None else labels.tolist()],
    )
    return np.array(result["pixels"], dtype=np.uint8).reshape(result["dims"])


@pytest.mark.parametrize("name", PRESETS)
def test_page_pixels_equal_the_python_runtime_exactly(page, name):
    generator = OnnxGenerator(hub_lib.shipped_dir() / f"{name}.onnx")
    rng = np.random.default_rng(len(name))
    n = 24
    z = rng.standard_normal((n, generator.latent_dim)).astype(np.float32)
    labels = None if generator.num_classes is None else rng.integers(0, generator.num_classes, n).astype(np.int32)
    in_page = run_in_page(page, name, z, labels)
    expected = generator.run(z, labels)
    assert in_page.dtype == expected.dtype == np.uint8
    # onnxruntime-web (WebAssembly SIMD) and native onnxruntime (AVX) sum in other orders, so their float
    # outputs differ by ~1e-7; a pixel whose value (x + 1) * 127.5 lies that close to a .5 rounding boundary
    # may round the other way. Every other pixel must be equal, exactly; the boundary ones within one level.
    levels = (float_output(name, z, labels).astype(np.float64) + 1.0) * 127.5
    near_boundary = np.abs(levels - np.floor(levels) - 0.5) < 2e-3  # 2e-3 levels = 1.6e-5 in [-1, 1]
    differs = in_page != expected
    BOUNDARY_FLIPS[name] = (int(differs.sum()), int(near_boundary.sum()), in_page.size)
    np.testing.assert_array_equal(in_page[~near_boundary], expected[~near_boundary])
    assert np.abs(in_page.astype(int) - expected.astype(int)).max() <= 1


def test_canvas_grid_equals_the_python_grid(page):
    generator = OnnxGenerator(hub_lib.shipped_dir() / "cgan_digits.onnx")
    z = np.random.default_rng(0).standard_normal((13, generator.latent_dim)).astype(np.float32)
    labels = np.arange(13, dtype=np.int32) % 10
    pixels = generator.run(z, labels)
    canvas = page.evaluate(
        """async ([z, labels]) => {
            await ganzoo.load("cgan_digits");
            const out = await ganzoo.run(Float32Array.from(z), labels);
            ganzoo.draw(out.pixels, out.dims, 5);
            const c = document.getElementById("grid");
            const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            return {rgba: Array.from(data), width: c.width, height: c.height};
        }""",
        [z.ravel().tolist(), labels.tolist()],
    )
    rgba = np.array(canvas["rgba"], dtype=np.uint8).reshape(canvas["height"], canvas["width"], 4)
    expected = grid_array(pixels, nrow=5)[..., 0]  # (H, W) grey
    assert rgba.shape[:2] == expected.shape
    for channel in range(3):
        np.testing.assert_array_equal(rgba[..., channel], expected)
    assert (rgba[..., 3] == 255).all()


def test_the_controls_draw_a_grid_and_a_seed_repeats(page):
    page.select_option("#preset", "dcgan_digits")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('dcgan_digits')")
    page.fill("#seed", "7")
    page.fill("#count", "9")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.includes('seed 7')")
    first = page.evaluate(
        "Array.from(document.getElementById('grid').getContext('2d').getImageData(0, 0, 200, 200).data)"
    )
    page.fill("#seed", "8")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.includes('seed 8')")
    page.fill("#seed", "7")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.includes('seed 7')")
    again = page.evaluate(
        "Array.from(document.getElementById('grid').getContext('2d').getImageData(0, 0, 200, 200).data)"
    )
    assert first == again and len(set(first)) > 10
    # The page's noise is N(0, 1): a seeded mulberry32 + Box-Muller, checked by its moments.
    values = np.array(page.evaluate("Array.from(ganzoo.noise(3, 100, 64))"))
    assert values.shape == (6400,) and abs(values.mean()) < 0.05 and abs(values.std() - 1) < 0.05


def test_bad_input_is_reported_on_the_page(page):
    page.fill("#seed", "-3")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "seed" in page.inner_text("#status")
    page.fill("#seed", "0")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').className === ''")


def hostile_hub(tmp_path, name, corrupt=False):
    """A hub folder with the demo page in web/ and `name` (a copy of dcgan_digits; its ONNX bytes flipped if asked)."""
    hub = Path(tmp_path)
    (hub / "index.txt").write_text(f"{name}\n../escape\nhttp://example.invalid/x\n")
    web = hub / "web"
    shutil.copytree(REPO / "export" / "web", web, ignore=shutil.ignore_patterns("node_modules"))
    os.symlink(REPO / "export" / "web" / "node_modules", web / "node_modules")
    if name != "ghost":
        shipped = hub_lib.shipped_dir()
        shutil.copy(shipped / "dcgan_digits.json", hub / f"{name}.json")
        shutil.copy(shipped / "dcgan_digits.onnx.json", hub)
        data = bytearray((shipped / "dcgan_digits.onnx").read_bytes())
        if corrupt:
            data[len(data) // 2] ^= 0xFF  # same size, another sha256
        (hub / "dcgan_digits.onnx").write_bytes(bytes(data))
    return hub


@pytest.mark.parametrize(
    "name, corrupt, message",
    [("ghost", False, "ghost.json: HTTP 404"), ("tampered", True, "Expected dcgan_digits.onnx to have sha256")],
)
def test_a_bad_hub_is_reported_on_the_page(browser, tmp_path, name, corrupt, message):
    hub = hostile_hub(tmp_path, name, corrupt)
    with static_server(hub) as url:
        page = browser.new_page()
        page.goto(f"{url}/web/index.html?hub=../")
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert message in page.inner_text("#status")
        # Only plain preset names are offered: nothing from outside the hub.
        assert page.eval_on_selector_all("#preset option", "options => options.map(o => o.value)") == [name]
        page.close()


def test_the_sha256_is_checked_on_localhost(page):
    facts = page.inner_text("#facts")
    assert "sha256 verified" in facts, facts
