"""Run checkpoints: what `ganzoo train --resume` continues from.

At the end of every epoch `RunCheckpoint` writes `checkpoints/epoch_NNNN/`:

- `model.weights.h5`: G, D, both optimizers' state and the seed states
  (`GAN.save_own_variables`);
- `arrays.npz`: the callbacks' arrays (the EMA generator's weights, the
  best-FD generator's weights);
- `state.json`: the epoch count and the callbacks' other state (FD history
  and best, the metrics rows, the sample grids written so far);

all under a temporary folder name first, then renamed, then
`checkpoints/latest.json` is pointed at it (written atomically) and the
older checkpoints of the run are removed (only `epoch_NNNN` folders of
earlier epochs: nothing else in `checkpoints/` is touched). A process
killed at any moment leaves a complete checkpoint. `state.json` also
records what the run was trained with (the config and the precision), so
that a resume with an edited `run.json` is refused, naming the key.

`find` resolves the checkpoint to resume from inside the run's own
`checkpoints/` only: the newest `epoch_NNNN` folder that passes a check of
its three files. `latest.json` is a hint; if it is unreadable, names
another folder or a missing one, the newest intact checkpoint is used (and
said). A run whose checkpoints are all damaged is refused, naming the file.
A full disk while writing ends in one line naming the checkpoint; the
previous checkpoint stays.

Resuming restores all of that; `ganzoo.data.load_epochs` shuffles epoch
`e` by `(seed, e)` alone, so the resumed run reads the same batches and
draws the same noise as an uninterrupted one, and ends with the same
generator, bit for bit, on the same machine and backend.
"""

import errno
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np

from ganzoo.runs.checkpoint_check import FOLDER, LATEST, NAME, first_line
from ganzoo.runs.checkpoint_check import check_trained_with, find, latest, started  # noqa: F401 - this module's API
from ganzoo.client.files import write_atomic
from ganzoo.runs.run_folder import write_failed

# Leftovers of a killed writer: a checkpoint's staging folder, latest.json's temporary file.
_STAGING = re.compile(r"\.epoch_\d{4,}\.\d+\.part|\.latest\.json\.\d+\.[0-9a-f]{8}\.part")


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
        trained_with: what the run trains with (a JSON-able dict: the config
            and the precision), recorded so that `check_trained_with` can
            refuse a resume under other settings.

    Raises:
        ganzoo.runs.run_folder.RunFolderFull: the disk is full (one line naming
            the checkpoint; the previous one stays).
    """

    def __init__(
        self,
        run_dir,
        *,
        ema=None,
        fd_monitor=None,
        metrics_log=None,
        sample_grid=None,
        nan_guard=None,
        trained_with=None,
    ):
        super().__init__()
        self.folder = Path(run_dir) / FOLDER
        self.ema, self.fd_monitor, self.metrics_log = ema, fd_monitor, metrics_log
        self.sample_grid, self.nan_guard = sample_grid, nan_guard
        self.trained_with = None if trained_with is None else json.loads(json.dumps(trained_with))
        self._last_bytes = None  # the size of the last checkpoint written: the next one has the same

    def _check_room(self, target):
        """Refuses to start a checkpoint the disk has no room for.

        HDF5 must not meet a full disk: the file stays open with unwritten
        data, and its flush at exit crashes the interpreter (exit 139).
        """
        if self._last_bytes is not None:
            need = self._last_bytes + self._last_bytes // 8 + (64 << 10)
        else:  # measured: the weights file is 2-3 times the variables (optimizer slots, metadata)
            variables = {id(v): v for v in [*self.model.variables, *self.model.optimizer.variables]}
            generator = getattr(self.model, "generator", None)  # EMA and best-FD copies of it go into arrays.npz
            extra = 0 if generator is None else 2 * _nbytes(generator.weights)
            need = 3 * _nbytes(variables.values()) + extra + (512 << 10)
        free = shutil.disk_usage(self.folder).free
        if free < need:
            raise write_failed(
                OSError(errno.ENOSPC, "no room"),
                target,
                self.folder.parent,
                detail=f"{free / 1e6:.1f} MB free, a checkpoint needs about {need / 1e6:.1f} MB",
            )

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_guard is not None and self.nan_guard.tripped is not None:
            return
        self.write(epoch + 1)

    def write(self, epochs_done):
        """Writes the checkpoint after `epochs_done` epochs and makes it the latest."""
        name = f"epoch_{epochs_done:04d}"
        staging = self.folder / f".{name}.{os.getpid()}.part"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            self._check_room(self.folder / name)
            staging.mkdir()
            self._write_files(staging, epochs_done)
            self._last_bytes = sum(item.stat().st_size for item in staging.iterdir())
            target = self.folder / name
            shutil.rmtree(target, ignore_errors=True)  # a checkpoint of this epoch from a run that died later
            os.rename(staging, target)
            pointer = json.dumps({"epochs_done": epochs_done, "folder": name}) + "\n"
            write_atomic(self.folder / LATEST, pointer.encode())
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)  # frees the space a full disk needs
            raise write_failed(error, self.folder / name, self.folder.parent) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for old in self.folder.iterdir():  # this run's older checkpoints, and staging left by a killed process
            match = NAME.fullmatch(old.name)
            if (match and int(match[1]) < epochs_done) or _STAGING.fullmatch(old.name):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)

    def _write_files(self, staging, epochs_done):
        weights = staging / "model.weights.h5"
        try:
            self.model.save_weights(weights)
        except BaseException:
            _release_h5(weights)
            raise
        arrays, state = {}, {"epochs_done": epochs_done}
        if self.trained_with is not None:
            state["trained_with"] = self.trained_with
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


def _nbytes(variables):
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


def _release_h5(path):
    """Lets HDF5 close a weights file whose write failed (a full disk).

    HDF5 keeps the file open with unwritten data; its flush at exit fails
    again and may crash the interpreter (exit 139). Truncating the file
    frees the space that flush needs; the file is removed with its staging
    folder. `_check_room` makes this the rare case (a disk filled by
    another process meanwhile, a quota).
    """
    import h5py  # a dependency of Keras

    try:
        os.truncate(path, 0)
    except OSError:
        return
    for handle in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        try:
            if os.path.samefile(os.fsdecode(handle.name), path):
                handle.close()
        except Exception:  # noqa: BLE001 - best effort: the truncation already freed the space
            pass


def _fsync(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def restore(path, gan, *, ema=None, fd_monitor=None, metrics_log=None, sample_grid=None):
    """Loads a checkpoint folder into a compiled `gan` and the callbacks; returns the epochs done.

    Call it before `fit(..., initial_epoch=epochs_done)`.

    Raises:
        ValueError: a file of the checkpoint cannot be read or does not fit
            the networks (one line naming the file).
    """
    path = Path(path)
    state_path, weights, arrays = path / "state.json", path / "model.weights.h5", path / "arrays.npz"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        epochs_done = int(state["epochs_done"])
    except (OSError, ValueError, RecursionError, KeyError, TypeError) as error:
        raise ValueError(f"Expected a checkpoint state in {state_path}. Received: {first_line(error)}") from None
    try:
        gan.load_weights(weights)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise ValueError(
            f"Expected {weights} to hold this run's networks and optimizers. Received: {first_line(error)}"
        ) from None
    try:
        with np.load(arrays, allow_pickle=False) as npz:
            if ema is not None:
                weights_ema = _arrays(npz, "ema")
                if weights_ema is not None:
                    ema.restore(gan.generator, weights_ema, state.get("ema_skipped_batches", 0))
            if fd_monitor is not None and "fd" in state:
                fd_monitor.history = [tuple(item) for item in state["fd"]["history"]]
                fd_monitor.best_fd = state["fd"]["best_fd"]
                fd_monitor.best_epoch = state["fd"]["best_epoch"]
                fd_monitor.best_weights = _arrays(npz, "fd_best")
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(f"Expected the arrays of the checkpoint in {arrays}. Received: {first_line(error)}") from None
    if metrics_log is not None:
        metrics_log.rows = list(state.get("metrics_rows", []))
    if sample_grid is not None:
        sample_grid.paths = [os.path.join(path.parent.parent, p) for p in state.get("sample_paths", [])]
    return epochs_done


def remove(run_dir, *, keep_folder=False):
    """Removes the checkpoints of a finished run: its `epoch_NNNN` folders, `latest.json` and staging leftovers.

    Anything else in `checkpoints/` stays, and so does the folder then (or
    when `keep_folder`: the run did not create it).
    """
    folder = Path(run_dir) / FOLDER
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if NAME.fullmatch(item.name) or _STAGING.fullmatch(item.name) or item.name == LATEST:
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink(missing_ok=True)
    if not keep_folder and not any(folder.iterdir()):
        folder.rmdir()
