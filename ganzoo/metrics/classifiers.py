"""Small domain classifiers whose features and predictions score GANs.

Shipped weights live in `ganzoo/metrics/weights/`, next to
`classifiers.json`, which records each file's sha256, its test accuracy
and the command that trained it (`python -m ganzoo.metrics.train_classifiers`).
"""

import json
import os

import keras
from keras import layers

from ganzoo.client.files import sha256_file

CLASSIFIER_DATASETS = ("digits", "fashion_mnist")
FEATURE_LAYER = "features"
PREDICTIONS_LAYER = "predictions"
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
RECORD_FILE = "classifiers.json"

# Architecture per dataset; the shipped weights depend on these values.
CLASSIFIER_CONFIGS = {
    "digits": {
        "image_shape": (16, 16, 1),
        "num_classes": 10,
        "filters": (32, 64),
        "feature_dim": 128,
        "dropout": 0.3,
    },
    "fashion_mnist": {
        "image_shape": (28, 28, 1),
        "num_classes": 10,
        "filters": (32, 64),
        "feature_dim": 128,
        "dropout": 0.3,
    },
}


def build_classifier(image_shape, num_classes=10, *, filters=(32, 64), feature_dim=128, dropout=0.3, name="classifier"):
    """Builds a small CNN classifier with a named feature layer.

    Each entry of `filters` adds a block of two 3x3 convolutions and a 2x2
    max-pool; a strided convolution, a flatten and a dense ReLU layer named
    `"features"` (the embedding used by FD, KD and precision/recall)
    follow, then dropout and a softmax layer named `"predictions"`.

    Args:
        image_shape: `(height, width, channels)` of the inputs, in [-1, 1].
        num_classes: number of output classes.
        filters: filters of each convolution block.
        feature_dim: width of the `"features"` layer.
        dropout: dropout rate between the features and the softmax.
        name: model name.

    Returns:
        A functional `keras.Model` mapping images to class probabilities.

    Raises:
        ValueError: if `image_shape` is not 3 positive ints or is too small
            for the number of pooling steps.

    Example:

    >>> model = build_classifier((16, 16, 1))
    >>> model.get_layer("features").output.shape
    (None, 128)
    """
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or not all(isinstance(s, int) and s > 0 for s in image_shape):
        raise ValueError(
            "Expected `image_shape` to be (height, width, channels) of "
            f"positive ints. Received: image_shape={image_shape}"
        )
    min_side = 2 ** (len(filters) + 1)
    if min(image_shape[:2]) < min_side:
        raise ValueError(
            f"Expected height and width >= {min_side} for {len(filters)} "
            f"pooling blocks. Received: image_shape={image_shape}"
        )
    inputs = keras.Input(shape=image_shape, name="images")
    x = inputs
    for i, block_filters in enumerate(filters):
        x = layers.Conv2D(block_filters, 3, padding="same", activation="relu", name=f"block{i + 1}_conv1")(x)
        x = layers.Conv2D(block_filters, 3, padding="same", activation="relu", name=f"block{i + 1}_conv2")(x)
        x = layers.MaxPooling2D(name=f"block{i + 1}_pool")(x)  # halves H and W
    x = layers.Conv2D(filters[-1], 3, strides=2, padding="same", activation="relu", name="reduce_conv")(
        x
    )  # (batch, 4, 4, 64) for 28x28
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name=PREDICTIONS_LAYER)(x)
    return keras.Model(inputs, outputs, name=name)


def build_dataset_classifier(dataset):
    """Builds the (untrained) classifier architecture used for `dataset`.

    Args:
        dataset: one of `CLASSIFIER_DATASETS`.

    Returns:
        A `keras.Model`, see `build_classifier`.

    Raises:
        ValueError: if `dataset` has no classifier.
    """
    config = CLASSIFIER_CONFIGS[_check_dataset(dataset)]
    return build_classifier(name=f"{dataset}_classifier", **config)


def weights_filename(dataset):
    """Returns the weights file name of a dataset's classifier."""
    return f"{_check_dataset(dataset)}.weights.h5"


def classifier_record(dataset, *, weights_dir=None):
    """Returns the recorded facts about a shipped classifier.

    Args:
        dataset: one of `CLASSIFIER_DATASETS`.
        weights_dir: folder with the weights and `classifiers.json`;
            defaults to `WEIGHTS_DIR`.

    Returns:
        A dict with keys including `"weights"`, `"sha256"`,
        `"test_accuracy"`, `"num_test"` and `"command"`.

    Raises:
        ValueError: if `dataset` has no classifier.
        FileNotFoundError: if no record exists for `dataset`.
    """
    dataset = _check_dataset(dataset)
    path = os.path.join(weights_dir or WEIGHTS_DIR, RECORD_FILE)
    records = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            records = json.load(f)
    if dataset not in records:
        raise FileNotFoundError(
            f"Expected a record for {dataset!r} in {path}. Train it with "
            f"`python -m ganzoo.metrics.train_classifiers --datasets {dataset}`."
            f" Received: dataset={dataset!r}"
        )
    return records[dataset]


def load_classifier(dataset, *, weights_dir=None):
    """Loads a shipped domain classifier, checking its sha256.

    Args:
        dataset: `"digits"` (16x16x1) or `"fashion_mnist"` (28x28x1).
        weights_dir: folder with the weights and `classifiers.json`;
            defaults to `WEIGHTS_DIR` inside the package.

    Returns:
        A `keras.Model` mapping images in [-1, 1] (NHWC) to class
        probabilities, with a `"features"` layer; see `FeatureExtractor`.

    Raises:
        ValueError: if `dataset` has no classifier, or the weights file's
            sha256 differs from the record.
        FileNotFoundError: if the weights or the record are missing.

    Example:

    >>> model = load_classifier("digits")
    >>> model.input_shape
    (None, 16, 16, 1)
    """
    record = classifier_record(dataset, weights_dir=weights_dir)
    path = os.path.join(weights_dir or WEIGHTS_DIR, record["weights"])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Expected the classifier weights at {path}. Received: dataset={dataset!r}")
    digest = sha256_file(path)
    if digest != record["sha256"]:
        raise ValueError(
            f"Expected {path} to have sha256 {record['sha256']} as recorded in {RECORD_FILE}. Received: sha256={digest}"
        )
    model = build_dataset_classifier(dataset)
    model.load_weights(path)
    return model


def _check_dataset(dataset):
    if dataset not in CLASSIFIER_CONFIGS:
        raise ValueError(
            f"Expected a dataset with a shipped classifier, one of "
            f"{', '.join(CLASSIFIER_DATASETS)}. Received: dataset={dataset!r}"
        )
    return dataset
