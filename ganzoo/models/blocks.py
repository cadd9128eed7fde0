"""What the model families share: argument checks, the resolution plan, label channels.

Each family module (`dcgan.py`, `resnet.py`) builds its networks from Keras
layers with these helpers, so that every family takes the same arguments
(`image_shape`, `latent_dim`, `num_classes`, `filters`, `dtype`) and
conditions on labels the same way.
"""

import keras
from keras import layers


NORMALIZATIONS = ("batch", "layer", None)


def init():
    # DCGAN paper: all weights from N(0, 0.02).
    return keras.initializers.RandomNormal(stddev=0.02)


def check_image_shape(image_shape):
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(isinstance(d, int) and d >= 1 for d in image_shape)
    ):
        raise ValueError(
            "Expected image_shape to be (height, width, channels) of positive ints. "
            f"Received: image_shape={image_shape!r}"
        )
    return tuple(image_shape)


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Expected {name} to be a positive int. Received: {name}={value!r}")


def check_num_classes(num_classes):
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(f"Expected num_classes to be None or an int >= 2. Received: num_classes={num_classes!r}")


def label_channels(label, num_classes, image_shape, dtype=None):
    """One one-hot channel per class, `(batch, H, W, num_classes)`, from labels `(batch,)`.

    `output[b, h, w, c] == one_hot(label)[b, c]` at every pixel (keras-io's
    conditional GAN instead repeated the one-hot vector into a band of
    rows). Built from Keras layers only, so files load without ganzoo.
    """
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", dtype=dtype, name="label_one_hot")(label)
    x = layers.Reshape((1, 1, num_classes), dtype=dtype, name="label_pixel")(one_hot)  # (batch, 1, 1, classes)
    return layers.UpSampling2D(image_shape[:2], interpolation="nearest", dtype=dtype, name="label_map")(x)


def upsampling_plan(image_shape):
    """Returns `(start_height, start_width, stages)` for an image shape.

    The generator starts at `start` resolution and doubles it `stages`
    times; the discriminator halves it as often. Each side is halved while it
    stays even and at least 4: 16 -> 4 (2 stages), 28 -> 7 (2), 32 -> 4 (3),
    64 -> 4 (4).

    Raises:
        ValueError: if height and width need different stage counts, or the
            image cannot be halved at all.
    """
    height, width, _ = check_image_shape(image_shape)

    def plan(size):
        stages = 0
        while size % 2 == 0 and size // 2 >= 4:
            size //= 2
            stages += 1
        return size, stages

    (h0, h_stages), (w0, w_stages) = plan(height), plan(width)
    if h_stages != w_stages or h_stages == 0:
        raise ValueError(
            "Expected an image_shape whose height and width can both be halved the same "
            "number of times (at least once) down to a size >= 4, e.g. 16, 28, 32 or 64. "
            f"Received: image_shape={tuple(image_shape)!r}"
        )
    return h0, w0, h_stages


def check_discriminator_options(normalization, spectral_norm):
    """Raises unless `normalization` is one of `NORMALIZATIONS` and `spectral_norm` a bool."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"Expected normalization to be one of {NORMALIZATIONS}. Received: normalization={normalization!r}"
        )
    if not isinstance(spectral_norm, bool):
        raise ValueError(f"Expected spectral_norm to be True or False. Received: spectral_norm={spectral_norm!r}")


def generator_inputs(latent_dim, num_classes, dtype=None):
    """Returns `(inputs, x)`: the input `z` (and `label`) and z with the one-hot label concatenated when conditional."""
    z = keras.Input((latent_dim,), name="z")
    if num_classes is None:
        return z, z
    label = keras.Input((), dtype="int32", name="label")
    # Keras' own CategoryEncoding (not a ganzoo layer), so the file loads with plain Keras.
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", dtype=dtype, name="label_one_hot")(label)
    return [z, label], layers.Concatenate(dtype=dtype, name="z_and_label")([z, one_hot])  # (batch, latent + classes)


def discriminator_inputs(image_shape, num_classes, dtype=None):
    """Returns `(inputs, x)`: the input `image` (and `label`) and the image with one channel per class when conditional."""
    image = keras.Input(image_shape, name="image")
    if num_classes is None:
        return image, image
    label = keras.Input((), dtype="int32", name="label")
    label_map = label_channels(label, num_classes, image_shape, dtype)  # (batch, H, W, classes)
    return [image, label], layers.Concatenate(dtype=dtype, name="image_and_label")([image, label_map])
