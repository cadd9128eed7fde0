"""Run checkpoints: what `ganzoo train --resume` continues from.

At the end of every epoch `RunCheckpoint` writes `checkpoints/epoch_NNNN/`:

- `model.weights.h5`: G, D, both optimizers' state and the seed states
  (`GAN.save_own_variables`);
- `state.json`: the epoch count and, under `callbacks`, the state of every
  callback with `get_state`/`set_state` (the protocol of
  `ganzoo.training.callbacks`: EMA, FD history and best, the metrics rows,
  the sample grids written so far, a user's own), by callback name;
- `arrays.npz`: the numpy arrays of those states (the EMA generator's
  weights, the best-FD generator's weights), which `state.json` names as
  `{"__ndarray__": key}`;

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

A checkpoint written before the protocol (the callbacks' state under
fixed keys: `ema_skipped_batches`, `fd`, `metrics_rows`, `sample_paths`,
arrays `ema_NNNN` and `fd_best_NNNN`) is read as the same states.

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
from ganzoo.training.callbacks import state as callback_state

# Leftovers of a killed writer: a checkpoint's staging folder, latest.json's temporary file.
_STAGING = re.compile(r"\.epoch_\d{4,}\.\d+\.part|\.latest\.json\.\d+\.[0-9a-f]{8}\.part")


def _arrays(npz, prefix):
    keys = sorted(key for key in npz.files if key.startswith(prefix + "_"))
    return [npz[key] for key in keys] or None


def _stateful(callbacks, ema=None, fd_monitor=None, metrics_log=None, sample_grid=None):
    """The callbacks whose state a checkpoint holds, by name (`ganzoo.training.callbacks.state.stateful`)."""
    return callback_state.stateful([ema, fd_monitor, metrics_log, sample_grid, *callbacks])


def _legacy_states(state, npz, run_dir):
    """The callback states of a checkpoint written before the protocol, which kept them under fixed keys."""
    states = {}
    if _arrays(npz, "ema") is not None:
        states["GeneratorEMA"] = {
            "weights": _arrays(npz, "ema"),
            "skipped_batches": state.get("ema_skipped_batches", 0),
        }
    if "fd" in state:
        states["FrechetDistanceMonitor"] = {**state["fd"], "best_weights": _arrays(npz, "fd_best")}
    states["MetricsLog"] = {"rows": state.get("metrics_rows", [])}
    states["SampleGrid"] = {"paths": [os.path.join(run_dir, path) for path in state.get("sample_paths", [])]}
    return states


class RunCheckpoint(keras.callbacks.Callback):
    """Writes a checkpoint of the run at the end of every epoch (place it after the other callbacks).

    Args:
        run_dir: the run folder.
        callbacks: the run's other callbacks: the state of each one with
            `get_state` and `set_state` is saved (the protocol of
            `ganzoo.training.callbacks`; a user's own callbacks too). Pass
            the same ones to `restore`.
        ema, fd_monitor, metrics_log, sample_grid: ganzoo callbacks whose
            state is saved too (None where absent), as if in `callbacks`.
        nan_guard: the run's `NaNGuard`, or None. No checkpoint is written
            after an epoch in which it tripped.
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
        callbacks=(),
        ema=None,
        fd_monitor=None,
        metrics_log=None,
        sample_grid=None,
        nan_guard=None,
        trained_with=None,
    ):
        super().__init__()
        self.folder = Path(run_dir) / FOLDER
        self.stateful = _stateful(callbacks, ema, fd_monitor, metrics_log, sample_grid)  # name -> callback
        self.nan_guard = nan_guard
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
        state["callbacks"] = {
            name: callback_state.encode(name, callback.get_state(), arrays) for name, callback in self.stateful.items()
        }
        np.savez(staging / "arrays.npz", **arrays)
        (staging / "state.json").write_text(json.dumps(state) + "\n", encoding="utf-8")
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


def restore(path, gan, *, callbacks=(), ema=None, fd_monitor=None, metrics_log=None, sample_grid=None):
    """Loads a checkpoint folder into a compiled `gan` and the callbacks; returns the epochs done.

    Call it before `fit(..., initial_epoch=epochs_done)`. Each callback
    with `get_state` and `set_state` (in `callbacks`, or given by name as
    to `RunCheckpoint`) gets the state saved under its name; one the
    checkpoint holds no state for is left as it is.

    Raises:
        ValueError: a file of the checkpoint cannot be read, does not fit
            the networks, or holds a state a callback refuses (one line
            naming the file).
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
            if "callbacks" in state:
                saved = {name: callback_state.decode(value, npz) for name, value in state["callbacks"].items()}
            else:  # written before the callback state protocol
                saved = _legacy_states(state, npz, path.parent.parent)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as error:
        raise ValueError(f"Expected the arrays of the checkpoint in {arrays}. Received: {first_line(error)}") from None
    for name, callback in _stateful(callbacks, ema, fd_monitor, metrics_log, sample_grid).items():
        if name not in saved:
            continue
        try:
            callback.set_state(saved[name])
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ValueError(
                f"Expected {state_path} to hold a state that callback {name} takes. Received: {first_line(error)}"
            ) from None
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
