"""What every model family shares: reading a generator's interface and checking a discriminator's.

A generator is any functional `keras.Model` with an input `z` of shape
`(batch, latent_dim)`, optionally an integer `label` input of shape
`(batch,)`, and one image output `(batch, H, W, C)`. A discriminator maps an
image (and a label) to one logit per sample, `(batch, 1)`. Nothing here
depends on a ganzoo layer: networks built with plain Keras layers (an
`Embedding` or `CategoryEncoding` for the label) work the same.
"""

try:  # the base install has no Keras: say which extra brings it
    import keras
    from keras import ops
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.models.describe", error) from None


def _label_encoders(model):
    """(layer, class count) for each label-encoding layer of `model`, nested models included."""
    from ganzoo.models.layers import OneHot  # legacy layer of files written by ganzoo 0.1

    found = []
    for layer in model.layers:
        if isinstance(layer, OneHot):
            found.append((layer, layer.num_classes))
        elif isinstance(layer, keras.layers.CategoryEncoding):
            found.append((layer, int(layer.num_tokens)))
        elif isinstance(layer, keras.layers.Embedding):
            found.append((layer, int(layer.input_dim)))
        elif isinstance(layer, keras.Model):
            found.extend(_label_encoders(layer))
    return found


def infer_num_classes(model):
    """The class count of a conditional network's label encoder, or None if it cannot be told.

    It is the `num_tokens` of a `CategoryEncoding`, the `input_dim` of an
    `Embedding` (as in the Keras conditional-GAN examples) or ganzoo's
    legacy `OneHot`, when the network has exactly one such layer.
    """
    counts = {count for _, count in _label_encoders(model)}
    return counts.pop() if len(counts) == 1 else None


def describe_generator(generator, num_classes=None):
    """Reads `latent_dim`, `num_classes` and `image_shape` off a generator.

    Args:
        generator: a functional `keras.Model` with inputs `z` (and `label`)
            and one image output.
        num_classes: the class count of a conditional generator when it
            cannot be read off its layers (see `infer_num_classes`); when it
            can, the two must agree.

    Returns:
        A dict with keys `latent_dim`, `num_classes` (None when
        unconditional) and `image_shape`.

    Raises:
        TypeError: if `generator` is not a built Keras model of that form.
        ValueError: if `num_classes` is missing, given to an unconditional
            generator, or disagrees with the generator's label encoder.

    Example:
        >>> describe_generator(ganzoo.models.dcgan_generator((16, 16, 1), 32))
        {'latent_dim': 32, 'num_classes': None, 'image_shape': (16, 16, 1)}
    """
    if not isinstance(generator, keras.Model) or not getattr(generator, "inputs", None):
        raise TypeError(f"Expected generator to be a built functional keras.Model. Received: generator={generator!r}")
    inputs = generator.inputs
    if len(inputs) not in (1, 2) or len(inputs[0].shape) != 2 or inputs[0].shape[-1] is None:
        raise TypeError(
            "Expected a generator with inputs z (batch, latent_dim) and optionally label (batch,). "
            f"Received inputs with shapes {[tuple(i.shape) for i in inputs]}"
        )
    if len(inputs) == 2 and (tuple(inputs[1].shape) not in ((None,), (None, 1)) or "int" not in str(inputs[1].dtype)):
        raise TypeError(
            "Expected the generator's second input to be integer class ids of shape (batch,). "
            f"Received: shape {tuple(inputs[1].shape)}, dtype {inputs[1].dtype}"
        )
    if len(generator.outputs) != 1 or len(generator.outputs[0].shape) != 4:
        raise TypeError(
            "Expected a generator with one image output (batch, height, width, channels). "
            f"Received outputs with shapes {[tuple(o.shape) for o in generator.outputs]}"
        )
    if num_classes is not None and (
        not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2
    ):
        raise ValueError(f"Expected num_classes to be None or an int >= 2. Received: num_classes={num_classes!r}")
    if len(inputs) == 1:
        if num_classes is not None:
            raise ValueError(
                f"Expected num_classes=None for an unconditional generator (inputs: z). Received: num_classes={num_classes}"
            )
    else:
        inferred = infer_num_classes(generator)
        if num_classes is None and inferred is None:
            raise ValueError(
                "Expected num_classes for a conditional generator whose class count cannot be read off one "
                "CategoryEncoding or Embedding layer. Received: num_classes=None"
            )
        if num_classes is not None and inferred is not None and inferred != num_classes:
            raise ValueError(
                f"Expected num_classes to match the generator's label encoder ({inferred} classes). "
                f"Received: num_classes={num_classes}"
            )
        num_classes = num_classes if num_classes is not None else inferred
    return {
        "latent_dim": int(inputs[0].shape[-1]),
        "num_classes": num_classes,
        "image_shape": tuple(int(d) for d in generator.outputs[0].shape[1:]),
    }


def check_discriminator(discriminator, image_shape, num_classes):
    """Raises unless `discriminator` maps `image_shape` images (and labels) to one logit per sample.

    Raises:
        TypeError: not a Keras model.
        ValueError: wrong inputs, or an output that is not `(batch, 1)`.
    """
    if not isinstance(discriminator, keras.Model):
        raise TypeError(f"Expected discriminator to be a keras.Model. Received: discriminator={discriminator!r}")
    inputs = getattr(discriminator, "inputs", None) or []
    if len(inputs) != (1 if num_classes is None else 2):
        raise ValueError(
            "Expected a discriminator with inputs (image, label) for a conditional GAN and (image) otherwise. "
            f"Received: a discriminator with {len(inputs)} inputs and num_classes={num_classes!r}"
        )
    got = tuple(inputs[0].shape[1:])
    if len(got) != len(image_shape) or not all(d is None or d == want for d, want in zip(got, image_shape)):
        raise ValueError(
            f"Expected the discriminator's image input to have the generator's output shape {tuple(image_shape)}. "
            f"Received: discriminator input shape {tuple(inputs[0].shape[1:])}"
        )
    outputs = discriminator.outputs or []
    if len(outputs) != 1 or tuple(outputs[0].shape[1:]) != (1,):
        raise ValueError(
            "Expected a discriminator with one output of shape (batch, 1): one logit per sample. "
            f"Received outputs with shapes {[tuple(o.shape) for o in outputs]}"
        )
    inferred = infer_num_classes(discriminator) if num_classes is not None else None
    if inferred is not None and inferred != num_classes:
        raise ValueError(
            f"Expected the discriminator's label encoder to have num_classes={num_classes} classes. "
            f"Received: a discriminator whose label encoder has {inferred}"
        )


def all_layers(model):
    """Every layer of `model`, nested models' layers included (not `model` itself)."""
    stack, found = list(getattr(model, "layers", [])), []
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack.extend(getattr(layer, "layers", []))
    return found


def seed_generators(*models):
    """The `keras.random.SeedGenerator`s owned by the layers of `models` (Dropout, GaussianNoise, ...), in a fixed order.

    Keras' weight files hold no seed state; `GAN.save_own_variables` saves
    these so that a restored run draws the same random numbers.
    """
    found = []
    for model in models:
        for layer in all_layers(model):
            for value in vars(layer).values():
                if isinstance(value, keras.random.SeedGenerator) and not any(value is seen for seen in found):
                    found.append(value)
    return found


def computes_in_float16(model):
    """True if any layer of `model` (nested models included) computes in float16."""
    return any(getattr(layer, "compute_dtype", None) == "float16" for layer in all_layers(model))


def network_losses(model):
    """The sum of a network's own losses (weight and activity regularizers, `add_loss`), float32; 0 if none."""
    losses = model.losses
    if not losses:
        return 0.0
    return ops.sum(ops.stack([ops.cast(ops.reshape(loss, ()), "float32") for loss in losses]))
