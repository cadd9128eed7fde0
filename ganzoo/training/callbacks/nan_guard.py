"""`NaNGuard`: stops training on a NaN/Inf metric and restores the last good weights."""

import math
import warnings

import keras
import numpy as np


def first_nonfinite(logs):
    """Returns `(key, value)` of the first NaN/Inf number in `logs`, or None."""
    for key, value in (logs or {}).items():
        if isinstance(value, (int, float, np.number)) and not math.isfinite(float(value)):
            return key, float(value)
    return None


class NaNGuard(keras.callbacks.Callback):
    """Stops training on a NaN/Inf metric and restores the last good weights.

    Every logged value is checked after each train batch and each epoch.
    Snapshots of the generator and discriminator weights and of the
    optimizer state (both optimizers' slots and step counts) are taken at the
    start of training and after every good epoch (`snapshot="epoch"`) or
    every good batch (`snapshot="batch"`, slower). On the first NaN/Inf it
    sets `model.stop_training = True` (Keras stops after that batch), restores
    all of them from the last snapshot (so the saved generator is intact and
    training could resume), warns with a message naming the metric, the
    epoch and the batch (1-based), and records it in `tripped`.

    It keeps no state across runs (a resumed run snapshots at its start),
    so it has no `get_state`/`set_state`.

    Args:
        snapshot: `"epoch"` or `"batch"`.

    Attributes:
        tripped: None, or a dict with `metric`, `value`, `epoch`, `batch`
            (1-based; batch None when found at the end of an epoch),
            `restored_from` and `message`.
    """

    def __init__(self, snapshot="epoch"):
        super().__init__()
        if snapshot not in ("epoch", "batch"):
            raise ValueError(f"Expected snapshot to be 'epoch' or 'batch'. Received: snapshot={snapshot!r}")
        self.snapshot = snapshot
        self.tripped = None
        self._weights = None
        self._taken_at = None
        self._epoch = 0

    def _optimizer_variables(self):
        optimizer = getattr(self.model, "optimizer", None)
        return list(optimizer.variables) if optimizer is not None else []

    def _take(self, where):
        self._weights = (
            self.model.generator.get_weights(),
            self.model.discriminator.get_weights(),
            [np.array(v) for v in self._optimizer_variables()],
        )
        self._taken_at = where

    def _trip(self, metric, value, epoch, batch):
        self.model.stop_training = True
        generator, discriminator, optimizer = self._weights
        self.model.generator.set_weights(generator)
        self.model.discriminator.set_weights(discriminator)
        for variable, saved in zip(self._optimizer_variables(), optimizer):
            variable.assign(saved)
        where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
        message = (
            f"NaNGuard: {metric} is {value} at {where}. Stopped training and restored the generator and "
            f"discriminator weights from {self._taken_at}."
        )
        self.tripped = {
            "metric": metric,
            "value": value,
            "epoch": epoch + 1,
            "batch": None if batch is None else batch + 1,
            "restored_from": self._taken_at,
            "message": message,
        }
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    def on_train_begin(self, logs=None):
        self.tripped = None
        self._take("the start of training")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.tripped is not None:
            return
        bad = first_nonfinite(logs)
        if bad is not None:
            self._trip(*bad, self._epoch, batch)
        elif self.snapshot == "batch":
            self._take(f"the end of epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        if self.tripped is not None:
            return
        bad = first_nonfinite(logs)
        if bad is not None:
            self._trip(*bad, epoch, None)
        else:
            self._take(f"the end of epoch {epoch + 1}")
