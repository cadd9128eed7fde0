"""The browser demo (export/web/) in real headless Chromium, checked pixel for pixel against the Python runtime.

Needs Debian's `chromium`, the `playwright` package (it drives that browser;
no browser download) and `npm ci --prefix export/web` (onnxruntime-web).
Without them the tests skip, except under CI=true, where they must run.
"""

import functools
import os
import re
import shutil
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from apps import REPO, static_server
from ganzoo.client import hub as hub_lib
from ganzoo.export.runtime import OnnxGenerator
from ganzoo.client.images import grid_array

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
    np.testing.assert_array_equal(in_page[~near_boundary], expected[~near_boundary])
    assert np.abs(in_page.astype(int) - expected.astype(int)).max() <= 1
    # The exemption is narrow and taken from the right tensor: `levels` rounds (half to even, as ONNX Round) to
    # the Python pixels off the boundary, and under 1% of the pixels lie near one (~0.4% for uniform levels).
    # A wrong cut of the graph, or a wider window, would exempt pixels the equality above must cover.
    np.testing.assert_array_equal(np.clip(np.rint(levels), 0, 255)[~near_boundary], expected[~near_boundary])
    assert near_boundary.mean() < 0.01, near_boundary.mean()


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


def test_bad_input_is_reported_on_the_page_and_clears_the_grid(page):
    page.fill("#seed", "0")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.includes('seed 0,')")
    assert page.evaluate("document.getElementById('grid').width") > 0
    page.fill("#seed", "-3")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "seed" in page.inner_text("#status")
    # No grid under the error: the one there was drawn before it and would read as its result.
    assert page.evaluate("[document.getElementById('grid').width, document.getElementById('grid').height]") == [0, 0]
    page.fill("#seed", "0")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').className === ''")
    assert page.evaluate("document.getElementById('grid').width") > 0


def grid_pixels(page):
    return page.evaluate(
        "(() => { const c = document.getElementById('grid');"
        " return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; })()"
    )


def test_an_empty_seed_draws_a_random_one_and_names_it(page):
    page.select_option("#preset", "dcgan_digits")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('dcgan_digits:')")
    page.fill("#count", "9")
    assert page.get_attribute("#seed", "placeholder") == "random" and "empty: random" in page.inner_text("form")
    drawn = []
    for _ in range(2):
        page.fill("#seed", "")
        page.evaluate("document.getElementById('status').textContent = ''")
        page.click("#generate")
        page.wait_for_function("document.getElementById('status').textContent.includes('images')")
        match = re.search(r"seed (\d+) \(random", page.inner_text("#status"))
        assert match, page.inner_text("#status")
        drawn.append((int(match.group(1)), grid_pixels(page)))
    assert drawn[0][0] != drawn[1][0]  # two draws of 2**32 seeds
    # The named seed, typed back, draws the same grid (so it is the seed the grid came from, not 0).
    page.fill("#seed", str(drawn[1][0]))
    page.click("#generate")
    page.wait_for_function(f"document.getElementById('status').textContent.includes('seed {drawn[1][0]},')")
    assert grid_pixels(page) == drawn[1][1] != drawn[0][1]


def test_class_names_equal_to_their_index_are_shown_once(page):
    page.select_option("#preset", "cgan_digits")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('cgan_digits:')")
    texts = page.eval_on_selector_all("#label option", "options => options.map(o => o.textContent)")
    assert texts == ["one row of every class"] + [str(c) for c in range(10)]
    page.select_option("#preset", "cgan_fashion_mnist")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('cgan_fashion_mnist:')")
    texts = page.eval_on_selector_all("#label option", "options => options.map(o => o.textContent)")
    names = OnnxGenerator(hub_lib.shipped_dir() / "cgan_fashion_mnist.onnx").class_names
    assert names[0] != "0"
    assert texts == ["one row of every class"] + [f"{c}: {name}" for c, name in enumerate(names)]


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
        page, problems = open_page(browser, f"{url}/web/index.html?hub=../")
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert message in page.inner_text("#status")
        # Only plain preset names are offered: nothing from outside the hub.
        assert page.eval_on_selector_all("#preset option", "options => options.map(o => o.value)") == [name]
        # No Class field of a preset that did not load, no grid, no facts; and no uncaught error.
        assert page.is_hidden("#class-field") and page.inner_text("#facts") == ""
        assert page.evaluate("document.getElementById('grid').width") == 0
        assert page_errors(problems) == []
        page.close()


def test_the_sha256_is_checked_on_localhost(page):
    facts = page.inner_text("#facts")
    assert "sha256 verified" in facts, facts


class CorsHandler(SimpleHTTPRequestHandler):
    """Serves a folder with `Access-Control-Allow-Origin: *`, as the README tells a hub to (the same class)."""

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def cors_server(directory):
    """Serves `directory` on a second 127.0.0.1 port with the CORS header; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CorsHandler, directory=str(directory)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_page(browser, url):
    """A new page at `url`, and a list that collects its uncaught errors and console errors."""
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.goto(url)
    return page, problems


def page_errors(problems):
    return [problem for problem in problems if problem.startswith("pageerror")]


def wait_for_error(page):
    page.wait_for_function("document.getElementById('status').className === 'error'")
    return page.inner_text("#status")


def ready_outcome(page):
    return page.evaluate("ganzoo.ready.then(() => 'resolved', (error) => 'rejected')")


def test_a_load_has_no_console_errors_and_no_404(browser):
    with static_server(REPO) as url:
        page, problems = open_page(browser, f"{url}/export/web/index.html")
        page.wait_for_function("document.getElementById('status').textContent.includes('images')")
        page.wait_for_load_state("networkidle")
        assert problems == []  # it was "Failed to load resource: ... 404" for /favicon.ico
        page.close()


def test_an_unknown_preset_is_named_with_the_known_ones(browser):
    with static_server(REPO) as url:
        page, problems = open_page(browser, f"{url}/export/web/index.html?preset=nonexistent")
        assert page.evaluate("ganzoo.ready") == PRESETS
        text = wait_for_error(page)
        assert '"nonexistent"' in text and "Unknown preset" in text
        assert all(name in text for name in PRESETS), text
        assert page.evaluate("document.getElementById('grid').width") == 0  # no grid of a preset not asked for
        page.select_option("#preset", "dcgan_digits")  # the controls work: pick a known one
        page.wait_for_function("document.getElementById('status').textContent.startsWith('dcgan_digits: 40 images')")
        assert problems == []
        page.close()


def test_a_hub_on_another_origin_without_cors_is_explained(browser):
    with static_server(REPO) as url, static_server(hub_lib.shipped_dir()) as hub_url:
        page, problems = open_page(browser, f"{url}/export/web/index.html?hub={hub_url}/")
        text = wait_for_error(page)
        assert "Access-Control-Allow-Origin" in text and "CORS" in text and hub_url in text, text
        # Nothing to use: no empty selects, no Generate button, no grid; the failure is handled, not uncaught.
        assert page.is_hidden("#controls") and page.evaluate("document.getElementById('grid').width") == 0
        assert ready_outcome(page) == "rejected"
        assert page_errors(problems) == []  # the browser's own CORS console line stays; no uncaught rejection
        page.close()


def test_a_hub_on_another_origin_with_cors_works(browser):
    with static_server(REPO) as url, cors_server(hub_lib.shipped_dir()) as hub_url:
        page, problems = open_page(browser, f"{url}/export/web/index.html?hub={hub_url}/&preset=dcgan_digits")
        assert page.evaluate("ganzoo.ready") == PRESETS
        page.wait_for_function("document.getElementById('status').textContent.startsWith('dcgan_digits: 40 images')")
        assert "sha256 verified" in page.inner_text("#facts")
        assert problems == []
        page.close()


def test_the_page_opened_as_a_file_says_to_serve_it(browser):
    page, problems = open_page(browser, (REPO / "export" / "web" / "index.html").as_uri())
    text = wait_for_error(page)
    assert "opened as a file" in text and "python -m http.server" in text, text
    assert page.is_hidden("#controls") and ready_outcome(page) == "rejected"
    assert page_errors(problems) == []
    page.close()


def test_a_missing_onnxruntime_web_says_how_to_install_it(browser, tmp_path):
    shutil.copytree(REPO / "export" / "web", tmp_path / "web", ignore=shutil.ignore_patterns("node_modules"))
    with static_server(tmp_path) as url:
        page, problems = open_page(browser, f"{url}/web/index.html")
        text = wait_for_error(page)
        assert "npm ci --prefix export/web" in text, text
        assert page.is_hidden("#controls") and ready_outcome(page) == "rejected"
        assert page_errors(problems) == []  # it was "ReferenceError: ort is not defined" and a page stuck at "Loading"
        page.close()
