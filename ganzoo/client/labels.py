"""Class labels of a conditional generator: checks and the default cycle, numpy only.

One set of rules for every place labels enter: `ganzoo.generate_images` (Keras),
`OnnxGenerator` (onnxruntime), the HTTP service's `label` query and the data
checks of `GAN.fit`. A label is an int class id in `[0, num_classes)`;
an unconditional generator (`num_classes=None`) takes none.

Example:
    >>> check_labels(3, 4, num_classes=10)  # every sample of class 3
    array([3, 3, 3, 3], dtype=int32)
    >>> cycled_labels(5, num_classes=3)  # the default of a conditional generator
    array([0, 1, 2, 0, 1], dtype=int32)
"""

import numpy as np


def cycle(ids, n):
    """Repeats `ids` in order until there are `n` of them, as int32: `cycle([4, 7], 5)` is 4, 7, 4, 7, 4."""
    return np.resize(np.asarray(ids, dtype=np.int32), n)


def cycled_labels(n, num_classes):
    """The default labels of `n` samples: 0, 1, ..., num_classes - 1, 0, 1, ... (one class per grid column)."""
    return cycle(np.arange(num_classes), n)


def out_of_range(labels, num_classes):
    """Returns True if any of the int `labels` lies outside `[0, num_classes)` (False for none)."""
    values = np.asarray(labels)
    return bool(values.size) and bool(values.min() < 0 or values.max() >= num_classes)


def check_range(labels, num_classes, *, say_why=False):
    """Raises if any of the int `labels` lies outside `[0, num_classes)`, naming their min and max.

    Args:
        labels: array-like of ints (any shape; empty passes).
        num_classes: the class count.
        say_why: add "because num_classes=..." (the wording of the `fit` data checks).

    Raises:
        ValueError: "Expected labels in [0, num_classes). Received: labels with min ... and max ...".
    """
    values = np.asarray(labels)
    if out_of_range(values, num_classes):
        why = f" because num_classes={num_classes}" if say_why else ""
        raise ValueError(
            f"Expected labels in [0, {num_classes}){why}. Received: labels with min {values.min()} "
            f"and max {values.max()}"
        )


def check_labels(labels, n, num_classes):
    """Validates `labels` for `n` samples of a generator with `num_classes`.

    Args:
        labels: None, an int (every sample of that class), or a sequence of
            `n` ints in `[0, num_classes)`. Bools and floats are refused,
            never truncated.
        n: number of samples.
        num_classes: the generator's class count, or None if unconditional.

    Returns:
        An int32 array `(n,)`, or None for an unconditional generator.

    Raises:
        ValueError: labels given to an unconditional generator, missing for
            a conditional one, not ints, of the wrong length, or out of range.
    """
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"Expected labels=None for an unconditional generator. Received: labels={labels!r}")
        return None
    if labels is None:
        raise ValueError(
            f"Expected labels (an int or {n} ints in [0, {num_classes})) for a conditional generator "
            f"with num_classes={num_classes}. Received: labels=None"
        )
    array = np.asarray(labels)
    if array.ndim == 0:
        array = np.full((n,), array)
    if not np.issubdtype(array.dtype, np.integer) or array.shape != (n,):  # bool is no np.integer
        raise ValueError(
            f"Expected labels to be an int or a sequence of {n} ints. Received: labels with shape "
            f"{array.shape} and dtype {array.dtype}"
        )
    check_range(array, num_classes)
    return array.astype(np.int32)
