"""Improved precision and recall from k-NN feature manifolds."""

import numpy as np

from ganzoo.metrics._validation import as_feature_matrix
from ganzoo.metrics._validation import as_positive_int
from ganzoo.metrics._validation import check_same_dim


def precision_recall(real_features, fake_features, *, k=3, batch_size=1000):
    """Computes k-NN manifold precision and recall of generated samples.

    Each set's manifold is the union of balls around its samples, each ball
    reaching the sample's k-th nearest neighbour in the same set.
    Precision (fidelity) is the fraction of fake samples inside the real
    manifold; recall (diversity) is the fraction of real samples inside the
    fake manifold. Mode collapse shows up as low recall.

    Formula:

    ```
    r_k(x, S) = distance from x to its k-th nearest neighbour in S \\ {x}
    inside(y, S) = 1 if ||y - x|| <= r_k(x, S) for some x in S, else 0
    precision = mean over fake y of inside(y, real)
    recall    = mean over real x of inside(x, fake)
    ```

    Reference: Kynkaanniemi et al., "Improved Precision and Recall Metric
    for Assessing Generative Models", NeurIPS 2019
    (https://arxiv.org/abs/1904.06991). As in the authors' code, the k-th
    neighbour is the (k+1)-th smallest distance, the sample itself being
    the first, so exact duplicates inside a set count as neighbours.

    Pairwise squared distances are computed in float64 blocks of
    `batch_size` rows (`||x||^2 + ||y||^2 - 2 x.y`, clipped at 0), so memory
    stays at `batch_size * max(num_real, num_fake)` floats: 10k x 10k takes
    about 80 MB with the default.

    Args:
        real_features: array-like of shape `(num_real, feature_dim)`.
        fake_features: array-like of shape `(num_fake, feature_dim)`.
        k: neighbourhood size; the paper uses 3. Each set needs more than
            `k` samples.
        batch_size: rows per block of the distance computation.

    Returns:
        A tuple `(precision, recall)` of Python floats in [0, 1].

    Raises:
        ValueError: if an input is not a finite 2-D array, has `k` rows or
            fewer, or the feature dimensions differ.
        TypeError: if `k` or `batch_size` is not an int.

    Example:

    >>> import numpy as np
    >>> real = np.random.default_rng(0).normal(size=(200, 8))
    >>> precision_recall(real, real)
    (1.0, 1.0)
    >>> precision_recall(real, real + 100.0)
    (0.0, 0.0)
    """
    k = as_positive_int(k, "k", minimum=1)
    batch_size = as_positive_int(batch_size, "batch_size", minimum=1)
    real = as_feature_matrix(real_features, "real_features", min_samples=k + 1)
    fake = as_feature_matrix(fake_features, "fake_features", min_samples=k + 1)
    check_same_dim(real, fake, "real_features", "fake_features")

    real_radii = _knn_squared_radii(real, k, batch_size)
    fake_radii = _knn_squared_radii(fake, k, batch_size)
    # One pass over the fake-real distances answers both questions: a fake is inside the real manifold if
    # some real point's ball holds it (a row test), a real point is inside the fake manifold if some fake
    # point's ball holds it (a column test). That is 3 distance matrices in all instead of 4.
    real_norms = np.sum(real * real, axis=1)
    fake_inside = np.empty(len(fake), dtype=bool)
    real_inside = np.zeros(len(real), dtype=bool)
    for start in range(0, len(fake), batch_size):
        block = _squared_distances(fake[start : start + batch_size], real, real_norms)  # (batch, num_real)
        fake_inside[start : start + batch_size] = np.any(block <= real_radii[None, :], axis=1)
        real_inside |= np.any(block <= fake_radii[start : start + batch_size, None], axis=0)
    return float(np.mean(fake_inside)), float(np.mean(real_inside))


def _squared_distances(x, y, y_squared_norms):
    """`||x_i - y_j||^2` as `-2 x.y + ||x||^2 + ||y||^2`, in place in the product's buffer (no temporaries)."""
    distances = x @ y.T  # (len(x), len(y))
    distances *= -2.0
    distances += np.sum(x * x, axis=1)[:, None]
    distances += y_squared_norms[None, :]
    return np.maximum(distances, 0.0, out=distances)  # round-off can dip < 0


def _knn_squared_radii(points, k, batch_size):
    """Squared distance from each point to its k-th nearest other point."""
    squared_norms = np.sum(points * points, axis=1)
    radii = np.empty(len(points), dtype=np.float64)
    for start in range(0, len(points), batch_size):
        block = _squared_distances(points[start : start + batch_size], points, squared_norms)
        # Index k, not k - 1: the point itself is the smallest (distance 0).
        radii[start : start + batch_size] = np.partition(block, k, axis=1)[:, k]
    return radii
