"""DCGAN networks (Radford et al., 2015), optionally class-conditional.

The same builders serve every variant: LSGAN uses them unchanged, WGAN-GP
uses the discriminator with `normalization=None` (a critic without batch
norm), and cGAN switches on `num_classes`.
"""

import keras
from keras import layers


NORMALIZATIONS = ("batch", "layer", None)


def _init():
    # DCGAN paper: all weights from N(0, 0.02).
    return keras.initializers.RandomNormal(stddev=0.02)


def _check_image_shape(image_shape):
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


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Expected {name} to be a positive int. Received: {name}={value!r}")


def _check_num_classes(num_classes):
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(
            f"Expected num_classes to be None or an int >= 2. Received: num_classes={num_classes!r}"
        )


def label_channels(label, num_classes, image_shape):
    """One one-hot channel per class, `(batch, H, W, num_classes)`, from labels `(batch,)`.

    `output[b, h, w, c] == one_hot(label)[b, c]` at every pixel (keras-io's
    conditional GAN instead repeated the one-hot vector into a band of
    rows). Built from Keras layers only, so files load without ganzoo.
    """
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)
    x = layers.Reshape((1, 1, num_classes), name="label_pixel")(one_hot)  # (batch, 1, 1, classes)
    return layers.UpSampling2D(image_shape[:2], interpolation="nearest", name="label_map")(x)


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
    height, width, _ = _check_image_shape(image_shape)

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


def dcgan_generator(image_shape, latent_dim, *, num_classes=None, filters=64, name="generator"):
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
        name: model name.

    Returns:
        A functional `keras.Model` with inputs `z` (and `label`) and an
        output of shape `(batch, *image_shape)`.

    Example:
        >>> g = dcgan_generator((28, 28, 1), latent_dim=64)
        >>> g(np.zeros((2, 64))).shape
        (2, 28, 28, 1)
    """
    image_shape = _check_image_shape(image_shape)
    _check_positive_int("latent_dim", latent_dim)
    _check_positive_int("filters", filters)
    _check_num_classes(num_classes)
    h0, w0, stages = upsampling_plan(image_shape)

    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes is not None:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        # Keras' own CategoryEncoding (not a ganzoo layer), so the file loads with plain Keras.
        one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)
        x = layers.Concatenate(name="z_and_label")([z, one_hot])  # (batch, latent_dim + classes)

    width = filters * 2 ** (stages - 1)
    x = layers.Dense(h0 * w0 * width, use_bias=False, kernel_initializer=_init(), name="project")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((h0, w0, width), name="to_feature_map")(x)  # (batch, h0, w0, width)
    for i in range(stages - 1):
        width //= 2
        x = layers.Conv2DTranspose(
            width, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(), name=f"up{i}"
        )(x)
        x = layers.BatchNormalization(name=f"up{i}_bn")(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    # Output layers in float32 (PITFALLS: float32 where it matters).
    x = layers.Conv2DTranspose(
        image_shape[-1], 4, strides=2, padding="same", kernel_initializer=_init(), dtype="float32", name="to_image"
    )(x)  # (batch, H, W, C)
    image = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(inputs if num_classes is not None else z, image, name=name)


def dcgan_discriminator(image_shape, *, num_classes=None, filters=64, normalization="batch", name="discriminator"):
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
        name: model name.

    Returns:
        A functional `keras.Model` with output shape `(batch, 1)`, float32.

    Example:
        >>> critic = dcgan_discriminator((32, 32, 3), normalization=None)
    """
    image_shape = _check_image_shape(image_shape)
    _check_positive_int("filters", filters)
    _check_num_classes(num_classes)
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"Expected normalization to be one of {NORMALIZATIONS}. Received: normalization={normalization!r}"
        )
    _, _, stages = upsampling_plan(image_shape)

    image = keras.Input(image_shape, name="image")
    inputs = [image]
    x = image
    if num_classes is not None:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        label_map = label_channels(label, num_classes, image_shape)  # (batch, H, W, classes)
        x = layers.Concatenate(name="image_and_label")([image, label_map])  # (batch, H, W, C + classes)

    width = filters
    for i in range(stages):
        x = layers.Conv2D(width, 4, strides=2, padding="same", kernel_initializer=_init(), name=f"down{i}")(x)
        if i > 0 and normalization == "batch":
            x = layers.BatchNormalization(name=f"down{i}_bn")(x)
        elif i > 0 and normalization == "layer":
            x = layers.LayerNormalization(axis=(1, 2, 3), name=f"down{i}_ln")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        width *= 2
    x = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="logit")(x)
    return keras.Model(inputs if num_classes is not None else image, logit, name=name)
