#!/usr/bin/env bash
# Checks a non-editable install: builds ganzoo from this checkout into a fresh
# virtual environment that also sees the site-packages of $PYTHON (for Keras,
# TensorFlow and the other heavy dependencies), then runs the CLI from another
# directory, so that nothing can come from the source tree. $PYTHON may itself
# be a virtualenv's python: its site-packages are added with a .pth file
# (`venv --system-site-packages` would see only the base interpreter's).
#
#   scripts/check_install.sh            # CI calls this (tests/test_install.py runs it as a slow test)
#   PYTHON=python3.11 KEEP=1 scripts/check_install.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT
export GANZOO_CACHE="$work/cache" TF_CPP_MIN_LOG_LEVEL=3
unset GANZOO_HUB_URL GANZOO_OFFLINE

# Build from a clean copy: setuptools builds in-tree, and a stale build/ folder
# could put files in the wheel that the checkout no longer has.
mkdir "$work/src"
tar -C "$repo" --exclude=./.git --exclude=./build --exclude=./runs --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=node_modules -cf - . | tar -C "$work/src" -xf -
"$python" -m venv "$work/venv"
paths() { "$1" -c 'import sysconfig; p = sysconfig.get_paths(); print(p["purelib"]); print(p["platlib"])'; }
venv_site="$(paths "$work/venv/bin/python" | sed -n 1p)"  # sed reads all: head could break the pipe
paths "$python" > "$venv_site/_outer_site_packages.pth"
"$work/venv/bin/pip" install --no-deps --quiet "$work/src"

cd "$work"  # away from the checkout
"$work/venv/bin/python" - <<'PY'
import sys
from pathlib import Path

import ganzoo
from ganzoo.client import hub

prefix = Path(sys.prefix).resolve()
package = Path(ganzoo.__file__).resolve().parent
shipped = hub.shipped_dir().resolve()
assert package.is_relative_to(prefix), f"ganzoo imported from {package}, not from the venv {prefix}"
assert shipped == package / "zoo_configs", f"presets resolved to {shipped}"
files = sorted(p.name for p in shipped.iterdir())
assert len([f for f in files if f.endswith(".json")]) >= 8 and len([f for f in files if f.endswith(".keras")]) >= 8, files
assert len([f for f in files if f.endswith(".onnx")]) >= 8 and len([f for f in files if f.endswith(".onnx.json")]) >= 8, files
import importlib.util
assert importlib.util.find_spec("ganzoo.export.runtime") is not None
assert importlib.util.find_spec("export") is None, "a top-level `export` module was installed"
weights = sorted(p.name for p in (package / "metrics" / "weights").iterdir())
assert {"classifiers.json", "digits.weights.h5", "fashion_mnist.weights.h5"} <= set(weights), weights
print(f"installed: {package}; {len(files)} zoo files; classifier weights {weights}")
PY
"$work/venv/bin/ganzoo" list
"$work/venv/bin/ganzoo" generate dcgan_fashion_mnist -n 16 -o "$work/g.png"
test -s "$work/g.png"
echo "check_install: OK"
