"""Batched feature and class-probability extraction for GAN metrics."""

import keras
import numpy as np

from ganzoo.metrics.classifiers import FEATURE_LAYER
from ganzoo.metrics.classifiers import load_classifier

# Images may overshoot [-1, 1] by float rounding (e.g. a resize); anything
# beyond this is a scaling mistake such as [0, 255] input.
_RANGE_TOLERANCE = 1e-3


class FeatureExtractor:
    """Embeds images in batches, returning features and class probabilities.

    Wraps a model with two outputs, `(features, probabilities)`. Use
    `FeatureExtractor.from_classifier` for a classifier with a named
    feature layer and `classifier_feature_extractor` for the shipped domain
    classifiers. `inception_feature_extractor` (the standard FID network,
    in onnxruntime) is called the same way and returns `(features, None)`.

    Args:
        model: a `keras.Model` mapping a batch of (preprocessed) images to
            `[features, probabilities]`.
        batch_size: images per forward pass.
        preprocess: optional callable applied to each batch of images in
            [-1, 1] before the model (e.g. resizing for Inception). Without
            it, the images must match the model's input shape exactly; they
            are never resized silently.

    Example:

    >>> extractor = classifier_feature_extractor("digits")
    >>> images, _ = ganzoo.data.load_arrays("digits", split="test")
    >>> features, probabilities = extractor(images)
    >>> features.shape, probabilities.shape
    ((360, 128), (360, 10))
    """

    def __init__(self, model, *, batch_size=256, preprocess=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Expected `batch_size` to be a positive int. Received: batch_size={batch_size!r}")
        if preprocess is not None and not callable(preprocess):
            raise TypeError(f"Expected `preprocess` to be None or callable. Received: preprocess={preprocess!r}")
        if len(model.outputs) != 2:
            raise ValueError(
                "Expected `model` to have two outputs, [features, "
                f"probabilities]. Received: {len(model.outputs)} outputs"
            )
        self.model = model
        self.batch_size = batch_size
        self.preprocess = preprocess

    @classmethod
    def from_classifier(cls, classifier, *, feature_layer=FEATURE_LAYER, **kwargs):
        """Builds an extractor from a classifier with a named feature layer.

        Args:
            classifier: a functional `keras.Model` whose output is the class
                probabilities.
            feature_layer: name of the layer whose output is the features.
            **kwargs: passed to `FeatureExtractor`.

        Returns:
            A `FeatureExtractor`.
        """
        model = keras.Model(
            classifier.inputs,
            [classifier.get_layer(feature_layer).output, classifier.outputs[0]],
            name=f"{classifier.name}_features",
        )
        return cls(model, **kwargs)

    def __call__(self, images, *, verbose=False):
        """Returns `(features, probabilities)` for images in [-1, 1].

        Args:
            images: array-like of shape `(num_images, height, width,
                channels)` with values in [-1, 1].
            verbose: show a `keras.utils.Progbar` over the images.

        Returns:
            A tuple of float32 NumPy arrays, `(features, probabilities)`, of
            shapes `(num_images, feature_dim)` and `(num_images,
            num_classes)`.

        Raises:
            ValueError: if `images` is not a non-empty 4-D array in [-1, 1]
                or (without `preprocess`) its shape does not match the
                model's input shape.
        """
        images = self._check_images(images)
        progbar = keras.utils.Progbar(len(images), unit_name="image") if verbose else None
        features, probabilities = [], []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            if self.preprocess is not None:
                batch = self.preprocess(batch)
            batch_features, batch_probabilities = self.model.predict_on_batch(batch)
            features.append(np.asarray(batch_features, dtype=np.float32))
            probabilities.append(np.asarray(batch_probabilities, dtype=np.float32))
            if progbar is not None:
                progbar.update(start + len(batch))
        return np.concatenate(features), np.concatenate(probabilities)

    def _check_images(self, images):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[0] == 0:
            raise ValueError(
                "Expected `images` of shape (num_images, height, width, "
                f"channels). Received: images.shape={images.shape}"
            )
        expected = tuple(self.model.input_shape[1:])
        if self.preprocess is None and any(e is not None and e != s for e, s in zip(expected, images.shape[1:])):
            raise ValueError(
                f"Expected images of shape (num_images, {', '.join(map(str, expected))}) "
                f"for this model. Received: images.shape={images.shape}"
            )
        low, high = float(np.min(images)), float(np.max(images))
        if not (np.isfinite(low) and np.isfinite(high)) or low < -1 - _RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
            raise ValueError(
                f"Expected `images` scaled to [-1, 1]. Received: images with min={low:.4g}, max={high:.4g}"
            )
        return images


def classifier_feature_extractor(dataset, *, batch_size=256, weights_dir=None):
    """Returns a `FeatureExtractor` for a shipped domain classifier.

    Args:
        dataset: `"digits"` or `"fashion_mnist"`.
        batch_size: images per forward pass.
        weights_dir: see `load_classifier`.

    Returns:
        A `FeatureExtractor` whose features are the classifier's 128-d
        `"features"` layer and whose probabilities are its softmax.

    Example:

    >>> extractor = classifier_feature_extractor("fashion_mnist")
    >>> features, probabilities = extractor(images, verbose=True)
    """
    classifier = load_classifier(dataset, weights_dir=weights_dir)
    return FeatureExtractor.from_classifier(classifier, batch_size=batch_size)
