"""Data-parallel training matches one device: tf.distribute.MirroredStrategy and keras.distribution.DataParallel.

The runs are made by `tests/distributed_worker.py`, one subprocess per backend with 2 devices (the device count
is fixed when TensorFlow or JAX starts), its one-device runs on the first: one train step on a global batch of 8 (16 with 2 critic steps), then every weight of both networks
is compared with the single-device step on the same batch. The discriminator has no BatchNorm unless said,
so each sample's gradient is independent of the others and the comparison is exact up to summation order.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganzoo.host_threads import pool_threads, split_jax_host

WORKER = Path(__file__).resolve().parent / "distributed_worker.py"
ROOT = WORKER.parents[1]
pytestmark = pytest.mark.slow


# Every run a backend's tests need, made in one worker process the first time one of them asks.
RUNS = {
    "tensorflow": (
        "single,mirrored",
        ["dcgan", "wgan_gp", "syncbn", "fp16", "overflow", "overflow_first", "bn", "noise"],
    ),
    "jax": ("single,dataparallel", ["dcgan", "wgan_gp"]),
}
_done = {}


def step(tmp_path_factory, mode, variant, backend="tensorflow"):
    """The arrays the worker saved for `variant` in `mode` (both networks' weights after one step, or the noise)."""
    if backend not in _done:
        out = tmp_path_factory.mktemp(f"{backend}_steps")
        env = {**without_pool_settings(os.environ), "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
        if backend == "jax":
            split_jax_host(2, env)
        modes, variants = RUNS[backend]
        result = subprocess.run(
            [sys.executable, str(WORKER), modes, str(out), *variants],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=ROOT,
        )
        _done[backend] = (out, result)  # a failed worker fails each test of its backend, without running again
    out, result = _done[backend]
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = np.load(out / f"{mode}_{variant}.npz")
    return [loaded[key] for key in loaded.files]


def max_difference(a, b):
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "syncbn"])
def test_mirrored_strategy_step_equals_one_device(tmp_path_factory, variant):
    """2 replicas on 2 logical CPUs: losses are scaled per replica, noise and penalty weights are the global draw's
    rows, critic batches are the global batch's; `wgan_gp` has 2 critic steps and the penalty."""
    single, mirrored = step(tmp_path_factory, "single", variant), step(tmp_path_factory, "mirrored", variant)
    assert max_difference(single, mirrored) < 1e-6


def test_mirrored_strategy_step_under_mixed_float16(tmp_path_factory):
    """Each optimizer is loss-scaled on each replica; the step agrees up to float16 rounding."""
    assert max_difference(step(tmp_path_factory, "single", "fp16"), step(tmp_path_factory, "mirrored", "fp16")) < 1e-4


@pytest.mark.parametrize("overflowing_replica", [0, 1])
def test_an_overflow_on_one_replica_skips_the_step_everywhere(tmp_path_factory, overflowing_replica):
    """mixed_float16, and only one replica's half of the batch overflows D's float16 layer: as on one device, the
    update is skipped (no inf reaches the weights), whichever replica overflowed."""
    variant = "overflow_first" if overflowing_replica == 0 else "overflow"
    single, mirrored = step(tmp_path_factory, "single", variant), step(tmp_path_factory, "mirrored", variant)
    assert all(np.isfinite(w).all() for w in mirrored)
    assert max_difference(single, mirrored) == 0.0


def test_batch_norm_statistics_are_per_replica(tmp_path_factory):
    """The documented choice: plain BatchNormalization normalizes each replica's shard by its own statistics (as
    the DCGAN reference code does), so the step differs from one device; synchronized=True (tested above) matches."""
    assert max_difference(step(tmp_path_factory, "single", "bn"), step(tmp_path_factory, "mirrored", "bn")) > 1e-4


def test_replicas_draw_distinct_noise_that_one_device_would_draw(tmp_path_factory):
    replica0, replica1 = step(tmp_path_factory, "mirrored", "noise")
    (single,) = step(tmp_path_factory, "single", "noise")
    assert replica0.shape == replica1.shape == (4, 4)
    assert np.min(np.abs(replica0 - replica1)) > 0  # no duplicated fakes
    np.testing.assert_array_equal(np.concatenate([replica0, replica1]), single)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp"])
def test_jax_data_parallel_step_equals_one_device(tmp_path_factory, variant):
    """One SPMD program over 2 host devices: nothing to rescale, the same numbers as one device."""
    single = step(tmp_path_factory, "single", variant, backend="jax")
    parallel = step(tmp_path_factory, "dataparallel", variant, backend="jax")
    assert max_difference(single, parallel) < 1e-6


def test_jit_compile_under_tf_distribute_is_a_clear_error(tmp_path):
    code = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from ganzoo.models import dcgan_discriminator, dcgan_generator
from ganzoo.training.gan import GAN
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    gan = GAN(dcgan_generator((16, 16, 1), 4, filters=4), dcgan_discriminator((16, 16, 1), filters=4), latent_dim=4)
    try:
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), jit_compile=True)
    except ValueError as error:
        print(error)
"""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT
    )
    assert "Expected jit_compile=False" in result.stdout and "JAX backend" in result.stdout, result.stderr[-2000:]


CLI_TINY = [
    "--epochs",
    "1",
    "--latent-dim",
    "8",
    "--filters",
    "8",
    "--batch-size",
    "64",
    "--verbose",
    "0",
    "--fd-every",
    "0",
    "--no-export",
]


def cli(backend, *argv, cwd):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)
    return subprocess.run(
        [sys.executable, "-m", "ganzoo", "train", *argv], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


def generator_weights(run):
    import keras

    return keras.saving.load_model(run / "generator.keras", compile=False).get_weights()


# XLA's own limits are 20 s before a warning and 40 s more before the abort; 3 s and 6 s fail in seconds. (In a
# loaded machine the two parts of a step that does not deadlock arrived well within 1 s of each other.)
FAST_ABORT = (
    " --xla_cpu_collective_call_warn_stuck_timeout_seconds=3 --xla_cpu_collective_call_terminate_timeout_seconds=6"
)


def without_pool_settings(environ):
    """`environ` without the device count and thread pool settings a developer may have exported."""
    return {k: v for k, v in environ.items() if k not in ("XLA_FLAGS", "PJRT_NPROC", "NPROC")}


def dispatch_64_all_reduces(env):
    env = {**env, "XLA_FLAGS": env.get("XLA_FLAGS", "") + FAST_ABORT, "TF_CPP_MIN_LOG_LEVEL": "0"}
    worker = Path(__file__).resolve().parent / "jax_dispatch_worker.py"
    return subprocess.run([sys.executable, str(worker)], capture_output=True, text=True, timeout=300, env=env)


def test_split_jax_host_sets_the_device_count_and_a_thread_pool_with_room_for_every_device():
    env = split_jax_host(3, {"XLA_FLAGS": "--xla_dump_to=/tmp/x"})
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_force_host_platform_device_count=3"
    assert int(env["PJRT_NPROC"]) >= 2 * 3 + 2 and pool_threads(env, 3) == int(env["PJRT_NPROC"])
    for mine in (
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "PJRT_NPROC": "16"},
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "NPROC": "12"},
    ):
        assert split_jax_host(2, dict(mine)) == mine  # the user's values are kept
    # XLA reads PJRT_NPROC, then NPROC, then the cores; the pool has at least a thread per device
    assert pool_threads({"PJRT_NPROC": "3", "NPROC": "9"}) == 3 and pool_threads({"NPROC": "9"}) == 9
    assert pool_threads({"PJRT_NPROC": "2"}, devices=4) == 4
    assert pool_threads({"PJRT_NPROC": "abc"}) == pool_threads({}) == len(os.sched_getaffinity(0))
    assert int(split_jax_host(2, {"PJRT_NPROC": "abc"})["PJRT_NPROC"]) >= 6  # not a value XLA can use


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_all_reduces_dispatched_ahead_finish_on_split_host_devices():
    """A pool as large as the devices (a 2-core machine's) deadlocks and XLA aborts; the split's pool does not."""
    env = without_pool_settings(os.environ)
    two_core = dispatch_64_all_reduces({**split_jax_host(2, dict(env)), "PJRT_NPROC": "2"})
    assert two_core.returncode != 0 and "Termination timeout for `all reduce" in two_core.stderr, two_core.stderr[
        -2000:
    ]
    split = dispatch_64_all_reduces(split_jax_host(2, dict(env)))
    assert split.returncode == 0 and split.stdout.strip() == "done", split.stderr[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
@pytest.mark.parametrize("threads, warns", [("2", True), (None, False)])
def test_data_parallel_on_jax_host_devices_warns_of_a_pool_that_can_deadlock(threads, warns):
    """The Python API, where the user splits the host: a 2-thread pool (a 2-core machine's) is named in a warning."""
    env = split_jax_host(2, without_pool_settings(os.environ))
    if threads:
        env["PJRT_NPROC"] = threads
    code = (
        "import warnings; warnings.filterwarnings('error', message=\"XLA's CPU thread pool\")\n"
        "from ganzoo.training.distribution import data_parallel\n"
        "scope, replicas, close = data_parallel(2); close(); print(replicas)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**env, "KERAS_BACKEND": "jax"}
    )
    if warns:
        assert result.returncode != 0 and "Set PJRT_NPROC=6 or more" in result.stderr, result.stderr[-2000:]
    else:
        assert result.returncode == 0 and result.stdout.split()[-1] == "2", result.stderr[-2000:]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_cli_distribute_on_jax_trains_the_same_generator_as_one_device(tmp_path):
    """A whole epoch of the DCGAN (BatchNorm included: one SPMD program normalizes over the global batch), with the
    generator EMA that ganzoo train saves."""
    for name, extra in (("single", []), ("parallel", ["--distribute", "2"])):
        result = cli(
            "jax", "dcgan", *CLI_TINY, "--ema-decay", "0.9", *extra, "--out", str(tmp_path / name), cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert max_difference(generator_weights(tmp_path / "single"), generator_weights(tmp_path / "parallel")) < 1e-5
    record = __import__("json").loads((tmp_path / "parallel" / "run.json").read_text())
    assert record["settings"]["distribute"] == 2 and "--distribute 2" in record["settings"]["command"]


def test_cli_distribute_on_tensorflow_trains_on_two_host_devices(tmp_path):
    result = cli(
        "tensorflow",
        "wgan_gp",
        *CLI_TINY,
        "--distribute",
        "2",
        "--ema-decay",
        "0.99",
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "generator.keras").is_file()


TINY_ERROR_RUN = ["--epochs", "1", "--latent-dim", "8", "--filters", "8", "--verbose", "0"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--distribute", "0"], "--distribute N with an int N >= 1"),
        (["--distribute", "two"], "--distribute N with an int N >= 1"),
        (["--distribute", "2", "--jit"], "--jit or --distribute, not both"),
    ],
)
def test_cli_distribute_argument_errors_are_clear(tmp_path, monkeypatch, capsys, argv, message):
    """Refused while reading the arguments, before any device is set up: in this process."""
    from ganzoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "dcgan", *TINY_ERROR_RUN, *argv, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "run.json").exists()


@pytest.mark.parametrize(
    "backend, argv, message",
    [
        ("tensorflow", ["--distribute", "2", "--batch-size", "63"], "divisible by the 2 replicas"),
        ("tensorflow", ["--distribute"], "Expected a local GPU for --distribute"),
        ("torch", ["--distribute", "2"], "tensorflow or jax backend for --distribute"),
    ],
)
def test_cli_distribute_errors_are_clear(tmp_path, backend, argv, message):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    result = cli(
        backend,
        "dcgan",
        *TINY_ERROR_RUN,
        *argv,
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr[-3000:]
    assert not (tmp_path / "run" / "run.json").exists()
