"""Residual networks of the WGAN-GP and SNGAN papers, sized for 16 to 64 pixels.

Gulrajani et al. (2017, appendix F) and Miyato et al. (2018, appendix B.4)
train CIFAR-10 with the same shape of network: a generator of upsampling
residual blocks (BN, ReLU, nearest-neighbour upsampling, two 3x3
convolutions, a 1x1 shortcut) and a discriminator of downsampling residual
blocks (ReLU, two 3x3 convolutions, average pooling; the first block
"optimized" with the pooling on the shortcut), a last block at full width,
ReLU, global pooling and a linear output. Here every block has `filters`
channels, and the number of resolution steps follows the image size as in
`dcgan.py` (16 -> 4: 2 blocks, 28 -> 7: 2, 32 -> 4: 3, 64 -> 4: 4).
"""

import keras
from keras import layers

from ganzoo.models.blocks import (
    checked_args,
    discriminator_inputs,
    generator_inputs,
    upsampling_plan,
)
from ganzoo.models.spectral_norm import SpectralNorm


def _conv(filters, size, dtype, name, spectral_norm=False):
    conv = layers.Conv2D(
        filters,
        size,
        padding="same",
        kernel_initializer="glorot_uniform",
        dtype=dtype,
        name=f"{name}_conv" if spectral_norm else name,
    )
    return SpectralNorm(conv, dtype=conv.dtype_policy, name=name) if spectral_norm else conv


def _up_block(x, filters, dtype, name):
    """BN-ReLU-up-conv-BN-ReLU-conv, plus an upsampled 1x1 shortcut. (batch, h, w, c) -> (batch, 2h, 2w, filters)."""
    shortcut = layers.UpSampling2D(2, dtype=dtype, name=f"{name}_skip_up")(x)
    shortcut = _conv(filters, 1, dtype, f"{name}_skip")(shortcut)
    h = layers.BatchNormalization(dtype=dtype, name=f"{name}_bn1")(x)
    h = layers.ReLU(dtype=dtype, name=f"{name}_relu1")(h)
    h = layers.UpSampling2D(2, dtype=dtype, name=f"{name}_up")(h)
    h = _conv(filters, 3, dtype, f"{name}_conv1")(h)
    h = layers.BatchNormalization(dtype=dtype, name=f"{name}_bn2")(h)
    h = layers.ReLU(dtype=dtype, name=f"{name}_relu2")(h)
    h = _conv(filters, 3, dtype, f"{name}_conv2")(h)
    return layers.Add(dtype=dtype, name=f"{name}_add")([h, shortcut])


def _down_block(x, filters, dtype, name, *, first, downsample, normalization, spectral_norm):
    """A critic block: (batch, h, w, c) -> (batch, h/2, w/2, filters), or same size without `downsample`."""

    def norm(h, suffix):
        if normalization == "batch":
            return layers.BatchNormalization(dtype=dtype, name=f"{name}_bn{suffix}")(h)
        if normalization == "layer":
            return layers.LayerNormalization(axis=(1, 2, 3), dtype=dtype, name=f"{name}_ln{suffix}")(h)
        return h

    h = x if first else layers.ReLU(dtype=dtype, name=f"{name}_relu1")(x)
    h = norm(_conv(filters, 3, dtype, f"{name}_conv1", spectral_norm)(h), 1)
    h = layers.ReLU(dtype=dtype, name=f"{name}_relu2")(h)
    h = norm(_conv(filters, 3, dtype, f"{name}_conv2", spectral_norm)(h), 2)
    if downsample:
        h = layers.AveragePooling2D(2, dtype=dtype, name=f"{name}_pool")(h)
    shortcut = x
    if first and downsample:  # the optimized block pools first (Miyato et al., appendix B.4)
        shortcut = layers.AveragePooling2D(2, dtype=dtype, name=f"{name}_skip_pool")(shortcut)
    if first or downsample or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, dtype, f"{name}_skip", spectral_norm)(shortcut)
    if downsample and not first:
        shortcut = layers.AveragePooling2D(2, dtype=dtype, name=f"{name}_skip_pool")(shortcut)
    return layers.Add(dtype=dtype, name=f"{name}_add")([h, shortcut])


def resnet_generator(image_shape, latent_dim, *, num_classes=None, filters=128, dtype=None, name="generator"):
    """Builds a ResNet generator: z (+ label) -> image in [-1, 1].

    A dense projection to `(h0, w0, filters)`, one upsampling residual block
    per resolution step, then BN, ReLU, a 3x3 convolution and tanh (the
    last two in float32).

    Args:
        image_shape: `(height, width, channels)`; sides as in
            `upsampling_plan` (16, 28, 32, 64, ...).
        latent_dim: size of z.
        num_classes: when set, a second input `label` `(batch,)`, one-hot
            encoded and concatenated to z.
        filters: channels of every block (128 in both papers).
        dtype: dtype policy of the hidden layers; None follows the global one.
        name: model name.

    Returns:
        A functional `keras.Model`, inputs `z` (and `label`), output
        `(batch, *image_shape)`.

    Example:
        >>> resnet_generator((32, 32, 3), 128).output.shape
        (None, 32, 32, 3)
    """
    image_shape, latent_dim, num_classes, filters = checked_args(
        "resnet_generator", image_shape=image_shape, latent_dim=latent_dim, num_classes=num_classes, filters=filters
    )
    h0, w0, stages = upsampling_plan(image_shape)

    inputs, x = generator_inputs(latent_dim, num_classes, dtype)
    x = layers.Dense(h0 * w0 * filters, kernel_initializer="glorot_uniform", dtype=dtype, name="project")(x)
    x = layers.Reshape((h0, w0, filters), dtype=dtype, name="to_feature_map")(x)  # (batch, h0, w0, filters)
    for i in range(stages):
        x = _up_block(x, filters, dtype, f"block{i}")
    x = layers.BatchNormalization(dtype=dtype, name="out_bn")(x)
    x = layers.ReLU(dtype=dtype, name="out_relu")(x)
    x = layers.Conv2D(
        image_shape[-1], 3, padding="same", kernel_initializer="glorot_uniform", dtype="float32", name="to_image"
    )(x)  # (batch, H, W, C)
    image = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(inputs, image, name=name)


def resnet_discriminator(
    image_shape,
    *,
    num_classes=None,
    filters=128,
    normalization=None,
    spectral_norm=False,
    dtype=None,
    name="discriminator",
):
    """Builds a ResNet discriminator (or critic): image (+ label) -> one logit.

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: when set, a second input `label`, given as one one-hot
            channel per class next to the image channels.
        filters: channels of every block.
        normalization: None (SNGAN, and the WGAN-GP critic's default here),
            `"layer"` or `"batch"` (not with a gradient penalty).
        spectral_norm: wrap every convolution and the output in `SpectralNorm`.
        dtype: dtype policy of the hidden layers; the output is float32.
        name: model name.

    Returns:
        A functional `keras.Model` with output `(batch, 1)`, float32.

    Example:
        >>> resnet_discriminator((32, 32, 3), spectral_norm=True).output.shape
        (None, 1)
    """
    image_shape, num_classes, filters, normalization, spectral_norm = checked_args(
        "resnet_discriminator",
        image_shape=image_shape,
        num_classes=num_classes,
        filters=filters,
        normalization=normalization,
        spectral_norm=spectral_norm,
    )
    _, _, stages = upsampling_plan(image_shape)

    inputs, x = discriminator_inputs(image_shape, num_classes, dtype)
    options = {"normalization": normalization, "spectral_norm": spectral_norm}
    for i in range(stages):
        x = _down_block(x, filters, dtype, f"block{i}", first=i == 0, downsample=True, **options)
    x = _down_block(x, filters, dtype, f"block{stages}", first=False, downsample=False, **options)
    x = layers.ReLU(dtype=dtype, name="out_relu")(x)
    x = layers.GlobalAveragePooling2D(dtype=dtype, name="pool")(x)  # (batch, filters)
    dense = layers.Dense(
        1, kernel_initializer="glorot_uniform", dtype="float32", name="logit_dense" if spectral_norm else "logit"
    )
    logit = SpectralNorm(dense, dtype="float32", name="logit")(x) if spectral_norm else dense(x)
    return keras.Model(inputs, logit, name=name)
