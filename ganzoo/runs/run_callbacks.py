"""The callbacks of a `ganzoo train` run, in the order `model.fit` calls them."""

import os
import warnings

from ganzoo.runs import checkpoint
from ganzoo.runs.run_settings import trained_with
from ganzoo.training import callbacks as callbacks_module
from ganzoo.training.balance import BalanceMonitor


def fd_available(dataset, image_shape):
    """Whether a shipped classifier measures FD on `dataset` at `image_shape` (so `FrechetDistanceMonitor` runs)."""
    from ganzoo.metrics import classifiers

    if dataset not in classifiers.CLASSIFIER_DATASETS:
        return False
    if tuple(classifiers.CLASSIFIER_CONFIGS[dataset]["image_shape"]) != tuple(image_shape):
        return False
    try:
        classifiers.classifier_record(dataset)
    except (FileNotFoundError, ValueError, KeyError):
        return False
    return True


def _warn_if_ema_too_long(decay, total_steps):
    horizon = 1.0 / (1.0 - decay)
    if total_steps < 3 * horizon:  # the average still holds e^-3 = 5% of the untrained start
        warnings.warn(
            f"ema_decay={decay} averages over about {horizon:.0f} generator steps, but the run "
            f"has {total_steps}: the saved EMA generator keeps {100 * decay**total_steps:.0f}% "
            "of the untrained weights. Use a smaller decay (e.g. 0.99) or more epochs.",
            stacklevel=2,
        )


class RunCallbacks:
    """The callbacks of a run: `NaNGuard`, `BalanceMonitor`, `GeneratorEMA` (when `recipe.ema_decay` is set),
    `FrechetDistanceMonitor` (when a shipped classifier fits the dataset and `fd_every`), `SampleGrid`, then
    the caller's `extra`, then `MetricsLog` (so keys they log reach the CSV), then `RunCheckpoint`.

    Args:
        config: the run's preset dict.
        out_dir: the run folder.
        settings: the run's settings (`ganzoo.runs.run_settings`).
        image_shape: the GAN's image shape.
        steps_per_epoch: generator steps per epoch (to warn of an EMA
            longer than the run).
        extra: the caller's Keras callbacks.

    Attributes:
        guard, ema, fd_monitor, sample_grid, metrics_log, saver: the
            callbacks (`ema` and `fd_monitor` None where absent).
        parts: `RunCheckpoint`/`restore` keywords: the callbacks whose state a checkpoint keeps.
        all: every callback, in order, for `model.fit`.
    """

    def __init__(self, config, out_dir, settings, *, image_shape, steps_per_epoch, extra=()):
        recipe, num_classes = config["recipe"], config["gan"]["num_classes"]
        self.guard = callbacks_module.NaNGuard()
        defaults = [self.guard, BalanceMonitor()]
        self.ema = None
        if recipe["ema_decay"] is not None:
            self.ema = callbacks_module.GeneratorEMA(recipe["ema_decay"])
            defaults.append(self.ema)
            _warn_if_ema_too_long(recipe["ema_decay"], steps_per_epoch * recipe["epochs"])
        self.fd_monitor = None
        if settings["fd_every"] and fd_available(recipe["dataset"], image_shape):
            self.fd_monitor = callbacks_module.FrechetDistanceMonitor(
                recipe["dataset"], every=settings["fd_every"], ema=self.ema
            )
            defaults.append(self.fd_monitor)
        # 64 samples; conditional: 8 full rows of one sample per class.
        self.sample_grid = callbacks_module.SampleGrid(
            os.path.join(out_dir, "samples"), every=1, n=64 if num_classes is None else 8 * num_classes, ema=self.ema
        )
        self.metrics_log = callbacks_module.MetricsLog(
            os.path.join(out_dir, "metrics.csv"), os.path.join(out_dir, "metrics.png")
        )
        # Every callback with get_state()/set_state() resumes, the caller's own included.
        self.parts = {"callbacks": [*defaults, self.sample_grid, *extra, self.metrics_log]}
        self.saver = checkpoint.RunCheckpoint(
            out_dir, nan_guard=self.guard, trained_with=trained_with(config, settings), **self.parts
        )
        self.all = [*defaults, self.sample_grid, *extra, self.metrics_log, self.saver]
