#!/usr/bin/env bash
# Checks the base install that apps use: `pip install keras-ganzoo` with no extras, in
# a fresh virtual environment (numpy, onnxruntime and pillow from PyPI; no Keras,
# no TensorFlow, no onnx), run from another directory. It must list presets,
# generate from a preset name (shipped, and downloaded from an HTTP mirror on
# 127.0.0.1 into the cache), run OnnxGenerator.from_preset, and say which
# extra a .keras file needs.
#
#   scripts/check_base_install.sh          # tests/test_install.py runs it as a slow test
#   PYTHON=python3.11 KEEP=1 scripts/check_base_install.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
server_pid=""
cleanup() { [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true; [[ -n "${KEEP:-}" ]] || rm -rf "$work"; }
trap cleanup EXIT
export GANZOO_CACHE="$work/cache" PIP_DISABLE_PIP_VERSION_CHECK=1
unset GANZOO_HUB_URL GANZOO_OFFLINE PYTHONPATH

mkdir "$work/src"
tar -C "$repo" --exclude=./.git --exclude=./build --exclude=./runs --exclude='*.egg-info' --exclude=node_modules \
    --exclude=__pycache__ --exclude=.pytest_cache -cf - . | tar -C "$work/src" -xf -
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$work/src"
bin="$work/venv/bin"

cd "$work"  # away from the checkout
for module in keras tensorflow onnx tf2onnx export; do
  if "$bin/python" -c "import $module" 2>/dev/null; then echo "check_base_install: $module must not be installed" >&2; exit 1; fi
done
"$bin/ganzoo" list > list.txt
grep -q cgan_fashion_mnist list.txt
"$bin/ganzoo" generate cgan_fashion_mnist -n 20 --seed 3 -o shipped.png
"$bin/python" - <<'PY'
import numpy as np
from PIL import Image

from ganzoo.export import OnnxGenerator
from ganzoo.client.images import grid_array

generator = OnnxGenerator.from_preset("cgan_fashion_mnist")
pixels = generator.generate(20, labels=np.arange(20) % 10, seed=3)
assert pixels.dtype == np.uint8 and pixels.shape == (20, 28, 28, 1), pixels.shape
grid = np.asarray(Image.open("shipped.png"))
assert np.array_equal(grid, grid_array(pixels, nrow=10)[..., 0]), "ganzoo generate differs from OnnxGenerator"
print("base install: OnnxGenerator.from_preset and ganzoo generate agree")
PY

# A preset that only an HTTP mirror has: downloaded, verified and cached without Keras.
mkdir mirror
shipped="$("$bin/python" -c 'from ganzoo.client import hub; print(hub.shipped_dir())')"
cp "$shipped/dcgan_digits.json" mirror/mirror_digits.json
cp "$shipped/dcgan_digits.onnx" mirror/
echo mirror_digits > mirror/index.txt
port="$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin/python" -m http.server "$port" --bind 127.0.0.1 --directory mirror >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do "$bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/index.txt')" 2>/dev/null && break; sleep 0.2; done
GANZOO_HUB_URL="http://127.0.0.1:$port" "$bin/ganzoo" list | grep -q mirror_digits
GANZOO_HUB_URL="http://127.0.0.1:$port" "$bin/ganzoo" generate mirror_digits -n 4 -o mirror.png
test -s mirror.png
cmp "$GANZOO_CACHE/mirror_digits/dcgan_digits.onnx" "$shipped/dcgan_digits.onnx"
kill "$server_pid"; server_pid=""
GANZOO_OFFLINE=1 GANZOO_HUB_URL="http://127.0.0.1:$port" "$bin/ganzoo" generate mirror_digits -n 4 -o offline.png
cmp mirror.png offline.png

# .keras files need a backend extra: one clear line, exit 2.
cp "$shipped/dcgan_digits.keras" g.keras
set +e
"$bin/ganzoo" generate g.keras -o k.png 2> keras_error.txt
status=$?
set -e
[[ "$status" == 2 ]] && grep -q "ganzoo\[tensorflow\]" keras_error.txt && ! grep -q Traceback keras_error.txt
echo "check_base_install: OK ($("$bin/pip" list 2>/dev/null | wc -l) packages in the venv)"
