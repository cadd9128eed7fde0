"""InceptionV3 pool features (for FID/KID) from `keras.applications`."""

import keras
import numpy as np
from keras import ops

from ganzoo.metrics.features import FeatureExtractor

INCEPTION_SIZE = 299


def inception_preprocess(images):
    """Prepares a batch of images in [-1, 1] for InceptionV3.

    Resizes bilinearly to 299x299, repeats a single grey channel to RGB,
    rescales to [0, 255] and applies
    `keras.applications.inception_v3.preprocess_input`.

    Args:
        images: array of shape `(batch, height, width, 1 or 3)` in [-1, 1].

    Returns:
        A float32 NumPy array of shape `(batch, 299, 299, 3)`.

    Raises:
        ValueError: if `images` does not have 1 or 3 channels.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected images of shape (batch, height, width, 1 or 3). "
            f"Received: images.shape={images.shape}"
        )
    x = ops.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE),
                         interpolation="bilinear")  # (batch, 299, 299, C)
    x = ops.convert_to_numpy(x)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)  # (batch, 299, 299, 3)
    x = (x + 1.0) * 127.5  # [-1, 1] -> [0, 255], what preprocess_input expects
    return keras.applications.inception_v3.preprocess_input(x)


def build_inception_feature_model(weights="imagenet"):
    """Builds InceptionV3 with outputs `[pool features, class probabilities]`.

    Args:
        weights: `"imagenet"` (downloaded by Keras on first use, about
            92 MB, then cached), `None` for random weights (for tests and
            offline plumbing checks: its features are meaningless for
            FID), or a path to a weights file for the full InceptionV3 with
            its 1000-class top.

    Returns:
        A functional `keras.Model` mapping `(batch, 299, 299, 3)`
        preprocessed images to `[(batch, 2048), (batch, 1000)]`: the global
        average pool (`"avg_pool"`) and the softmax (`"predictions"`).
    """
    base = keras.applications.InceptionV3(
        include_top=True, weights=weights, classes=1000,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
    )
    return keras.Model(
        base.inputs, [base.get_layer("avg_pool").output, base.outputs[0]],
        name="inception_v3_features",
    )


def inception_feature_extractor(*, weights="imagenet", batch_size=32):
    """Returns a `FeatureExtractor` of InceptionV3 2048-d pool features.

    This is the embedding of FID and KID. Images in [-1, 1] of any size,
    grey or RGB, pass through `inception_preprocess` batch by batch.

    Note that these are Keras' ImageNet InceptionV3 weights, not the
    TensorFlow-slim graph of the original FID code, so absolute values
    differ slightly from published FIDs; compare models only with each
    other. Offline machines cannot download `"imagenet"`: pass a local
    weights file, or `weights=None` (random weights) to test the plumbing,
    as the test suite does.

    Args:
        weights: see `build_inception_feature_model`.
        batch_size: images per forward pass (299x299 inputs are large).

    Returns:
        A `FeatureExtractor` returning `(features, probabilities)` of shapes
        `(n, 2048)` and `(n, 1000)`.

    Example:

    >>> extractor = inception_feature_extractor(weights=None)
    >>> features, _ = extractor(np.zeros((2, 28, 28, 1), "float32"))
    >>> features.shape
    (2, 2048)
    """
    model = build_inception_feature_model(weights=weights)
    return FeatureExtractor(model, batch_size=batch_size, preprocess=inception_preprocess)
