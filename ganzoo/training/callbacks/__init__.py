"""Training callbacks for a `ganzoo.GAN` under plain `model.fit`.

- `SampleGrid`: a PNG grid from fixed noise (and labels) every N epochs.
- `MetricsLog`: all logged metrics per epoch as CSV, plus a plot.
- `GeneratorEMA`: an exponential moving average of the generator weights.
- `NaNGuard`: stops on a NaN/Inf metric and restores the last good weights.
- `FrechetDistanceMonitor`: FD to held-out real images, logged as `fd`.

Callbacks that sample (`SampleGrid`, `FrechetDistanceMonitor`) take
`ema=` a `GeneratorEMA` to sample from its averaged generator instead.

Callback state (what a resumed run continues from):
    A callback that keeps state across epochs has two public methods.
    `get_state()` returns a dict of JSON values (str, int, float, bool,
    None, lists and dicts with str keys) and numpy arrays, anywhere inside
    it (a list of weight arrays, say); the key `"__ndarray__"` is reserved.
    `set_state(state)` takes such a dict, as it comes back from a
    checkpoint (tuples as lists, arrays as numpy arrays), and continues
    from it; it is called before `fit`, when `self.model` is not set yet.
    `ganzoo.runs.checkpoint.RunCheckpoint` saves the state of each of its
    callbacks that has both methods (duck typing: a user's own
    `keras.callbacks.Callback` too) at the end of every epoch, and
    `ganzoo.runs.checkpoint.restore` gives it back to the callbacks of the
    resumed run, matched by class name (and order, among callbacks of one
    class). `SampleGrid`, `MetricsLog`, `GeneratorEMA` and
    `FrechetDistanceMonitor` follow it; `NaNGuard` keeps nothing across
    runs (it snapshots at the start of training).

Example:
    >>> class BatchCounter(keras.callbacks.Callback):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.batches = 0
    ...     def on_train_batch_end(self, batch, logs=None):
    ...         self.batches += 1
    ...     def get_state(self):
    ...         return {"batches": self.batches}
    ...     def set_state(self, state):
    ...         self.batches = state["batches"]
"""

try:  # the base install has no Keras: say which extra brings it
    import keras  # noqa: F401 - imported here first, so that the message names this package
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.callbacks", error) from None

from ganzoo.training.callbacks.ema import GeneratorEMA
from ganzoo.training.callbacks.frechet_monitor import FrechetDistanceMonitor
from ganzoo.training.callbacks.metrics_log import METRIC_ORDER, MetricsLog
from ganzoo.training.callbacks.nan_guard import NaNGuard
from ganzoo.training.callbacks.sample_grid import SampleGrid

__all__ = ["METRIC_ORDER", "FrechetDistanceMonitor", "GeneratorEMA", "MetricsLog", "NaNGuard", "SampleGrid"]
