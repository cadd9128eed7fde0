"""Sampling from a generator: noise, label checks and batched generation."""

import numpy as np

try:  # the base install has no Keras: say which extra brings it
    import keras
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.sampling", error) from None

from ganzoo.models.describe import describe_generator


def sample_noise(n, latent_dim, seed=None):
    """Returns float32 noise `(n, latent_dim)` from N(0, I), reproducible by `seed`."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")


def check_labels(labels, n, num_classes):
    """Validates `labels` for `n` samples of a generator with `num_classes`.

    Args:
        labels: None, an int (every sample of that class), or a sequence of
            `n` ints in `[0, num_classes)`.
        n: number of samples.
        num_classes: the generator's class count, or None if unconditional.

    Returns:
        An int32 array `(n,)`, or None for an unconditional generator.

    Raises:
        ValueError: labels given to an unconditional generator, missing for
            a conditional one, of the wrong length, or out of range.
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
    if not np.issubdtype(array.dtype, np.integer) or array.shape != (n,):
        raise ValueError(
            f"Expected labels to be an int or a sequence of {n} ints. Received: labels with shape "
            f"{array.shape} and dtype {array.dtype}"
        )
    if array.min() < 0 or array.max() >= num_classes:
        raise ValueError(
            f"Expected labels in [0, {num_classes}). Received: labels with min {array.min()} and max {array.max()}"
        )
    return array.astype("int32")


def generate_images(generator, n, labels=None, seed=None, batch_size=256, num_classes=None):
    """Generates `n` images in [-1, 1] with a generator, in batches.

    Args:
        generator: a ganzoo generator (see `describe_generator`).
        n: number of images, an int >= 1.
        labels: for conditional generators, an int or `n` class ids; None
            cycles through the classes (0, 1, ..., num_classes - 1, 0, ...).
        seed: seed of the noise (None or an int in [0, 2**32)), for reproducible samples.
        batch_size: images per forward pass.
        num_classes: the class count of a conditional generator whose
            label encoder does not show it (see `describe_generator`).

    Returns:
        A float32 NumPy array `(n, H, W, C)`.

    Example:
        >>> images = generate_images(generator, 16, seed=0)
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"Expected n to be a positive int. Received: n={n!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive int. Received: batch_size={batch_size!r}")
    if seed is not None and (
        not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**32
    ):
        raise ValueError(f"Expected seed to be None or an int in [0, 2**32). Received: seed={seed!r}")
    spec = describe_generator(generator, num_classes)
    if labels is None and spec["num_classes"] is not None:  # as `ganzoo generate` does: one class per column
        labels = np.arange(n) % spec["num_classes"]
    labels = check_labels(labels, n, spec["num_classes"])
    z = sample_noise(n, spec["latent_dim"], seed)
    outputs = []
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        inputs = z[start:stop] if labels is None else [z[start:stop], labels[start:stop]]
        outputs.append(np.asarray(keras.ops.convert_to_numpy(generator(inputs, training=False)), dtype="float32"))
    return np.concatenate(outputs, axis=0)
