"""What the model families share: argument checks, the resolution plan, label channels.

The arguments themselves, their bounds and the weight counts they give are
declared in `ganzoo.client.network_args` (pure Python, read by the preset schema
too); `checked_args` applies that declaration before a builder makes a layer.

Each family module (`dcgan.py`, `resnet.py`) builds its networks from Keras
layers with these helpers, so that every family takes the same arguments
(`image_shape`, `latent_dim`, `num_classes`, `filters`, `dtype`) and
conditions on labels the same way.
"""

import keras
from keras import layers

from ganzoo.client import network_args


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


def checked_args(builder, **args):
    """Returns the values of `args` in their order, checked against `builder`'s declaration in `ganzoo.client.network_args`.

    Raises:
        ValueError: an argument out of its type or bounds, or a network of
            more than `network_args.MAX_PARAMETERS` weights (nothing is built).
    """
    checked, _ = network_args.check_args(builder, args)
    return tuple(checked[key] for key in args)


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
    """Returns `(start_height, start_width, stages)` for an image shape (see `ganzoo.client.network_args.upsampling_plan`).

    Example:
        >>> upsampling_plan((28, 28, 1))
        (7, 7, 2)
    """
    return network_args.upsampling_plan(check_image_shape(image_shape))


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
