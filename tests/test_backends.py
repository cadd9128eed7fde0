"""Runs the backend-neutral core tests (marker `backends`) on every other installed Keras backend.

The Keras backend is fixed when Keras is first imported, so each other
backend gets its own pytest process: `KERAS_BACKEND=jax python -m pytest -m
"backends and not one_backend"` is what this runs, and what a developer can
run by hand. Tests marked `one_backend` check what no backend can change
(arguments refused before any tensor exists, parameter counts, layer
shapes) or a case another rerun test already covers; they run once, here.
"""

import importlib.util
import os
import subprocess
import sys

import keras
import pytest

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
OTHERS = [
    name
    for name, module in BACKEND_MODULES.items()
    if name != keras.backend.backend() and importlib.util.find_spec(module) is not None
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each backend's rerun is cut into shards of test files, so that `pytest -n 2` spreads them over both cores.
SHARDS = 3
FILES = sorted(
    name for name in os.listdir(os.path.join(ROOT, "tests")) if name.startswith("test_") and name.endswith(".py")
)


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("backend", OTHERS)
def test_core_suite_passes_on_backend(backend, shard):
    env = {**os.environ, "KERAS_BACKEND": backend}
    files = [os.path.join("tests", name) for name in FILES[shard::SHARDS]]
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        "backends and not one_backend",
        "-p",
        "no:cacheprovider",
        "-rfEs",
        *files,
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
    summary = result.stdout[-4000:]
    print(f"KERAS_BACKEND={backend}:\n{summary}")
    if result.returncode == 5:  # no backends-marked test in this shard's files
        return
    assert result.returncode == 0, (
        f"KERAS_BACKEND={backend} python -m pytest -m backends failed:\n{result.stdout[-12000:]}\n{result.stderr[-3000:]}"
    )
