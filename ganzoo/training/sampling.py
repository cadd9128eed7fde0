"""Sampling from a Keras generator: `generate_images`, batched over `ganzoo.client.generation`.

The label rules, noise and batch loop are the numpy-only ones that
`OnnxGenerator` uses too (`ganzoo.client.labels`, `ganzoo.client.generation`),
so one seed gives the same images in Keras and in onnxruntime.
"""

import numpy as np

try:  # the base install has no Keras: say which extra brings it
    import keras
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.sampling", error) from None

from ganzoo.client import generation
from ganzoo.client.labels import check_labels
from ganzoo.client.generation import sample_noise
from ganzoo.models.describe import describe_generator

__all__ = ["check_labels", "generate_images", "sample_noise"]


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

    Raises:
        ValueError: for a bad `n`, `batch_size`, `seed` or `labels`.

    Example:
        >>> images = generate_images(generator, 16, seed=0)
    """
    generation.check_request(n, seed, batch_size)  # before describing the generator, as ever

    def run(z, labels):
        images = generator(z if labels is None else [z, labels], training=False)
        return np.asarray(keras.ops.convert_to_numpy(images), dtype="float32")

    spec = describe_generator(generator, num_classes)
    return generation.generate(run, n, spec["latent_dim"], spec["num_classes"], labels, seed, batch_size)
