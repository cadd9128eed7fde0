"""Input checks shared by the metric functions (NumPy only)."""

import numpy as np


def as_feature_matrix(features, name, *, min_samples=2):
    """Returns `features` as a finite float64 array of shape `(n, d)`.

    Args:
        features: array-like of shape `(num_samples, feature_dim)`.
        name: argument name used in error messages.
        min_samples: smallest accepted `num_samples`.

    Returns:
        A float64 NumPy array of shape `(num_samples, feature_dim)`.

    Raises:
        ValueError: if the array is not 2-D, is empty, holds fewer than
            `min_samples` rows, or holds NaN or infinite values.
    """
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(
            f"Expected `{name}` to be a 2-D array of shape "
            f"(num_samples, feature_dim). Received: {name}.shape={array.shape}"
        )
    if array.shape[0] < min_samples:
        raise ValueError(
            f"Expected `{name}` to hold at least {min_samples} samples. Received: {name}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"Expected `{name}` to hold only finite values. Received: "
            f"{name} with {int(np.sum(~np.isfinite(array)))} NaN/inf entries"
        )
    return array


def check_same_dim(a, b, name_a, name_b):
    """Raises `ValueError` if two feature matrices differ in `feature_dim`."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"Expected `{name_a}` and `{name_b}` to have the same feature "
            f"dimension. Received: {name_a}.shape={a.shape}, "
            f"{name_b}.shape={b.shape}"
        )


def as_positive_int(value, name, *, minimum=1):
    """Returns `value` as an int, or raises if it is not an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Expected `{name}` to be an int. Received: {name}={value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"Expected `{name}` >= {minimum}. Received: {name}={value}")
    return int(value)


def as_label_vector(labels, name, *, num_classes=None):
    """Returns class labels as int64, taking the argmax of a 2-D input.

    Args:
        labels: integer labels of shape `(n,)`, or class scores or
            probabilities of shape `(n, num_classes)` (reduced by argmax).
        name: argument name used in error messages.
        num_classes: if given, labels must lie in `[0, num_classes)`.

    Returns:
        An int64 NumPy array of shape `(n,)`.

    Raises:
        ValueError: on a wrong rank, an empty input, non-integer values or
            labels outside `[0, num_classes)`.
    """
    array = np.asarray(labels)
    if array.ndim == 2:
        if num_classes is not None and array.shape[1] != num_classes:
            raise ValueError(
                f"Expected `{name}` probabilities to have {num_classes} columns. Received: {name}.shape={array.shape}"
            )
        array = np.argmax(array, axis=1)
    elif array.ndim != 1:
        raise ValueError(
            f"Expected `{name}` to be labels of shape (n,) or probabilities "
            f"of shape (n, num_classes). Received: {name}.shape={array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"Expected `{name}` to be non-empty. Received: {name}.shape={array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(
                f"Expected `{name}` to hold integer class labels. Received: "
                f"{name} of dtype {array.dtype} with non-integer values"
            )
    array = array.astype(np.int64)
    if num_classes is not None and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"Expected `{name}` to lie in [0, {num_classes}). Received: "
            f"{name} with min={array.min()}, max={array.max()}"
        )
    return array
