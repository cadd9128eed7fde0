"""Preset and `.keras` generators as Keras models, loaded safely.

`load_generator` resolves a preset name through `ganzoo.client.presets`
(verified download through the hub) and builds its network from the
declared builder arguments; a `.keras` file is checked
(`ganzoo.training.keras_file`) before Keras reads it.
"""

import os

from ganzoo.client.presets import _check_name, load_config, weights_path
from ganzoo.training.keras_file import check_keras_file, load_weights  # the zoo's checks of .keras files


def load_generator_file(path):
    """Loads a generator `.keras` file safely (no code from the file runs).

    `check_keras_file` (zip directory: sizes, ratios, names; config: no
    Lambda, only Keras and ganzoo classes), then `keras.saving.load_model(path,
    safe_mode=True, compile=False)` inside a safe-mode scope.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unsafe or invalid archive.
        TypeError: the model is not a ganzoo generator (`describe_generator`).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        inside = os.path.join(path, "generator.keras")
        hint = f"; it holds {inside}: pass that" if os.path.isfile(inside) else ", which holds no generator.keras"
        raise FileNotFoundError(f"Expected a generator .keras file. Received: {path!r}, a folder{hint}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Expected a generator .keras file. Received: {path!r}, which does not exist")
    if not path.endswith(".keras"):
        raise ValueError(f"Expected a generator file ending in .keras (the Keras v3 format). Received: {path!r}")
    check_keras_file(path)
    import keras

    import ganzoo.training.gan  # noqa: F401  (registers the GAN and its optimizer container)
    from ganzoo.backends import keras_private
    from ganzoo.models import describe_generator  # also registers the ganzoo layers

    with keras_private.safe_mode():  # even where the process has switched Keras' safe mode off
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    describe_generator(model)
    return model


def load_generator(name_or_path, hub=None):
    """Returns a ready generator: a preset's, downloaded and verified, or a `.keras` file's.

    The result is a plain functional `keras.Model`: `generator(z)` or
    `generator([z, labels])` gives images in [-1, 1]. Read its
    `latent_dim`, `num_classes` and `image_shape` with
    `ganzoo.models.describe_generator(generator)`, and sample with
    `ganzoo.generate_images(generator, n, labels=..., seed=...)`.

    Args:
        name_or_path: a preset name (see `list_presets`) or the path of a
            `.keras` generator file (loaded safely, without a hash check).
        hub: hub for the weights (default `$GANZOO_HUB_URL`, else the
            shipped files).

    Raises:
        ValueError: an unknown preset (listing the known ones), a hash
            mismatch, weights that do not fit the preset's network, or an
            unsafe file.
        FileNotFoundError, ConnectionError: the weights cannot be had.

    Example:
        >>> generator = load_generator("cgan_fashion_mnist")
        >>> images = ganzoo.generate_images(generator, 10, labels=list(range(10)), seed=0)
    """
    if isinstance(name_or_path, os.PathLike) or (
        isinstance(name_or_path, str)
        and (name_or_path.endswith(".keras") or os.sep in name_or_path or "/" in name_or_path)
    ):
        return load_generator_file(name_or_path)
    _check_name(name_or_path)
    config = load_config(name_or_path, hub)
    from ganzoo.training.config import build_network

    generator = build_network(config["generator"], dtype="float32", source=f"generator of preset {name_or_path!r}")
    load_weights(generator, weights_path(name_or_path, hub, config))
    return generator
