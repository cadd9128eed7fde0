"""Preset configs as code: defaults for each variant, and building Keras objects from a preset.

A preset is a JSON dict checked by `validate_config` (see
`ganzoo.client.preset_schema` and `zoo_configs/README.md`). `default_config`
writes one for each variant following its paper; `build_gan` and
`build_optimizers` turn one into Keras objects. Each network is stored as
a builder name and its arguments (`{"builder": "dcgan_generator", "args":
{...}, "parameters": 1234}`), so a preset carries no code and builds under
whatever dtype policy is asked for.

This module imports Keras only inside the functions that build objects, so
validating a preset stays cheap.
"""

import json

from ganzoo.client.preset_schema import (  # noqa: F401  (re-exported: the config API in one place)
    LOSS_NAMES,
    VARIANTS,
    load_config_file,
    refuse_code,
    validate_config,
)

_VARIANT_DESCRIPTIONS = {
    "dcgan": "DCGAN (Radford et al., 2015): BN+ReLU generator, LeakyReLU discriminator with batch norm, "
    "non-saturating loss, Adam(2e-4, beta_1=0.5).",
    "lsgan": "LSGAN (Mao et al., 2017): the DCGAN networks with the least-squares loss, Adam(2e-4, beta_1=0.5).",
    "wgan_gp": "WGAN-GP (Gulrajani et al., 2017): critic without batch norm, Wasserstein loss, gradient penalty 10, "
    "5 critic steps per generator step, Adam(1e-4, beta_1=0, beta_2=0.9).",
    "cgan": "Conditional GAN (Mirza & Osindero, 2014) on the DCGAN networks: one-hot labels concatenated to z and "
    "given to the discriminator as one channel per class; non-saturating loss, Adam(2e-4, beta_1=0.5).",
    "sngan": "SNGAN (Miyato et al., 2018): the DCGAN generator, a discriminator with spectral normalization and no "
    "batch norm, hinge loss, Adam(2e-4, beta_1=0.5).",
}
_CONDITIONAL_NOTE = " Conditioned on the class (one-hot to z, one channel per class to the discriminator)."
ARCHITECTURES = ("dcgan", "resnet")

# Sizes per dataset. Digits: the papers' networks scaled down (latent 64,
# filters 32) and batch 32, so that `ganzoo train dcgan` draws recognisable
# digits in about a minute on two CPU cores (1320 generator steps).
# `wgan_gp_epochs`: a WGAN-GP train step eats 5 batches, so an epoch holds 5x
# fewer generator steps, each about 4x as costly (penalty, 5 critic steps).
DATASET_DEFAULTS = {
    "digits": {"latent_dim": 64, "filters": 32, "batch_size": 32, "epochs": 30, "wgan_gp_epochs": 120},
    "fashion_mnist": {"latent_dim": 100, "filters": 64, "batch_size": 64, "epochs": 10, "wgan_gp_epochs": 20},
    "mnist": {"latent_dim": 100, "filters": 64, "batch_size": 64, "epochs": 10, "wgan_gp_epochs": 20},
    "cifar10": {"latent_dim": 100, "filters": 64, "batch_size": 64, "epochs": 25, "wgan_gp_epochs": 50},
    "folder": {"latent_dim": 100, "filters": 64, "batch_size": 64, "epochs": 25, "wgan_gp_epochs": 50},
}

# -- defaults -------------------------------------------------------------------


def _optimizer_spec(name, learning_rate, beta_1, beta_2):
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)
    spec = json.loads(json.dumps(keras.saving.serialize_keras_object(optimizer)))
    # Keras reports the float32 value of its learning-rate variable (0.00019999999494757503); keep the paper's.
    spec["config"]["learning_rate"] = learning_rate
    return spec


def default_config(
    variant,
    *,
    dataset="digits",
    image_size=None,
    epochs=None,
    batch_size=None,
    seed=0,
    latent_dim=None,
    filters=None,
    ema_decay=None,
    conditional=None,
    architecture="dcgan",
    label_smoothing=0.0,
    fake_label_smoothing=0.0,
):
    """Returns a full preset dict for a variant, with the paper's hyper-parameters.

    - `dcgan`: BN+ReLU generator with a tanh output, LeakyReLU(0.2)
      discriminator with batch norm, `"non_saturating"` loss,
      Adam(2e-4, beta_1=0.5) for both networks.
    - `lsgan`: the same networks and optimizers, `"least_squares"` loss.
    - `wgan_gp`: critic without normalization, `"wasserstein"` loss,
      gradient penalty weight 10, 5 critic steps per generator step,
      Adam(1e-4, beta_1=0.0, beta_2=0.9) for both.
    - `sngan`: a spectrally normalized discriminator without batch norm,
      `"hinge"` loss, Adam(2e-4, beta_1=0.5), one critic step (Miyato et
      al.'s setting C for the standard CNN).
    - `cgan`: the DCGAN setup conditioned on the dataset's classes.

    Network sizes, batch size and epochs come from `DATASET_DEFAULTS`
    (the papers' 64-wide networks and latent 100, scaled down for digits).

    Args:
        variant: one of `VARIANTS`.
        dataset: a `ganzoo.data` dataset name.
        image_size: square image side; default the dataset's.
        epochs, batch_size, latent_dim, filters: override the defaults.
        seed: data order, initial weights and training noise.
        ema_decay: generator weight EMA decay, or None (the papers use none).
        conditional: condition on the dataset's classes (any variant);
            default True for `cgan` only.
        architecture: `"dcgan"` or `"resnet"` (`ganzoo.models.resnet`:
            128 filters by default, the papers' width).
        label_smoothing: real target `1 - label_smoothing` (one-sided, as
            Salimans et al. recommend).
        fake_label_smoothing: fake target (two-sided smoothing with both
            set, e.g. 0.1 and 0.1).

    Returns:
        A dict that passes `validate_config`.

    Raises:
        ValueError: an unknown variant, architecture or dataset, or a bad size.

    Example:
        >>> config = default_config("wgan_gp", epochs=5, conditional=True)
        >>> gan = build_gan(config)
    """
    from ganzoo import data
    from ganzoo.models.registry import network_entry

    if variant not in VARIANTS:
        raise ValueError(f"Expected variant to be one of {VARIANTS}. Received: variant={variant!r}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")
    if conditional is None:
        conditional = variant == "cgan"
    if not isinstance(conditional, bool) or (variant == "cgan" and not conditional):
        raise ValueError(
            f"Expected conditional to be True or False (True for cgan). Received: conditional={conditional!r}"
        )
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise ValueError(f"Expected image_size to be None or a positive int. Received: image_size={image_size!r}")
    shape = data.image_shape(dataset, image_size)
    if shape[0] != shape[1]:
        raise ValueError(f"Expected square images (recipe.image_size is one int). Received: image shape {shape}")
    kind = "folder" if dataset.startswith("folder:") else dataset
    sizes = DATASET_DEFAULTS[kind]
    latent_dim = sizes["latent_dim"] if latent_dim is None else latent_dim
    if filters is None:
        filters = 128 if architecture == "resnet" else sizes["filters"]
    num_classes = len(data.class_names(dataset)) if conditional else None
    if conditional and num_classes < 2:
        raise ValueError(
            f"Expected a dataset with at least 2 classes for a conditional GAN. Received: dataset={dataset!r}"
        )

    shared = {"image_shape": list(shape), "num_classes": num_classes, "filters": filters}
    generator = network_entry(f"{architecture}_generator", latent_dim=latent_dim, **shared)
    if architecture == "dcgan":
        normalization = None if variant in ("wgan_gp", "sngan") else "batch"
    else:  # the papers' ResNet critics: no batch norm (WGAN-GP, SNGAN); DCGAN-style losses keep it
        normalization = "batch" if variant in ("dcgan", "lsgan", "cgan") else None
    discriminator = network_entry(
        f"{architecture}_discriminator", **shared, normalization=normalization, spectral_norm=variant == "sngan"
    )
    if variant == "wgan_gp":
        gan = {"loss": "wasserstein", "discriminator_steps": 5, "gradient_penalty_weight": 10.0}
        optimizer = (1e-4, 0.0, 0.9)
    else:
        loss = {"lsgan": "least_squares", "sngan": "hinge"}.get(variant, "non_saturating")
        gan = {"loss": loss, "discriminator_steps": 1, "gradient_penalty_weight": 0.0}
        optimizer = (2e-4, 0.5, 0.999)
    default_epochs = sizes["wgan_gp_epochs"] if variant == "wgan_gp" else sizes["epochs"]
    description = _VARIANT_DESCRIPTIONS[variant] + (_CONDITIONAL_NOTE if conditional and variant != "cgan" else "")
    if architecture == "resnet":
        description += " Networks: the residual networks of the WGAN-GP and SNGAN papers."
    config = {
        "variant": variant,
        "description": description + f" Dataset: {dataset}, {shape[0]}x{shape[1]}.",
        "generator": generator,
        "discriminator": discriminator,
        "gan": {
            "latent_dim": latent_dim,
            **gan,
            "label_smoothing": label_smoothing,
            "fake_label_smoothing": fake_label_smoothing,
            "num_classes": num_classes,
        },
        "recipe": {
            "dataset": dataset,
            "image_size": shape[0],
            "batch_size": sizes["batch_size"] if batch_size is None else batch_size,
            "epochs": default_epochs if epochs is None else epochs,
            "seed": seed,
            "d_optimizer": _optimizer_spec("d_adam", *optimizer),
            "g_optimizer": _optimizer_spec("g_adam", *optimizer),
            "ema_decay": ema_decay,
        },
        "weights": {"file": None, "sha256": None, "size_bytes": None},
        "training": None,
        "quality": None,
    }
    return validate_config(config, source=f"default_config({variant!r})")


# -- builders --------------------------------------------------------------------


def build_network(entry, dtype=None, source="a network entry"):
    """Builds a preset's network entry (see `ganzoo.models.registry.build_network`)."""
    from ganzoo.models.registry import build_network as build

    return build(entry, dtype=dtype, source=source)


def build_optimizers(config):
    """Returns fresh `(d_optimizer, g_optimizer)` from `config["recipe"]` (see `ganzoo.training.optimizer`)."""
    from ganzoo.training.optimizer import build_optimizers as build

    return build(config)


def build_gan(config, compile=True, dtype=None, **compile_kwargs):
    """Builds the `ganzoo.GAN` a preset describes (see `GAN.from_recipe`).

    Example:
        >>> gan = build_gan(default_config("dcgan", epochs=1))
        >>> gan.fit(ganzoo.data.load("digits"), epochs=1)
    """
    from ganzoo.training.gan import GAN

    return GAN.from_recipe(config, compile=compile, dtype=dtype, **compile_kwargs)
