"""Sampling a generator in batches, whatever runs it: request checks, noise and the batch loop, numpy only.

`ganzoo.generate_images` (a Keras generator) and `OnnxGenerator.generate`
(onnxruntime) both call `generate` with their own `run(z, labels)`, so one
seed gives the same noise, labels and images in both.

Example:
    >>> run = lambda z, labels: np.tanh(z[:, :4])  # a stand-in generator: (n, latent_dim) -> (n, 4)
    >>> generate(run, 10, latent_dim=8, seed=0, batch_size=3).shape
    (10, 4)
"""

import numpy as np

from ganzoo.client.labels import check_labels, cycled_labels

SEED_LIMIT = 2**32  # seeds are ints in [0, 2**32), as the presets' recipe.seed


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_request(n, seed, batch_size):
    """Raises unless `n` and `batch_size` are positive ints and `seed` is None or an int in [0, 2**32).

    NumPy ints count as ints; bools and floats do not.
    """
    for name, value in (("n", n), ("batch_size", batch_size)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"Expected {name} to be a positive int. Received: {name}={value!r}")
    if seed is not None and (not _is_int(seed) or not 0 <= seed < SEED_LIMIT):
        raise ValueError(f"Expected seed to be None or an int in [0, 2**32). Received: seed={seed!r}")


def sample_noise(n, latent_dim, seed=None):
    """Returns float32 noise `(n, latent_dim)` from N(0, I): `default_rng(seed).standard_normal`, reproducible."""
    rng = np.random.default_rng(None if seed is None else int(seed))
    return rng.standard_normal((n, latent_dim)).astype(np.float32)


def run_in_batches(run, z, labels, batch_size):
    """Returns `run(z, labels)` computed `batch_size` rows at a time and concatenated along axis 0.

    Args:
        run: a callable `(z_batch, labels_batch or None) -> array (batch, ...)`.
        z: noise `(n, latent_dim)`.
        labels: int labels `(n,)`, or None.
        batch_size: rows per call; the last call may get fewer.
    """
    chunks = []
    for start in range(0, len(z), batch_size):
        stop = start + batch_size
        chunks.append(run(z[start:stop], None if labels is None else labels[start:stop]))
    return np.concatenate(chunks, axis=0)


def generate(run, n, latent_dim, num_classes=None, labels=None, seed=None, batch_size=64):
    """Checks a request, draws its noise and labels, and runs it in batches.

    Args:
        run: a callable `(z_batch, labels_batch or None) -> images (batch, H, W, C)`.
        n: number of images, a positive int.
        latent_dim: size of the noise vector.
        num_classes: class count of a conditional generator, or None.
        labels: an int or `n` class ids; None cycles through the classes
            (0, 1, ..., num_classes - 1, 0, ...), as `ganzoo generate` does.
        seed: None or an int in [0, 2**32): the noise is `sample_noise(n, latent_dim, seed)`.
        batch_size: images per call of `run`.

    Returns:
        The concatenated outputs of `run`, `(n, H, W, C)`.

    Raises:
        ValueError: for a bad `n`, `batch_size`, `seed` or `labels`.
    """
    check_request(n, seed, batch_size)
    if labels is None and num_classes is not None:
        labels = cycled_labels(n, num_classes)
    labels = check_labels(labels, n, num_classes)
    return run_in_batches(run, sample_noise(n, latent_dim, seed), labels, batch_size)
