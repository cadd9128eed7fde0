"""Run checkpoints: what `ganzoo train --resume` continues from.

At the end of every epoch `RunCheckpoint` writes `checkpoints/epoch_NNNN/`:

- `model.weights.h5`: G, D, both optimizers' state and the seed states
  (`GAN.save_own_variables`);
- `arrays.npz`: the callbacks' arrays (the EMA generator's weights, the
  best-FD generator's weights);
- `state.json`: the epoch count and the callbacks' other state (FD history
  and best, the metrics rows, the sample grids written so far);

all under a temporary folder name first, then renamed, then
`checkpoints/latest.json` is pointed at it (written atomically) and older
checkpoints are removed. A process killed at any moment leaves
`latest.json` naming a complete checkpoint.

Resuming restores all of that; `ganzoo.data.load_epochs` shuffles epoch
`e` by `(seed, e)` alone, so the resumed run reads the same batches and
draws the same noise as an uninterrupted one, and ends with the same
generator, bit for bit, on the same machine and backend.
"""

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from ganzoo.hub import write_atomic

FOLDER = "checkpoints"
LATEST = "latest.json"


def _weights_arrays(prefix, weights):
    return {f"{prefix}_{index:04d}": np.asarray(weight) for index, weight in enumerate(weights or [])}


def _arrays(npz, prefix):
    keys = sorted(key for key in npz.files if key.startswith(prefix + "_"))
    return [npz[key] for key in keys] or None


class RunCheckpoint(keras.callbacks.Callback):
    """Writes a checkpoint of the run at the end of every epoch (place it after the other callbacks).

    Args:
        run_dir: the run folder.
        ema, fd_monitor, metrics_log, sample_grid, nan_guard: the run's
            ganzoo callbacks whose state is saved (None where absent). No
            checkpoint is written after an epoch in which `nan_guard` tripped.
    """

    def __init__(self, run_dir, *, ema=None, fd_monitor=None, metrics_log=None, sample_grid=None, nan_guard=None):
        super().__init__()
        self.folder = Path(run_dir) / FOLDER
        self.ema, self.fd_monitor, self.metrics_log = ema, fd_monitor, metrics_log
        self.sample_grid, self.nan_guard = sample_grid, nan_guard

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_guard is not None and self.nan_guard.tripped is not None:
            return
        self.write(epoch + 1)

    def write(self, epochs_done):
        """Writes the checkpoint after `epochs_done` epochs and makes it the latest."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epochs_done:04d}"
        staging = self.folder / f".{name}.{os.getpid()}.part"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        self.model.save_weights(staging / "model.weights.h5")
        arrays, state = {}, {"epochs_done": epochs_done}
        if self.ema is not None and self.ema.ema_generator is not None:
            arrays.update(_weights_arrays("ema", self.ema.ema_generator.get_weights()))
            state["ema_skipped_batches"] = self.ema.skipped_batches
        if self.fd_monitor is not None:
            arrays.update(_weights_arrays("fd_best", self.fd_monitor.best_weights))
            state["fd"] = {
                "history": self.fd_monitor.history,
                "best_fd": self.fd_monitor.best_fd,
                "best_epoch": self.fd_monitor.best_epoch,
            }
        if self.metrics_log is not None:
            state["metrics_rows"] = self.metrics_log.rows
        if self.sample_grid is not None:  # relative to the run folder: a resume may run from another directory
            state["sample_paths"] = [os.path.relpath(p, self.folder.parent) for p in self.sample_grid.paths]
        np.savez(staging / "arrays.npz", **arrays)
        (staging / "state.json").write_text(json.dumps(state, default=float) + "\n", encoding="utf-8")
        for item in (*staging.iterdir(), staging):  # on disk before the pointer moves (power loss, not just kill -9)
            _fsync(item)
        target = self.folder / name
        shutil.rmtree(target, ignore_errors=True)  # a checkpoint of this epoch from a run that died later
        os.rename(staging, target)
        write_atomic(self.folder / LATEST, (json.dumps({"epochs_done": epochs_done, "folder": name}) + "\n").encode())
        for old in self.folder.iterdir():  # older checkpoints and any staging left by a killed process
            if old.name not in (name, LATEST):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def _fsync(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def latest(run_dir):
    """Returns `(epochs_done, checkpoint folder)` of the newest complete checkpoint, or None."""
    folder = Path(run_dir) / FOLDER
    try:
        pointer = json.loads((folder / LATEST).read_text(encoding="utf-8"))
        path = folder / pointer["folder"]
        epochs_done = int(pointer["epochs_done"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return (epochs_done, path) if (path / "state.json").is_file() else None


def restore(path, gan, *, ema=None, fd_monitor=None, metrics_log=None, sample_grid=None):
    """Loads a checkpoint folder into a compiled `gan` and the callbacks; returns the epochs done.

    Call it before `fit(..., initial_epoch=epochs_done)`.
    """
    path = Path(path)
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    gan.load_weights(path / "model.weights.h5")
    with np.load(path / "arrays.npz") as npz:
        if ema is not None:
            weights = _arrays(npz, "ema")
            if weights is not None:
                ema.restore(gan.generator, weights, state.get("ema_skipped_batches", 0))
        if fd_monitor is not None and "fd" in state:
            fd_monitor.history = [tuple(item) for item in state["fd"]["history"]]
            fd_monitor.best_fd = state["fd"]["best_fd"]
            fd_monitor.best_epoch = state["fd"]["best_epoch"]
            fd_monitor.best_weights = _arrays(npz, "fd_best")
    if metrics_log is not None:
        metrics_log.rows = list(state.get("metrics_rows", []))
    if sample_grid is not None:
        sample_grid.paths = [os.path.join(path.parent.parent, p) for p in state.get("sample_paths", [])]
    return int(state["epochs_done"])


def remove(run_dir):
    """Removes the checkpoints of a finished run."""
    shutil.rmtree(Path(run_dir) / FOLDER, ignore_errors=True)
