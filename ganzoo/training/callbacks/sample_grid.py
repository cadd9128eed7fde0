"""`SampleGrid`: a PNG grid of samples from fixed noise every N epochs; what sampling callbacks share."""

import os
import warnings

import keras
import numpy as np

from ganzoo.client.images import save_grid
from ganzoo.models.describe import describe_generator
from ganzoo.training.sampling import generate_images


def check_every(every):
    """Raises unless `every` (epochs between two runs of a callback) is a positive int."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"Expected every to be a positive int. Received: every={every!r}")


def sampling_generator(model, ema):
    """The generator to sample: the averaged one of the `GeneratorEMA` `ema` once it has one, else the model's."""
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

    Attributes:
        paths: the grids written so far (a resumed run gets them back
            through `get_state`/`set_state`).

    Example:
        >>> gan.fit(ds, epochs=5, callbacks=[SampleGrid("run/samples")])
    """

    def __init__(self, out_dir, every=1, n=64, seed=0, ema=None):
        super().__init__()
        check_every(every)
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

    def get_state(self):
        """The grids written so far: `{"paths": [...]}`, relative to `out_dir` (a resumed run may run elsewhere)."""
        return {"paths": [os.path.relpath(path, self.out_dir) for path in self.paths]}

    def set_state(self, state):
        """Continues from a `get_state()` dict: its paths, joined to `out_dir` (absolute ones stay as they are)."""
        self.paths = [os.path.join(self.out_dir, path) for path in state["paths"]]

    def save(self, epoch):
        """Writes the grid for (0-based) `epoch` and returns its path (None, with a warning, for NaN samples)."""
        generator = sampling_generator(self.model, self.ema)
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
