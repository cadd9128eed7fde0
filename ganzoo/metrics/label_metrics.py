"""Label-based metrics for conditional GANs: accuracy and class coverage."""

import numpy as np

from ganzoo.metrics._validation import as_label_vector
from ganzoo.metrics._validation import as_positive_int


def label_accuracy(predictions, requested_labels):
    """Computes how often a classifier recognises the requested class.

    For a conditional GAN, classify the images generated for
    `requested_labels` with a domain classifier; a high value means the
    generator obeys its conditioning. Bounded above by the classifier's
    own test accuracy.

    Formula:

    ```
    accuracy = mean_i [argmax(predictions_i) == requested_labels_i]
    ```

    Args:
        predictions: predicted integer labels of shape `(n,)`, or class
            probabilities (or logits) of shape `(n, num_classes)`, which are
            reduced by argmax.
        requested_labels: integer labels of shape `(n,)` that the images
            were generated for.

    Returns:
        The accuracy as a Python float in [0, 1].

    Raises:
        ValueError: if the inputs are empty, not integer labels, have a
            wrong rank, or differ in length.

    Example:

    >>> label_accuracy([0, 1, 2, 2], [0, 1, 2, 0])
    0.75
    >>> label_accuracy([[0.9, 0.1], [0.2, 0.8]], [0, 0])
    0.5
    """
    if np.ndim(requested_labels) != 1:
        raise ValueError(
            "Expected `requested_labels` to be integer labels of shape (n,). "
            f"Received: requested_labels.shape={np.shape(requested_labels)}"
        )
    predicted = as_label_vector(predictions, "predictions")
    requested = as_label_vector(requested_labels, "requested_labels")
    if predicted.shape != requested.shape:
        raise ValueError(
            "Expected `predictions` and `requested_labels` to hold the same "
            f"number of samples. Received: {predicted.shape[0]} predictions "
            f"and {requested.shape[0]} requested labels"
        )
    return float(np.mean(predicted == requested))


def class_histogram_entropy(predicted_labels, num_classes):
    """Computes the normalised entropy of the predicted-class histogram.

    A mode-collapse signal for unconditional GANs: classify generated
    images with a domain classifier and measure how evenly they cover the
    classes. 1 means every class is predicted equally often; 0 means all
    samples fall in one class. It measures coverage of classes only, not
    diversity within a class.

    Formula:

    ```
    p_c = (number of samples predicted as c) / n,   c = 0 .. num_classes - 1
    entropy = -sum_c p_c log(p_c) / log(num_classes)     (0 log 0 = 0)
    ```

    Args:
        predicted_labels: integer labels of shape `(n,)`, or class
            probabilities of shape `(n, num_classes)` (reduced by argmax).
        num_classes: number of classes, at least 2; labels must lie in
            `[0, num_classes)`.

    Returns:
        The normalised entropy as a Python float in [0, 1].

    Raises:
        ValueError: if the labels are empty, not integers, or out of range,
            or `num_classes < 2`.
        TypeError: if `num_classes` is not an int.

    Example:

    >>> class_histogram_entropy([0, 1, 2, 3], num_classes=4)
    1.0
    >>> class_histogram_entropy([2, 2, 2], num_classes=4)
    0.0
    """
    num_classes = as_positive_int(num_classes, "num_classes", minimum=2)
    labels = as_label_vector(predicted_labels, "predicted_labels", num_classes=num_classes)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    p = counts[counts > 0] / labels.shape[0]
    entropy = -np.sum(p * np.log(p)) / np.log(num_classes)
    # Round-off can give 1 + 1e-16; "+ 0.0" turns a single class's -0.0 into 0.0.
    return float(np.clip(entropy, 0.0, 1.0)) + 0.0
