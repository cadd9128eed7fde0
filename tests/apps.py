"""Shared helpers for the app-layer tests (service, browser demo, base install); no Keras import here."""

import functools
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAINING_STACK = ("keras", "tensorflow", "jax", "torch", "tf2onnx", "onnx", "sklearn", "matplotlib")


def no_training_stack_env(tmp_path, blocked=TRAINING_STACK):
    """Environment for a subprocess in which importing Keras, any backend or the exporter fails.

    A `sitecustomize.py` puts a finder first on `sys.meta_path` that refuses
    those modules, as in a base install (`pip install keras-ganzoo`) that lacks
    them. `onnxruntime` stays importable.
    """
    folder = Path(tmp_path) / "no_training_stack"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {tuple(blocked)!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{REPO}", "PYTHONUNBUFFERED": "1"}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def static_server(directory):
    """Serves `directory` on 127.0.0.1 from a thread (as `python -m http.server` does); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def cli_server(args, env=None, timeout=60):
    """Runs `python -m ganzoo serve ARGS --port 0`; yields `(process, base URL)`; stops it with SIGINT."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("Serving") or not line and process.poll() is not None:
                break
        if not line.startswith("Serving"):
            raise RuntimeError(f"ganzoo serve did not start: {line!r} {process.stderr.read()[-2000:]}")
        url = line.split(" on ", 1)[1].split("/generate", 1)[0]
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(2)  # SIGINT, as Ctrl-C
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        process.stderr.close()
