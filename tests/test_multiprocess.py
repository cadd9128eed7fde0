"""Two processes on 127.0.0.1 train one GAN together (JAX, keras.distribution.initialize) and agree on its weights.

TensorFlow's `MultiWorkerMirroredStrategy` is not covered: Keras 3.15's `fit` fails under it on two CPU
workers ("destinations can not be empty" inside the distributed step), before any ganzoo code runs its
collectives; see the README.
"""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).resolve().parent / "multiprocess_worker.py"
ROOT = WORKER.parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed"),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_jax_processes_train_one_gan_and_end_with_the_same_weights(tmp_path):
    port = free_port()
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(pid), str(port), str(tmp_path / f"p{pid}.npz")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for pid in (0, 1)
    ]
    try:
        outputs = [process.communicate(timeout=240) for process in processes]
    finally:
        for process in processes:  # never leave a worker waiting for its peer
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    first, second = (np.load(tmp_path / f"p{pid}.npz") for pid in (0, 1))
    finals = sorted(key for key in first.files if key.startswith("final_"))
    assert finals and all(np.array_equal(first[key], second[key]) for key in finals)
    assert np.array_equal(first["d_loss"], second["d_loss"]) and np.isfinite(first["d_loss"]).all()
    assert any(not np.array_equal(first[key], first[key.replace("final", "initial")]) for key in finals)
