#!/bin/bash
# The GPU throughput benchmark, ready for a lent GPU machine (JAX and PyTorch there, no TensorFlow or Keras).
#
# Prepare here, once (the wheels travel with `carry: [".whl"]`; .whl/ is ignored by git):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     keras==3.15.1 namex optree        (absl-py, h5py, ml-dtypes, rich, packaging: already on the device)
# Then on the device: bash benchmarks/gpu.sh            (writes $OUT/gpu_table.md and .json; under 5 minutes)
# A CPU check of the script here: KERAS_BACKEND=jax python benchmarks/gpu.py --small --out /tmp/gpu_small.md
set -euo pipefail
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
python3 benchmarks/gpu.py --out "${OUT:-.}/gpu_table.md" "$@"
