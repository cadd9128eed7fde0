"""Preset configs as code: the schema of `zoo_configs/README.md`, defaults, builders.

A preset is a JSON dict with the keys `variant`, `description`,
`generator`, `discriminator`, `gan`, `recipe`, `weights`, `training` and
`quality`. `validate_config` checks it strictly; `default_config` writes
one for each variant following its paper; `build_gan` and
`build_optimizers` turn one into Keras objects.

The two network specs are `keras.saving.serialize_keras_object` output,
made precision-neutral by `network_spec`: layers that follow the global
dtype policy store `"dtype": null`, layers pinned to a dtype (the float32
output layers) keep it. Building a spec under `mixed_float16` therefore
gives a mixed-precision network with float32 outputs.

This module imports Keras only inside the functions that build objects, so
validating a preset stays cheap.
"""

import copy
import json
import math
import numbers
import re

VARIANTS = ("dcgan", "lsgan", "wgan_gp", "cgan")
# Kept equal to `ganzoo.losses.LOSSES` (a test checks) so that validation
# needs no Keras import.
LOSS_NAMES = ("hinge", "least_squares", "minimax", "non_saturating", "wasserstein")

# Networks are serialized under this policy so that the layers that follow
# the global policy can be told from those pinned to float32.
_PROBE_POLICY = "mixed_bfloat16"

_VARIANT_DESCRIPTIONS = {
    "dcgan": "DCGAN (Radford et al., 2015): BN+ReLU generator, LeakyReLU discriminator with batch norm, "
    "non-saturating loss, Adam(2e-4, beta_1=0.5).",
    "lsgan": "LSGAN (Mao et al., 2017): the DCGAN networks with the least-squares loss, Adam(2e-4, beta_1=0.5).",
    "wgan_gp": "WGAN-GP (Gulrajani et al., 2017): critic without batch norm, Wasserstein loss, gradient penalty 10, "
    "5 critic steps per generator step, Adam(1e-4, beta_1=0, beta_2=0.9).",
    "cgan": "Conditional GAN (Mirza & Osindero, 2014) on the DCGAN networks: one-hot labels concatenated to z and "
    "given to the discriminator as one channel per class; non-saturating loss, Adam(2e-4, beta_1=0.5).",
}

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

# -- schema -----------------------------------------------------------------

_INT, _FLOAT, _STR, _DICT = "int", "float", "str", "dict"
_TOP_KEYS = ("variant", "description", "generator", "discriminator", "gan", "recipe", "weights", "training", "quality")
# Optional top-level keys: absent means null. `onnx` is the published ONNX
# generator (uint8 pixels out) that apps run with onnxruntime alone.
_OPTIONAL_TOP_KEYS = ("onnx",)
_GAN_KEYS = {
    "latent_dim": (_INT, False),
    "loss": (_STR, False),
    "discriminator_steps": (_INT, False),
    "gradient_penalty_weight": (_FLOAT, False),
    "label_smoothing": (_FLOAT, False),
    "num_classes": (_INT, True),
}
_RECIPE_KEYS = {
    "dataset": (_STR, False),
    "image_size": (_INT, False),
    "batch_size": (_INT, False),
    "epochs": (_INT, False),
    "seed": (_INT, False),
    "d_optimizer": (_DICT, False),
    "g_optimizer": (_DICT, False),
    "ema_decay": (_FLOAT, True),
}
_WEIGHTS_KEYS = {"file": (_STR, True), "sha256": (_STR, True), "size_bytes": (_INT, True)}
_PLAIN_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ONNX_KEYS = {"file": (_STR, False), "sha256": (_STR, False), "size_bytes": (_INT, False)}
_TRAINING_KEYS = {"seconds": (_FLOAT, False), "command": (_STR, False), "ganzoo_version": (_STR, False)}


def _where(source, path):
    return f"{path} in {source}" if source else path


def _type_ok(value, kind):
    if kind == _INT:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == _FLOAT:  # JSON writes 10.0 as 10.0, but a hand-written 10 is a number too
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == _STR:
        return isinstance(value, str)
    return isinstance(value, dict)


def _check_dict(value, keys, path, source):
    """Checks that `value` is a dict with exactly `keys` ({key: (type, nullable)})."""
    if not isinstance(value, dict):
        raise ValueError(f"Expected {_where(source, path)} to be an object. Received: {path}={value!r}")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ValueError(
            f"Expected only the keys {sorted(keys)} in {_where(source, path)}. "
            f"Received unknown key {path}.{unknown[0]}"
        )
    missing = sorted(set(keys) - set(value))
    if missing:
        raise ValueError(f"Expected the key {path}.{missing[0]} in {_where(source, path)}. Received: no such key")
    for key, (kind, nullable) in keys.items():
        item = value[key]
        if item is None and nullable:
            continue
        if not _type_ok(item, kind):
            wanted = kind + (" or null" if nullable else "")
            raise ValueError(
                f"Expected {_where(source, f'{path}.{key}')} to be {wanted}. "
                f"Received: {path}.{key}={item!r} ({type(item).__name__})"
            )


def _check_range(ok, path, rule, value, source):
    if not ok:
        raise ValueError(f"Expected {_where(source, path)} {rule}. Received: {path}={value!r}")


def _check_serialized(value, path, source):
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str) or not isinstance(
        value.get("config"), dict
    ):
        raise ValueError(
            f"Expected {_where(source, path)} to be keras.saving.serialize_keras_object output "
            f"(an object with 'class_name' and 'config'). Received: {path}={str(value)[:200]}"
        )


def validate_config(config, source=None):
    """Checks a preset dict against the schema of `zoo_configs/README.md`.

    Strict: a missing or unknown key, a wrong type or an out-of-range value
    is an error naming the key path (e.g. `recipe.batch_size`). Integers
    are accepted where a float is expected; booleans are never numbers.
    The network and optimizer specs are checked for shape only
    (`class_name` and `config`); `build_gan` checks the rest.

    Args:
        config: the preset dict, as read from JSON.
        source: where it came from (a file path or preset name), for errors.

    Returns:
        `config`, unchanged.

    Raises:
        ValueError: naming the first offending key path.

    Example:
        >>> validate_config(default_config("dcgan"))["variant"]
        'dcgan'
    """
    if not isinstance(config, dict):
        raise ValueError(f"Expected a preset config object{' in ' + source if source else ''}. Received: {config!r}")
    unknown = sorted(set(config) - set(_TOP_KEYS) - set(_OPTIONAL_TOP_KEYS))
    if unknown:
        raise ValueError(
            f"Expected only the keys {sorted(_TOP_KEYS + _OPTIONAL_TOP_KEYS)} in {source or 'the config'}. "
            f"Received unknown key {unknown[0]}"
        )
    missing = sorted(set(_TOP_KEYS) - set(config))
    if missing:
        raise ValueError(f"Expected the key {missing[0]} in {source or 'the config'}. Received: no such key")
    for key in ("variant", "description"):
        if not isinstance(config[key], str):
            raise ValueError(f"Expected {_where(source, key)} to be str. Received: {key}={config[key]!r}")
    _check_range(config["variant"] in VARIANTS, "variant", f"to be one of {VARIANTS}", config["variant"], source)
    for key in ("generator", "discriminator"):
        _check_serialized(config[key], key, source)

    gan = config["gan"]
    _check_dict(gan, _GAN_KEYS, "gan", source)
    _check_range(gan["latent_dim"] >= 1, "gan.latent_dim", "to be >= 1", gan["latent_dim"], source)
    _check_range(gan["loss"] in LOSS_NAMES, "gan.loss", f"to be one of {LOSS_NAMES}", gan["loss"], source)
    _check_range(gan["discriminator_steps"] >= 1, "gan.discriminator_steps", "to be >= 1", gan["discriminator_steps"], source)
    _check_range(gan["gradient_penalty_weight"] >= 0, "gan.gradient_penalty_weight", "to be >= 0",
                 gan["gradient_penalty_weight"], source)
    _check_range(0 <= gan["label_smoothing"] < 1, "gan.label_smoothing", "to be in [0, 1)", gan["label_smoothing"], source)
    _check_range(gan["num_classes"] is None or gan["num_classes"] >= 2, "gan.num_classes", "to be null or >= 2",
                 gan["num_classes"], source)
    _check_range((gan["num_classes"] is not None) == (config["variant"] == "cgan"), "gan.num_classes",
                 f"to be set exactly when variant is 'cgan' (variant={config['variant']!r})", gan["num_classes"], source)

    recipe = config["recipe"]
    _check_dict(recipe, _RECIPE_KEYS, "recipe", source)
    for key in ("image_size", "batch_size", "epochs"):
        _check_range(recipe[key] >= 1, f"recipe.{key}", "to be >= 1", recipe[key], source)
    _check_range(recipe["seed"] >= 0, "recipe.seed", "to be >= 0", recipe["seed"], source)
    for key in ("d_optimizer", "g_optimizer"):
        _check_serialized(recipe[key], f"recipe.{key}", source)
        rate = recipe[key]["config"].get("learning_rate")
        ok = rate is None or isinstance(rate, dict) or (
            isinstance(rate, numbers.Real) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0)
        _check_range(ok, f"recipe.{key}.config.learning_rate", "to be a positive number or a serialized schedule",
                     rate, source)
    _check_range(recipe["ema_decay"] is None or 0 < recipe["ema_decay"] < 1, "recipe.ema_decay",
                 "to be null or in (0, 1)", recipe["ema_decay"], source)

    _check_dict(config["weights"], _WEIGHTS_KEYS, "weights", source)
    if config.get("onnx") is not None:
        published = config["onnx"]
        _check_dict(published, _ONNX_KEYS, "onnx", source)
        _check_range(_PLAIN_FILE.fullmatch(published["file"]) is not None and published["file"].endswith(".onnx"),
                     "onnx.file", "to be a plain file name ending in .onnx", published["file"], source)
        _check_range(published["file"] != config["weights"]["file"], "onnx.file", "to differ from weights.file",
                     published["file"], source)
        _check_range(_SHA256.fullmatch(published["sha256"]) is not None, "onnx.sha256", "to be 64 lowercase hex digits",
                     published["sha256"], source)
        _check_range(published["size_bytes"] >= 1, "onnx.size_bytes", "to be >= 1", published["size_bytes"], source)
    if config["training"] is not None:
        _check_dict(config["training"], _TRAINING_KEYS, "training", source)
    if config["quality"] is not None and not isinstance(config["quality"], dict):
        raise ValueError(
            f"Expected {_where(source, 'quality')} to be null or an object. Received: quality={config['quality']!r}"
        )
    return config


def load_config_file(path):
    """Reads and validates a preset JSON file. Raises `ValueError` naming the file."""
    path = str(path)
    with open(path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except (json.JSONDecodeError, RecursionError) as error:
            raise ValueError(f"Expected a JSON preset in {path}. Received invalid JSON: {error}") from None
    return validate_config(config, source=path)


# -- networks as data ---------------------------------------------------------


def _neutralize(value):
    if isinstance(value, list):
        return [_neutralize(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "dtype" and isinstance(item, dict) and item.get("config", {}).get("name") == _PROBE_POLICY:
            item = None  # follows the global policy
        elif key == "dtype" and item == "bfloat16":
            item = "float32"  # a symbolic tensor's dtype, informational; as a float32 build records it
        out[key] = _neutralize(item)
    return out


def network_spec(build_fn):
    """Serializes the network `build_fn()` builds, independent of precision.

    The network is built under a probe mixed policy: layers that follow the
    global policy get `"dtype": null` in the spec, layers built with an
    explicit dtype (e.g. `dtype="float32"` outputs) keep it.

    Args:
        build_fn: a callable with no arguments returning a functional model.

    Returns:
        A JSON-compatible dict; `build_network(spec)` rebuilds the network
        under whatever global policy is set then.

    Example:
        >>> spec = network_spec(lambda: dcgan_generator((16, 16, 1), 64))
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(_PROBE_POLICY)
    try:
        model = build_fn()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return _neutralize(json.loads(json.dumps(keras.saving.serialize_keras_object(model))))


# Layers whose config carries Python code; never built, whatever Keras' safe-mode setting.
_UNSAFE_CLASSES = ("Lambda", "__lambda__", "TorchModuleWrapper")


def _walk(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def refuse_code(spec, source):
    """Refuses a serialized Keras object (a preset's network, a `.keras` config) that would run code on load.

    Keras' `safe_mode=True` refuses serialized lambdas, but
    `keras.config.enable_unsafe_deserialization()` turns that off for the
    whole process; this check does not depend on that setting.

    Raises:
        ValueError: a `Lambda` (or other code-carrying) layer.
    """
    for item in _walk(spec):
        kind = item.get("class_name")
        if kind in _UNSAFE_CLASSES:
            layer = item.get("config", {}).get("name") if isinstance(item.get("config"), dict) else None
            raise ValueError(
                f"Refusing to load {source}: it holds a {kind} layer{f' {layer!r}' if layer else ''}, whose Python "
                "code would run on load. Expected a generator made of Keras and ganzoo layers only."
            )


def build_network(spec, source="a network spec"):
    """Builds a network (or any Keras object) from its spec; `spec` is not modified.

    Raises:
        ValueError: the spec would run code (see `refuse_code`).
    """
    import keras

    refuse_code(spec, source)
    # deserialize_keras_object consumes parts of the dict it is given.
    return keras.saving.deserialize_keras_object(copy.deepcopy(spec))


def materialize_dtypes(spec, policy="float32"):
    """Returns `spec` with every null layer dtype set to `policy`, as a build under it serializes."""
    import keras

    policy = keras.saving.serialize_keras_object(keras.DTypePolicy(policy))

    def walk(value):
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        return {k: (copy.deepcopy(policy) if k == "dtype" and v is None else walk(v)) for k, v in value.items()}

    return walk(spec)


# -- defaults -------------------------------------------------------------------


def _optimizer_spec(name, learning_rate, beta_1, beta_2):
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)
    spec = json.loads(json.dumps(keras.saving.serialize_keras_object(optimizer)))
    # Keras reports the float32 value of its learning-rate variable (0.00019999999494757503); keep the paper's.
    spec["config"]["learning_rate"] = learning_rate
    return spec


def default_config(variant, *, dataset="digits", image_size=None, epochs=None, batch_size=None, seed=0,
                   latent_dim=None, filters=None, ema_decay=None):
    """Returns a full preset dict for a variant, with the paper's hyper-parameters.

    - `dcgan`: BN+ReLU generator with a tanh output, LeakyReLU(0.2)
      discriminator with batch norm, `"non_saturating"` loss,
      Adam(2e-4, beta_1=0.5) for both networks.
    - `lsgan`: the same networks and optimizers, `"least_squares"` loss.
    - `wgan_gp`: critic without normalization, `"wasserstein"` loss,
      gradient penalty weight 10, 5 critic steps per generator step,
      Adam(1e-4, beta_1=0.0, beta_2=0.9) for both.
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

    Returns:
        A dict that passes `validate_config`.

    Raises:
        ValueError: an unknown variant or dataset, or a bad size.

    Example:
        >>> config = default_config("wgan_gp", epochs=5)
        >>> gan = build_gan(config)
    """
    from ganzoo import data
    from ganzoo.models import dcgan_discriminator, dcgan_generator

    if variant not in VARIANTS:
        raise ValueError(f"Expected variant to be one of {VARIANTS}. Received: variant={variant!r}")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise ValueError(f"Expected image_size to be None or a positive int. Received: image_size={image_size!r}")
    shape = data.image_shape(dataset, image_size)
    if shape[0] != shape[1]:
        raise ValueError(f"Expected square images (recipe.image_size is one int). Received: image shape {shape}")
    kind = "folder" if dataset.startswith("folder:") else dataset
    sizes = DATASET_DEFAULTS[kind]
    latent_dim = sizes["latent_dim"] if latent_dim is None else latent_dim
    filters = sizes["filters"] if filters is None else filters
    num_classes = len(data.class_names(dataset)) if variant == "cgan" else None
    if variant == "cgan" and num_classes < 2:
        raise ValueError(f"Expected a dataset with at least 2 classes for a cGAN. Received: dataset={dataset!r}")
    normalization = None if variant == "wgan_gp" else "batch"

    generator = network_spec(
        lambda: dcgan_generator(shape, latent_dim, num_classes=num_classes, filters=filters)
    )
    discriminator = network_spec(
        lambda: dcgan_discriminator(shape, num_classes=num_classes, filters=filters, normalization=normalization)
    )
    if variant == "wgan_gp":
        gan = {"loss": "wasserstein", "discriminator_steps": 5, "gradient_penalty_weight": 10.0}
        optimizer = (1e-4, 0.0, 0.9)
    else:
        gan = {"loss": "least_squares" if variant == "lsgan" else "non_saturating", "discriminator_steps": 1,
               "gradient_penalty_weight": 0.0}
        optimizer = (2e-4, 0.5, 0.999)
    default_epochs = sizes["wgan_gp_epochs"] if variant == "wgan_gp" else sizes["epochs"]
    config = {
        "variant": variant,
        "description": _VARIANT_DESCRIPTIONS[variant] + f" Dataset: {dataset}, {shape[0]}x{shape[1]}.",
        "generator": generator,
        "discriminator": discriminator,
        "gan": {"latent_dim": latent_dim, **gan, "label_smoothing": 0.0, "num_classes": num_classes},
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


def build_optimizers(config):
    """Returns fresh `(d_optimizer, g_optimizer)` from `config["recipe"]`."""
    validate_config(config)
    return build_network(config["recipe"]["d_optimizer"]), build_network(config["recipe"]["g_optimizer"])


def build_gan(config, compile=True, **compile_kwargs):
    """Builds the `ganzoo.GAN` a preset describes, under the current dtype policy.

    Args:
        config: a preset dict (validated here).
        compile: also compile it with `build_optimizers(config)`.
        **compile_kwargs: passed to `GAN.compile`, e.g. `jit_compile=True`.

    Returns:
        A `ganzoo.GAN`, compiled unless `compile=False`.

    Example:
        >>> gan = build_gan(default_config("dcgan", epochs=1))
        >>> gan.fit(ganzoo.data.load("digits"), epochs=1)
    """
    from ganzoo.gan import GAN

    validate_config(config)
    gan = GAN(build_network(config["generator"]), build_network(config["discriminator"]), **config["gan"])
    if compile:
        gan.compile(*build_optimizers(config), **compile_kwargs)
    return gan
