"""Resume and run folders: kill -9, Ctrl-C and SIGTERM, then `--resume`; locks, refusals, atomic files.

The reference is an uninterrupted run of the same command: a resumed run
must end with the same generator, bit for bit (same machine, same backend).
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.runs import checkpoint  # noqa: E402
from ganzoo.runs import run_folder
from helpers import adam, tiny_gan  # noqa: E402

# A tiny DCGAN on digits with an EMA and FD every epoch: every piece of state a resume must restore.
ARGS = [
    "dcgan",
    "--epochs",
    "3",
    "--filters",
    "8",
    "--latent-dim",
    "8",
    "--ema-decay",
    "0.9",
    "--fd-every",
    "1",
    "--no-export",
    "--verbose",
    "0",
]


def _default_sigint():
    # A shell that starts pytest in the background (`cmd &` without job control) makes its children ignore
    # SIGINT, and Python then keeps ignoring it; the run under test must get Ctrl-C as a terminal gives it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
        **kwargs,
    )


def run_cli(*args):
    process = cli(*args)
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def wait_for_checkpoint(run_dir, epochs_done, process, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = checkpoint.latest(run_dir)
        if found is not None and found[0] >= epochs_done:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint of epoch {epochs_done} in {run_dir}")


def weights(path):
    return keras.saving.load_model(path, compile=False).get_weights()


def assert_same_run(reference, resumed):
    for name in ("generator.keras", "generator_best.keras"):
        for a, b in zip(weights(reference / name), weights(resumed / name), strict=True):
            np.testing.assert_array_equal(a, b)  # bit for bit
    with open(reference / "metrics.csv") as a, open(resumed / "metrics.csv") as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["epoch"] for r in rows_b] == ["1", "2", "3"]
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        assert {k: v for k, v in row_a.items() if k != "epoch_seconds"} == {
            k: v for k, v in row_b.items() if k != "epoch_seconds"
        }
    assert sorted(os.listdir(resumed / "samples")) == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    assert not (resumed / "checkpoints").exists()  # a finished run keeps nothing to resume
    # The recorded training time covers every epoch, those before the interruption included.
    seconds = json.loads((resumed / "config.json").read_text())["training"]["seconds"]
    assert seconds >= sum(float(row["epoch_seconds"]) for row in rows_b) - 0.01


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    code, _, err = run_cli(*ARGS, "--out", str(out))
    assert code == 0, err
    return out


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_ends_with_the_same_generator(reference, tmp_path):
    out = tmp_path / "run"
    process = cli(*ARGS, "--out", str(out))
    wait_for_checkpoint(out, 1, process)
    time.sleep(0.5)  # into epoch 2 (an epoch of this run takes 1-3 s)
    process.kill()  # SIGKILL: no handler runs
    process.communicate()
    assert (out / "run.json").is_file() and not (out / "generator.keras").exists()
    code, out_text, err = run_cli("--resume", str(out), "--verbose", "1")
    assert code == 0, err
    assert re.search(rf"resuming {re.escape(str(out))} after epoch [12] of 3", out_text), out_text
    # The summary names the folder and says what this process trained, and the total.
    assert re.search(
        rf"Trained {re.escape(str(out))} \(dcgan\): epochs [23]-3 in [0-9.]+ s in this process; "
        r"3 epochs, [0-9.]+ s in total\.",
        out_text,
    ), out_text
    assert_same_run(reference, out)


@pytest.mark.slow
def test_sigterm_and_ctrl_c_exit_with_one_line_and_the_run_resumes_twice(reference, tmp_path):
    out = tmp_path / "run"
    process = cli(*ARGS, "--out", str(out))
    for signum, epochs_done in ((signal.SIGTERM, 1), (signal.SIGINT, 2)):
        wait_for_checkpoint(out, epochs_done, process)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        lines = [line for line in err.splitlines() if line.startswith("ganzoo train")]
        assert len(lines) == 1 and f"--resume {out}" in lines[0] and "Traceback" not in err, err
        process = cli("--resume", str(out))  # the second signal hits the resumed run
    process.communicate(timeout=600)
    assert process.returncode == 0
    assert_same_run(reference, out)


def test_resume_refuses_a_finished_run_and_a_failed_start_leaves_no_run(reference, tmp_path):
    code, _, err = run_cli("--resume", str(reference))
    assert code == 2 and "whose run finished" in err, err
    from ganzoo.training.config import default_config
    from ganzoo.runs.run import train

    config = default_config("dcgan", epochs=1, latent_dim=4, filters=4)
    config["recipe"]["image_size"] = 28  # the networks are 16x16: fails before the first epoch
    with pytest.raises(ValueError, match="recipe.image_size"):
        train(config, tmp_path, verbose=0, export_onnx=False, fd_every=0)
    assert run_folder.existing_artefacts(tmp_path) == []  # so the corrected run may use the folder


def test_overwrite_removes_only_what_a_run_recorded(tmp_path):
    from ganzoo.training.config import default_config

    run_folder.record(tmp_path, default_config("dcgan", epochs=2), {})  # an old run of 2 epochs
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "model.pt").write_text("someone else's")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "epoch_001.png").write_bytes(b"grid")
    (tmp_path / "samples" / ".epoch_002.png.123.0a1b2c3d.part").write_bytes(b"half a grid")  # a killed write
    (tmp_path / "samples" / "photo.jpg").write_bytes(b"mine")
    assert run_folder.existing_artefacts(tmp_path) == ["run.json", "samples/epoch_001.png"]
    run_folder.claim(tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["checkpoints", "model.pt", "photo.jpg", "samples"]
    # Without the record, the same grid is someone else's file: refused, --overwrite or not.
    (tmp_path / "samples" / "epoch_001.png").write_bytes(b"grid")
    with pytest.raises(FileExistsError, match="samples/epoch_001.png, not recorded by a ganzoo run"):
        run_folder.claim(tmp_path, overwrite=True)
    assert (tmp_path / "samples" / "epoch_001.png").read_bytes() == b"grid"


def test_a_second_run_into_a_busy_folder_fails_at_once(tmp_path):
    with run_folder.lock(tmp_path):
        start = time.monotonic()
        code, _, err = run_cli("dcgan", "--epochs", "1", "--out", str(tmp_path))
    assert code == 2 and f"in use by process {os.getpid()}" in err and "Traceback" not in err, err
    assert time.monotonic() - start < 60
    assert not (tmp_path / "run.json").exists()


def test_another_run_is_refused_and_overwrite_leaves_nothing_of_it(tmp_path):
    from ganzoo.training.config import default_config
    from ganzoo.runs.run import train

    run_folder.record(tmp_path, default_config("dcgan", epochs=9), {})  # a finished run of 9 epochs
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "epoch_009.png").write_bytes(b"old grid")
    (tmp_path / "generator.keras").write_bytes(b"old generator")
    (tmp_path / "notes.txt").write_text("mine")
    config = default_config("dcgan", epochs=1, latent_dim=4, filters=4)
    with pytest.raises(FileExistsError, match="Replace it with --overwrite"):  # finished: no --resume hint
        train(config, tmp_path, verbose=0, export_onnx=False, fd_every=0)
    assert (tmp_path / "generator.keras").read_bytes() == b"old generator"  # untouched
    train(config, tmp_path, verbose=0, export_onnx=False, fd_every=0, overwrite=True)
    assert sorted(os.listdir(tmp_path / "samples")) == ["epoch_001.png"]
    assert (tmp_path / "generator.keras").read_bytes() != b"old generator"
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not a run file: kept


@pytest.mark.parametrize(
    "args, message",
    [
        (["--resume", "RUN", "--epochs", "5"], "Expected --resume RUN_DIR alone"),
        (["--resume", "RUN", "--augment", "cutout", "--r1-weight", "1"], "Received: --augment, --r1-weight"),
        (["--resume", "EMPTY"], "Expected a run folder written by `ganzoo train`"),
        (["RUN"], "Train again from a run's preset with `ganzoo train"),
        (["dcgan", "--out", ""], "Expected --out to be a folder path"),
    ],
)
def test_resume_argument_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"config": {}, "settings": {}}))
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "run") if a == "RUN" else str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    code, _, err = run_cli(*args)
    assert code == 2 and message in err and "Traceback" not in err, err


def test_a_failed_save_leaves_no_file_under_the_final_name(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    def full_disk(self, path, *args, **kwargs):
        with open(path, "wb") as file:
            file.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_folder.save_model(model, tmp_path / "generator.keras")
    assert os.listdir(tmp_path) == []  # neither a truncated file nor the temporary one


def dropout_critic():
    """A user's own discriminator, plain Keras, with a Dropout layer: its SeedGenerator must travel too."""
    image = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(image)
    x = keras.layers.Dropout(0.3)(keras.layers.LeakyReLU(0.2)(x))
    return keras.Model(image, keras.layers.Dense(1, name="logit")(keras.layers.Flatten()(x)))


@pytest.mark.parametrize("networks", ["ganzoo", "own with dropout"])
def test_backup_and_restore_resumes_exactly_with_the_noise_state(tmp_path, networks):
    """keras.callbacks.BackupAndRestore with a ganzoo GAN: the seed states travel in the weights file."""
    x = np.random.default_rng(0).uniform(-1, 1, (32, 16, 16, 1)).astype("float32")

    def make():
        keras.utils.set_random_seed(0)
        discriminator = dropout_critic() if networks != "ganzoo" else None
        gan = tiny_gan("dcgan", seed=1, discriminator=discriminator)
        gan.compile(adam(), adam())
        return gan

    reference = make()
    reference.fit(x, batch_size=8, epochs=3, shuffle=False, verbose=0)

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated crash after epoch 2")

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="simulated"):
        make().fit(x, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[backup, Crash()])
    resumed = make()
    resumed.fit(x, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[backup])
    for a, b in zip(reference.generator.get_weights(), resumed.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(reference.seed_generator.state.numpy(), resumed.seed_generator.state.numpy())
