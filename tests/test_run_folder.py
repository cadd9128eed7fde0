"""Run folders: a run deletes or replaces only what it wrote; resume finds its own intact checkpoint or refuses.

The runs are tiny (8 filters, latent 8, digits, no FD, no export): an epoch
takes a second or two. `interrupted` is a run stopped by Ctrl-C after its
first checkpoint; each test works on a copy.
"""

import errno
import json
import os
import re
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import pytest

from ganzoo.runs import checkpoint
from ganzoo.runs import run_folder
from ganzoo.cli import main
from ganzoo.training.config import default_config
from ganzoo.runs.run import TrainingInterrupted, resume, train

QUIET = {"verbose": 0, "export_onnx": False, "fd_every": 0}
TINY = ["--latent-dim", "8", "--filters", "8", "--batch-size", "64", "--fd-every", "0", "--no-export", "--verbose", "0"]


def tiny_config(epochs=2, **kwargs):
    return default_config("dcgan", latent_dim=8, filters=8, batch_size=64, epochs=epochs, **kwargs)


class CtrlCAtEpoch(keras.callbacks.Callback):
    """Ctrl-C at the end of (1-based) epoch `epoch`, before that epoch's checkpoint is written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.raises(TrainingInterrupted):
        train(tiny_config(epochs=2), out, callbacks=[CtrlCAtEpoch(2)], **QUIET)
    assert checkpoint.latest(out)[0] == 1
    return out


@pytest.fixture
def run(interrupted, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(interrupted, out)
    return out


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- a run never deletes or replaces a file it did not write (issue 18, items 8-11) --


def test_a_users_files_in_checkpoints_survive_a_run(tmp_path):
    mine = {"my_model.weights.h5": b"\x89HDF my weights", "README.txt": b"my notes", "old_run/w.h5": b"old"}
    for name, data in mine.items():
        (tmp_path / "checkpoints" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "checkpoints" / name).write_bytes(data)
    train(tiny_config(epochs=2), tmp_path, **QUIET)  # epoch 2 replaces the checkpoint of epoch 1; the end removes it
    assert listing(tmp_path / "checkpoints") == ["README.txt", "my_model.weights.h5", "old_run", "old_run/w.h5"]
    for name, data in mine.items():
        assert (tmp_path / "checkpoints" / name).read_bytes() == data
    assert (tmp_path / "generator.keras").is_file()


def test_overwrite_removes_the_old_runs_files_and_nothing_else(run):
    (run / "checkpoints" / "mine.txt").write_text("mine")
    (run / "samples" / "photo.jpg").write_bytes(b"mine")
    (run / "notes.txt").write_text("mine")
    old_samples = sorted(os.listdir(run / "samples"))
    assert "epoch_002.png" in old_samples  # the old run's grid of epoch 2: it recorded it, so it goes
    train(tiny_config(epochs=1), run, overwrite=True, **QUIET)
    assert os.listdir(run / "checkpoints") == ["mine.txt"]
    assert sorted(os.listdir(run / "samples")) == ["epoch_001.png", "photo.jpg"]
    assert (run / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("beside", [[], ["metrics.csv"], ["metrics.csv", "samples/epoch_001.png"]])
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_users_own_files_under_run_names_are_never_replaced(tmp_path, beside, overwrite):
    files = {"config.json": b'{"my": "project settings"}\n'}
    files.update({name: b"mine" for name in beside})
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with pytest.raises(FileExistsError, match="not recorded by a ganzoo run") as caught:
        train(tiny_config(epochs=1), tmp_path, overwrite=overwrite, **QUIET)
    for name in files:
        assert name in str(caught.value)  # every one is named, not only the first
    assert "\n" not in str(caught.value)
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == sorted({name.split("/")[0] for name in files})  # nothing added


def test_a_preset_shaped_config_json_without_a_run_record_is_not_taken_for_a_run(tmp_path):
    preset = json.dumps(tiny_config(epochs=1)).encode()
    (tmp_path / "config.json").write_bytes(preset)
    with pytest.raises(FileExistsError, match="config.json, not recorded by a ganzoo run"):
        train(tiny_config(epochs=1), tmp_path, overwrite=True, **QUIET)
    assert (tmp_path / "config.json").read_bytes() == preset


def test_a_full_disk_ends_in_one_line_and_keeps_run_json_and_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    save_weights = keras.Model.save_weights

    def full_disk_at_epoch_2(self, path, *args, **kwargs):
        if ".epoch_0002." not in str(path):
            return save_weights(self, path, *args, **kwargs)
        with open(path, "wb") as file:
            file.write(b"\x89HDF\r\n\x1a\n half a file")
        raise OSError(errno.ENOSPC, "Can't synchronously write data (file write failed: time = ...\n, errno = 28)")

    monkeypatch.setattr(keras.Model, "save_weights", full_disk_at_epoch_2)
    out = tmp_path / "run"
    code = main(["train", "dcgan", "--epochs", "2", *TINY, "--out", str(out)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(
        f"ganzoo train: error: Expected room on the disk to write {out / 'checkpoints' / 'epoch_0002'}"
    )
    assert f"ganzoo train --resume {out}" in lines[0]
    assert (out / "run.json").is_file()
    assert checkpoint.latest(out) == (1, out / "checkpoints" / "epoch_0001")  # intact: the run resumes from it
    assert sorted(os.listdir(out / "checkpoints")) == ["epoch_0001", "latest.json"]  # the half-written staging is gone
    monkeypatch.setattr(keras.Model, "save_weights", save_weights)  # room again
    assert resume(out, verbose=0)["resumed_from"] == 1


def test_a_checkpoint_the_disk_has_no_room_for_is_not_started(tmp_path, monkeypatch):
    """HDF5 must never meet the full disk: its flush at exit would crash the process (exit 139)."""
    out = tmp_path / "run"
    disk_usage, save_weights, saved = shutil.disk_usage, keras.Model.save_weights, []

    def little_room_after_epoch_1(path):
        usage = disk_usage(path)
        return usage._replace(free=100_000) if (out / "checkpoints" / "epoch_0001").is_dir() else usage

    def spy(self, path, *args, **kwargs):
        saved.append(os.path.basename(os.path.dirname(path)))
        return save_weights(self, path, *args, **kwargs)

    monkeypatch.setattr(shutil, "disk_usage", little_room_after_epoch_1)
    monkeypatch.setattr(keras.Model, "save_weights", spy)
    pattern = r"epoch_0002\. Received: No space left on device: 0\.1 MB free, a checkpoint needs about ([0-9.]+) MB"
    with pytest.raises(run_folder.RunFolderFull, match=pattern) as caught:
        train(tiny_config(epochs=2), out, **QUIET)
    written = sum(item.stat().st_size for item in (out / "checkpoints" / "epoch_0001").iterdir())
    assert float(re.search(pattern, str(caught.value))[1]) * 1e6 >= written  # the next one is as large
    assert len(saved) == 1 and saved[0].startswith(".epoch_0001.")  # no HDF5 file was started for epoch 2
    assert checkpoint.latest(out)[0] == 1 and (out / "run.json").is_file()


# -- resume: the run's own newest intact checkpoint, or a refusal (issue 18, items 12-14) --


@pytest.mark.parametrize(
    "pointer, note",
    [
        (b"{garbage", "latest.json is unreadable"),
        (b'{"epochs_done": 5, "folder": "epoch_0005"}', "names epoch_0005, which is missing"),
    ],
)
def test_a_broken_latest_json_resumes_from_the_newest_intact_checkpoint(run, capsys, pointer, note):
    (run / "checkpoints" / "latest.json").write_bytes(pointer)
    result = resume(run, verbose=0)
    assert result["resumed_from"] == 1  # not a run retrained from epoch 1
    assert [row["epoch"] for row in _metrics(run)] == ["1", "2"]
    err = capsys.readouterr().err
    assert note in err and "resuming from" in err and str(run / "checkpoints" / "epoch_0001") in err


def _metrics(run):
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    "name, data",
    [
        ("state.json", b"{not json"),
        ("model.weights.h5", b"not an HDF5 file at all"),
        ("arrays.npz", b"\x80\x04 a pickle, or garbage"),
        ("arrays.npz", None),  # missing
    ],
)
def test_a_damaged_checkpoint_is_refused_in_one_line_naming_the_file_and_kept(run, name, data):
    damaged = run / "checkpoints" / "epoch_0001" / name
    damaged.unlink() if data is None else damaged.write_bytes(data)
    before = listing(run)
    with pytest.raises(ValueError, match=re.escape(str(damaged))) as caught:
        resume(run, verbose=0)
    message = str(caught.value)
    assert "\n" not in message and "allow_pickle" not in message and "Expected an intact checkpoint" in message
    assert listing(run) == before  # nothing deleted, nothing retrained
    code = main(["train", "--resume", str(run), "--verbose", "0"])
    assert code == 2


def test_latest_json_pointing_into_another_run_is_not_followed(run, tmp_path):
    other = tmp_path / "other_run"
    shutil.copytree(run, other)
    shutil.rmtree(run / "checkpoints" / "epoch_0001")
    (run / "checkpoints" / "latest.json").write_text(
        '{"epochs_done": 1, "folder": "../../other_run/checkpoints/epoch_0001"}'
    )
    with pytest.raises(ValueError, match="not a checkpoint of this run") as caught:
        resume(run, verbose=0)
    assert "latest.json" in str(caught.value) and "\n" not in str(caught.value)
    assert checkpoint.latest(other)[0] == 1  # the other run is untouched
    assert not (run / "generator.keras").exists()


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda record: record["config"]["gan"].update(loss="least_squares"), "gan.loss"),
        (
            lambda record: (
                record["config"]["generator"]["args"].update(filters=16),
                record["config"]["generator"].update(parameters=None),
            ),
            "generator.args.filters",
        ),
        (lambda record: record["config"].update(tiny_config(epochs=2, dataset="fashion_mnist")), "description"),
        (lambda record: record["settings"].update(precision="mixed_bfloat16"), "precision"),
    ],
)
def test_a_run_json_edited_since_the_checkpoint_is_refused_naming_the_key(run, edit, key):
    record = json.loads((run / "run.json").read_text())
    edit(record)
    (run / "run.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"Received: {re.escape(key)}=") as caught:
        resume(run, verbose=0)
    assert "\n" not in str(caught.value) and "in the checkpoint" in str(caught.value)
    assert checkpoint.latest(run)[0] == 1


# -- the lock, and what a run says when it ends (issue 18 unclear; issue 19, items 4 and 7) --


def test_a_second_train_into_a_folder_in_use_names_the_process(tmp_path):
    with run_folder.lock(tmp_path):
        run_folder.record(tmp_path, tiny_config(epochs=2), {})
        (tmp_path / "checkpoints").mkdir()
        (tmp_path / "checkpoints" / "latest.json").write_text('{"epochs_done": 1, "folder": "epoch_0001"}')
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        code = _cli_in_child("train", "dcgan", "--epochs", "1", "--out", str(tmp_path))
        code_resume = _cli_in_child("train", "--resume", str(tmp_path))
    for returncode, err in (code, code_resume):
        assert returncode == 2 and f"in use by process {os.getpid()}" in err and "holds another run" not in err, err
    assert not (tmp_path / ".lock").exists()  # this process created it, so it removed it


def _cli_in_child(*args):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, timeout=300)
    return result.returncode, result.stderr


def test_a_lock_file_that_was_there_before_stays(tmp_path):
    (tmp_path / ".lock").write_text("")  # left by a run of an older ganzoo
    with run_folder.lock(tmp_path):
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    assert (tmp_path / ".lock").read_text() == ""


def test_summary_says_what_this_process_trained_and_the_total(run):
    started = time.perf_counter()
    result = resume(run, verbose=0)
    wall = time.perf_counter() - started
    match = re.fullmatch(
        rf"Trained {re.escape(str(run))} \(dcgan\): epochs 2-2 in ([0-9.]+) s in this process; 2 epochs, ([0-9.]+) s in total\.",
        result["summary"],
    )
    assert match, result["summary"]
    here, total = float(match[1]), float(match[2])
    rows = _metrics(run)
    assert here <= wall + 0.05 and here >= float(rows[1]["epoch_seconds"]) - 0.05
    assert total == pytest.approx(here + float(rows[0]["epoch_seconds"]), abs=0.1)
    assert ".lock" not in os.listdir(run) and not (run / "checkpoints").exists()


def test_summary_of_a_fresh_run_and_no_lock_left(tmp_path):
    result = train(tiny_config(epochs=1), tmp_path / "fresh", **QUIET)
    assert re.fullmatch(
        rf"Trained {re.escape(str(tmp_path / 'fresh'))} \(dcgan\): epochs 1-1 in [0-9.]+ s in this process; "
        r"1 epoch, [0-9.]+ s in total\.",
        result["summary"],
    ), result["summary"]
    assert ".lock" not in os.listdir(tmp_path / "fresh")
    recorded = json.loads((tmp_path / "fresh" / "run.json").read_text())
    assert set(recorded["files"]) >= {"config.json", "samples/epoch_001.png", "checkpoints/epoch_0001"}
