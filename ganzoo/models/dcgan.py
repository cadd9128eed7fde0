"""DCGAN networks (Radford et al., 2015), optionally class-conditional.

The same builders serve every variant: LSGAN uses them unchanged, WGAN-GP
uses the discriminator with `normalization=None` (a critic without batch
norm), and cGAN switches on `num_classes`.
"""

import keras
from keras import layers

from ganzoo.models.blocks import (
    checked_args,
    discriminator_inputs,
    generator_inputs,
    init,
    upsampling_plan,
)
from ganzoo.models.spectral_norm import SpectralNorm


def dcgan_generator(image_shape, latent_dim, *, num_classes=None, filters=64, dtype=None, name="generator"):
    """Builds a DCGAN generator: z (+ label) -> image in [-1, 1].

    Dense projection to a small feature map, then stride-2 transposed
    convolutions with BatchNorm + ReLU, and a tanh output layer. The output
    layers run in float32 whatever the global dtype policy, so mixed
    precision never rounds the images.

    Args:
        image_shape: `(height, width, channels)`, e.g. `(28, 28, 1)`.
        latent_dim: size of the noise vector z.
        num_classes: when set, the generator takes a second input `label`,
            integer class ids of shape `(batch,)`, one-hot encoded and
            concatenated to z (Mirza & Osindero, 2014).
        filters: width of the last hidden layer; earlier layers double it.
        dtype: dtype policy of the hidden layers (e.g. `"float32"`); None
            follows the global policy. The output layers are float32 always.
        name: model name.

    Returns:
        A functional `keras.Model` with inputs `z` (and `label`) and an
        output of shape `(batch, *image_shape)`.

    Example:
        >>> g = dcgan_generator((28, 28, 1), latent_dim=64)
        >>> g(np.zeros((2, 64))).shape
        (2, 28, 28, 1)
    """
    image_shape, latent_dim, num_classes, filters = checked_args(
        "dcgan_generator", image_shape=image_shape, latent_dim=latent_dim, num_classes=num_classes, filters=filters
    )
    h0, w0, stages = upsampling_plan(image_shape)

    inputs, x = generator_inputs(latent_dim, num_classes, dtype)

    width = filters * 2 ** (stages - 1)
    x = layers.Dense(h0 * w0 * width, use_bias=False, kernel_initializer=init(), dtype=dtype, name="project")(x)
    x = layers.BatchNormalization(dtype=dtype, name="project_bn")(x)
    x = layers.ReLU(dtype=dtype, name="project_relu")(x)
    x = layers.Reshape((h0, w0, width), dtype=dtype, name="to_feature_map")(x)  # (batch, h0, w0, width)
    for i in range(stages - 1):
        width //= 2
        x = layers.Conv2DTranspose(
            width, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init(), dtype=dtype, name=f"up{i}"
        )(x)
        x = layers.BatchNormalization(dtype=dtype, name=f"up{i}_bn")(x)
        x = layers.ReLU(dtype=dtype, name=f"up{i}_relu")(x)
    # Output layers in float32 (PITFALLS: float32 where it matters).
    x = layers.Conv2DTranspose(
        image_shape[-1], 4, strides=2, padding="same", kernel_initializer=init(), dtype="float32", name="to_image"
    )(x)  # (batch, H, W, C)
    image = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(inputs, image, name=name)


def dcgan_discriminator(
    image_shape,
    *,
    num_classes=None,
    filters=64,
    normalization="batch",
    spectral_norm=False,
    dtype=None,
    name="discriminator",
):
    """Builds a DCGAN discriminator (or WGAN critic): image (+ label) -> one logit.

    Stride-2 convolutions with LeakyReLU(0.2); no normalization on the first
    layer (Radford et al.); a float32 linear output (a logit, or the critic
    value for the Wasserstein loss).

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: when set, the model takes a second input `label`
            `(batch,)`, given to the network as one one-hot channel per class
            concatenated to the image channels.
        filters: width of the first layer; later layers double it.
        normalization: `"batch"` (DCGAN), `"layer"` or `None`. A WGAN-GP
            critic must not use batch norm: the penalty is per sample.
        spectral_norm: wrap every convolution and the output layer in
            `ganzoo.models.SpectralNorm` (SNGAN, Miyato et al., 2018).
        dtype: dtype policy of the hidden layers; None follows the global
            policy. The output layer is float32 always.
        name: model name.

    Returns:
        A functional `keras.Model` with output shape `(batch, 1)`, float32.

    Example:
        >>> critic = dcgan_discriminator((32, 32, 3), normalization=None)
    """
    image_shape, num_classes, filters, normalization, spectral_norm = checked_args(
        "dcgan_discriminator",
        image_shape=image_shape,
        num_classes=num_classes,
        filters=filters,
        normalization=normalization,
        spectral_norm=spectral_norm,
    )
    _, _, stages = upsampling_plan(image_shape)

    def weighted(layer, name):  # SpectralNorm takes the layer's name so weight paths stay readable
        return SpectralNorm(layer, dtype=layer.dtype_policy, name=name) if spectral_norm else layer

    inputs, x = discriminator_inputs(image_shape, num_classes, dtype)

    width = filters
    for i in range(stages):
        conv = layers.Conv2D(
            width,
            4,
            strides=2,
            padding="same",
            kernel_initializer=init(),
            dtype=dtype,
            name=f"down{i}_conv" if spectral_norm else f"down{i}",
        )
        x = weighted(conv, f"down{i}")(x)
        if i > 0 and normalization == "batch":
            x = layers.BatchNormalization(dtype=dtype, name=f"down{i}_bn")(x)
        elif i > 0 and normalization == "layer":
            x = layers.LayerNormalization(axis=(1, 2, 3), dtype=dtype, name=f"down{i}_ln")(x)
        x = layers.LeakyReLU(0.2, dtype=dtype, name=f"down{i}_lrelu")(x)
        width *= 2
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    dense = layers.Dense(
        1, kernel_initializer=init(), dtype="float32", name="logit_dense" if spectral_norm else "logit"
    )
    logit = weighted(dense, "logit")(x)
    return keras.Model(inputs, logit, name=name)
