"""Checks of the arguments `GAN`'s constructor, `compile` and `fit` take: strict, with "Expected ... Received" errors."""

import contextlib
import math
import numbers

import keras

from ganzoo.client.augment_policy import check_policy
from ganzoo.models import describe as networks
from ganzoo.models.describe import check_discriminator, describe_generator
from ganzoo.training.losses import get_loss


def _is_int(value):
    """True for Python and NumPy integers (np.int64(8), a shape entry), not for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_gan_arguments(generator, discriminator, settings):
    """Checks the GAN's constructor arguments against each other and the networks.

    Args:
        generator: the generator model.
        discriminator: the discriminator model.
        settings: dict of the other constructor arguments (`latent_dim`,
            `loss`, `discriminator_steps`, `gradient_penalty_weight`,
            `label_smoothing`, `fake_label_smoothing`, `num_classes`, `seed`).

    Returns:
        `(settings, image_shape)`: the settings with NumPy integers as `int`
        and numbers as `float` where floats are meant, and the generator's
        image shape.

    Raises:
        ValueError, TypeError: an argument out of range, of the wrong type,
            or not matching the networks.
    """
    settings = dict(settings)
    adversarial = get_loss(settings["loss"])
    num_classes = settings["num_classes"]
    num_classes = settings["num_classes"] = int(num_classes) if _is_int(num_classes) else num_classes
    spec = describe_generator(generator, num_classes)
    if spec["num_classes"] != num_classes:  # a conditional generator and num_classes=None
        raise ValueError(
            f"Expected num_classes={spec['num_classes']} for a conditional generator (inputs z and label). "
            f"Received: num_classes={num_classes!r}"
        )
    latent_dim = settings["latent_dim"]
    if not _is_int(latent_dim) or spec["latent_dim"] != latent_dim:
        raise ValueError(
            f"Expected latent_dim to be an int matching the generator's z input ({spec['latent_dim']}). "
            f"Received: latent_dim={latent_dim!r}"
        )
    settings["latent_dim"] = int(latent_dim)
    check_discriminator(discriminator, spec["image_shape"], num_classes)
    steps = settings["discriminator_steps"]
    if not _is_int(steps) or steps < 1:
        raise ValueError(f"Expected discriminator_steps to be an int >= 1. Received: discriminator_steps={steps!r}")
    settings["discriminator_steps"] = int(steps)
    _check_penalty(settings["gradient_penalty_weight"], discriminator)
    settings["gradient_penalty_weight"] = float(settings["gradient_penalty_weight"])
    _check_smoothing(settings, adversarial)
    seed = settings["seed"]
    if seed is not None and not _is_int(seed):
        raise TypeError(f"Expected seed to be None or an int. Received: seed={seed!r}")
    settings["seed"] = None if seed is None else int(seed)
    check_policy(settings["augment"])
    p = settings["augment_probability"]
    if not _is_real(p) or not 0 <= p <= 1:
        raise ValueError(f"Expected augment_probability to be a float in [0, 1]. Received: augment_probability={p!r}")
    settings["augment_probability"] = float(p)
    _check_ada(settings)
    weight, interval = settings["r1_weight"], settings["r1_interval"]
    if not _is_real(weight) or not math.isfinite(weight) or weight < 0:
        raise ValueError(f"Expected r1_weight to be a finite float >= 0. Received: r1_weight={weight!r}")
    if not _is_int(interval) or interval < 1:
        raise ValueError(f"Expected r1_interval to be an int >= 1. Received: r1_interval={interval!r}")
    settings["r1_weight"], settings["r1_interval"] = float(weight), int(interval)
    return settings, spec["image_shape"]


def _check_ada(settings):
    target, kimg = settings["ada_target"], settings["ada_kimg"]
    if target is not None and (not _is_real(target) or not 0 < target < 1):
        raise ValueError(f"Expected ada_target to be None or a float in (0, 1). Received: ada_target={target!r}")
    if not _is_real(kimg) or not math.isfinite(kimg) or kimg <= 0:
        raise ValueError(f"Expected ada_kimg to be a finite float > 0. Received: ada_kimg={kimg!r}")
    if target is not None and not settings["augment"]:
        raise ValueError(
            f"Expected an augment policy to adapt with ada_target. Received: augment={settings['augment']!r}"
        )
    settings["ada_target"] = None if target is None else float(target)
    settings["ada_kimg"] = float(kimg)


def _check_penalty(weight, discriminator):
    if not _is_real(weight) or not math.isfinite(weight) or weight < 0:
        raise ValueError(
            f"Expected gradient_penalty_weight to be a finite float >= 0. Received: gradient_penalty_weight={weight!r}"
        )
    if weight > 0 and any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in networks.all_layers(discriminator)
    ):
        raise ValueError(
            "Expected a discriminator without BatchNormalization when gradient_penalty_weight > 0: the penalty "
            "is per sample and batch norm mixes samples. Build it with normalization=None or 'layer'. "
            f"Received: gradient_penalty_weight={weight}"
        )


def _check_smoothing(settings, adversarial):
    label_smoothing, fake_label_smoothing = settings["label_smoothing"], settings["fake_label_smoothing"]
    for key, value in (("label_smoothing", label_smoothing), ("fake_label_smoothing", fake_label_smoothing)):
        if not _is_real(value) or not 0.0 <= value < 1.0:
            raise ValueError(f"Expected {key} in [0, 1). Received: {key}={value!r}")
        if value > 0 and not adversarial.smoothable:
            raise ValueError(
                f"Expected {key}=0 with loss={settings['loss']!r}, which has no target labels to smooth. "
                f"Received: {key}={value}"
            )
    if label_smoothing + fake_label_smoothing >= 1.0:
        raise ValueError(
            "Expected the fake target below the real one: label_smoothing + fake_label_smoothing < 1. "
            f"Received: label_smoothing={label_smoothing}, fake_label_smoothing={fake_label_smoothing}"
        )
    settings["label_smoothing"], settings["fake_label_smoothing"] = float(label_smoothing), float(fake_label_smoothing)


def check_compile_arguments(kwargs):
    """Raises for a `keras.Model.compile` argument that `GAN.compile` sets itself (loss, optimizer, metrics)."""
    for key in ("loss", "optimizer", "auto_scale_loss", "metrics", "weighted_metrics", "loss_weights"):
        if key in kwargs:
            raise ValueError(
                f"Expected no {key!r} argument: GAN.compile takes d_optimizer and g_optimizer, and the "
                f"adversarial loss is set in the constructor. Received: {key}={kwargs[key]!r}"
            )


def check_fit_arguments(kwargs):
    """Raises for validation arguments to `GAN.fit`: a GAN has no validation loss."""
    for key in ("validation_data", "validation_split", "validation_steps"):
        value = kwargs.get(key)
        if value is not None and not (key == "validation_split" and value == 0):
            raise ValueError(
                f"Expected no {key}: a GAN has no validation loss to evaluate (monitor quality with "
                f"ganzoo.training.callbacks.FrechetDistanceMonitor). Received: {key}={kwargs[key]!r}"
            )


_EMPTY = "Expected x to yield at least one batch. Received: data that yielded none (empty?)"


@contextlib.contextmanager
def empty_data_is_an_error():
    """Turns the error of Keras 3.15's JAX trainer after an epoch of no steps into `GAN.fit`'s empty-data error."""
    try:
        yield
    except UnboundLocalError as error:
        if "'logs'" not in str(error):
            raise
        raise ValueError(_EMPTY) from None


def check_history(history):
    """Raises if every epoch of `fit` ran without a single batch (data that yielded none)."""
    if history.epoch and not history.history:
        raise ValueError(_EMPTY)
