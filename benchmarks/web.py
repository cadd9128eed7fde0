"""The browser demo in headless Chromium: pixel parity with the Python runtime, latency, a screenshot.

For every shipped preset, feeds the same explicit z (and labels) to
onnxruntime-web in the page and to `ganzoo.export.OnnxGenerator.run` in
Python, and counts the uint8 pixels that differ and those whose float value
lies within 2e-3 levels of a .5 rounding boundary (where the two runtimes'
float sums, ~1e-7 apart, may round apart). Then times one `run` of a batch
in the page and in Python (median of interleaved runs), and saves a
screenshot of the page.

Needs Debian's chromium, the playwright package and
`npm ci --prefix export/web`.

Usage:
    python benchmarks/web.py                       # all presets, n=256, screenshot docs/images/web_demo.png
    python benchmarks/web.py --n 64 --repeats 5 --screenshot ''
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from apps import static_server  # noqa: E402
from ganzoo.client import hub as hub_lib  # noqa: E402
from ganzoo.export.runtime import OnnxGenerator  # noqa: E402
from test_web import CHROMIUM_ARGS, float_output  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256, help="images per preset for the parity count")
    parser.add_argument("--batch", type=int, default=16, help="batch of the timed runs")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per runner")
    parser.add_argument("--screenshot", default=str(REPO / "docs" / "images" / "web_demo.png"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    names = hub_lib.list_names(hub_lib.Hub(hub_lib.shipped_dir()))
    rows = []
    with static_server(REPO) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 640})
        page.goto(f"{url}/export/web/index.html?preset=cgan_fashion_mnist")
        page.evaluate("window.ganzoo.ready")
        if args.screenshot:
            page.wait_for_function("document.getElementById('status').textContent.includes('images')")
            page.screenshot(path=args.screenshot)
        for name in names:
            generator = OnnxGenerator(hub_lib.shipped_dir() / f"{name}.onnx")
            rng = np.random.default_rng(0)
            z = rng.standard_normal((args.n, generator.latent_dim)).astype(np.float32)
            labels = (
                None
                if generator.num_classes is None
                else rng.integers(0, generator.num_classes, args.n).astype(np.int32)
            )
            call = """async ([name, z, labels, repeats]) => {
                await ganzoo.load(name);
                const out = await ganzoo.run(Float32Array.from(z), labels);
                return {pixels: Array.from(out.pixels), dims: out.dims};
            }"""
            result = page.evaluate(call, [name, z.ravel().tolist(), None if labels is None else labels.tolist(), 0])
            in_page = np.array(result["pixels"], dtype=np.uint8).reshape(result["dims"])
            expected = generator.run(z, labels)
            levels = (float_output(name, z, labels).astype(np.float64) + 1.0) * 127.5
            near = np.abs(levels - np.floor(levels) - 0.5) < 2e-3
            differs = in_page != expected
            # Latency of one batch, page vs Python, interleaved.
            zb, lb = z[: args.batch], None if labels is None else labels[: args.batch]
            timer = """async ([z, labels]) => {
                const t = performance.now(); await ganzoo.run(Float32Array.from(z), labels); return performance.now() - t;
            }"""
            page_ms, python_ms = [], []
            for _ in range(args.repeats):
                page_ms.append(page.evaluate(timer, [zb.ravel().tolist(), None if lb is None else lb.tolist()]))
                start = time.perf_counter()
                generator.run(zb, lb)
                python_ms.append((time.perf_counter() - start) * 1e3)
            rows.append(
                {
                    "preset": name,
                    "pixels": int(in_page.size),
                    "differ": int(differs.sum()),
                    "near_boundary": int(near.sum()),
                    "differ_off_boundary": int((differs & ~near).sum()),
                    "max_levels": int(np.abs(in_page.astype(int) - expected.astype(int)).max()),
                    "page_ms": float(np.median(page_ms)),
                    "python_ms": float(np.median(python_ms)),
                }
            )
        browser.close()
    version = json.loads((REPO / "export/web/node_modules/onnxruntime-web/package.json").read_text())["version"]
    import onnxruntime

    print(
        f"onnxruntime-web {version} (WebAssembly, 1 thread) in {chromium} vs onnxruntime {onnxruntime.__version__} "
        f"(Python, {os.cpu_count()} logical CPUs); {args.n} images per preset; batch {args.batch} for the latency, "
        f"median of {args.repeats} interleaved runs.\n"
    )
    print("| preset | pixels | differ | near a .5 boundary | differ elsewhere | max levels | page ms | Python ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['pixels']:,} | {r['differ']} | {r['near_boundary']} | {r['differ_off_boundary']} | "
            f"{r['max_levels']} | {r['page_ms']:.1f} | {r['python_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()
