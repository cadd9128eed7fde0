"""The preset schema of `zoo_configs/README.md`, checked without importing Keras.

A preset is a JSON dict with the keys `variant`, `description`,
`generator`, `discriminator`, `gan`, `recipe`, `weights`, `training`,
`quality` (and optionally `onnx`). Each network is data: a builder name
from `ganzoo.client.network_args`, its arguments, and its parameter count.
Nothing in a preset is deserialized as Keras code; the optimizers are
serialized Keras optimizers, limited to Keras' own classes
(`ganzoo.client.serialized_keras`). One function checks each section.
"""

import json
import re

from ganzoo.client import network_args
from ganzoo.client.loss_names import LOSS_NAMES
from ganzoo.client.loss_names import TARGET_LOSSES as _TARGET_LOSSES
from ganzoo.client.network_args import DISCRIMINATOR_BUILDERS, GENERATOR_BUILDERS
from ganzoo.client.schema_checks import DICT, FLOAT, INT, STR, check_dict, check_range, where
from ganzoo.client.serialized_keras import check_optimizer, refuse_code  # noqa: F401  (refuse_code: re-exported)
from ganzoo.client import augment_policy
from ganzoo.client.augment_policy import check_preset_augment

VARIANTS = ("dcgan", "lsgan", "wgan_gp", "cgan", "sngan")
# Seeds seed NumPy, Keras and the data order: all take 32 bits.
_SEED_LIMIT = 2**32
_TOP_KEYS = ("variant", "description", "generator", "discriminator", "gan", "recipe", "weights", "training", "quality")
# Optional top-level keys: absent means null. `onnx` is the published ONNX
# generator (uint8 pixels out) that apps run with onnxruntime alone.
_OPTIONAL_TOP_KEYS = ("onnx",)
_NETWORK_KEYS = {"builder": (STR, False), "args": (DICT, False), "parameters": (INT, True)}
_GAN_KEYS = {
    "latent_dim": (INT, False),
    "loss": (STR, False),
    "discriminator_steps": (INT, False),
    "gradient_penalty_weight": (FLOAT, False),
    "label_smoothing": (FLOAT, False),
    "fake_label_smoothing": (FLOAT, False),
    "num_classes": (INT, True),
    **augment_policy.PRESET_KEYS,
    "r1_weight": (FLOAT, False),
    "r1_interval": (INT, False),
}
# Written by ganzoo 0.1 (one-sided smoothing only; no augmentation); read as these.
_OPTIONAL_GAN_KEYS = dict(fake_label_smoothing=0.0, r1_weight=0.0, r1_interval=1, **augment_policy.PRESET_DEFAULTS)
_RECIPE_KEYS = {
    "dataset": (STR, False),
    "image_size": (INT, False),
    "batch_size": (INT, False),
    "epochs": (INT, False),
    "seed": (INT, False),
    "d_optimizer": (DICT, False),
    "g_optimizer": (DICT, False),
    "ema_decay": (FLOAT, True),
}
_WEIGHTS_KEYS = {"file": (STR, True), "sha256": (STR, True), "size_bytes": (INT, True)}
_PLAIN_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ONNX_KEYS = {"file": (STR, False), "sha256": (STR, False), "size_bytes": (INT, False)}
_TRAINING_KEYS = {"seconds": (FLOAT, False), "command": (STR, False), "ganzoo_version": (STR, False)}


def _check_top(config, source):
    """The preset is an object with exactly the top-level keys, a str `description` and a known `variant`."""
    if not isinstance(config, dict):
        raise ValueError(
            f"Expected a preset config object{' in ' + source if source else ''}. Received: {config!r}"[:600]
        )
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
            raise ValueError(f"Expected {where(source, key)} to be str. Received: {key}={config[key]!r}")
    check_range(config["variant"] in VARIANTS, "variant", f"to be one of {VARIANTS}", config["variant"], source)


def _check_label_smoothing(gan, source):
    """Each smoothing in [0, 1), only for losses with target labels, and the fake target below the real one."""
    for key in ("label_smoothing", "fake_label_smoothing"):
        check_range(0 <= gan[key] < 1, f"gan.{key}", "to be in [0, 1)", gan[key], source)
        check_range(
            gan[key] == 0 or gan["loss"] in _TARGET_LOSSES,
            f"gan.{key}",
            f"to be 0 with gan.loss={gan['loss']!r}, which has no target labels to smooth (only {_TARGET_LOSSES} have)",
            gan[key],
            source,
        )
    check_range(
        gan["label_smoothing"] + gan["fake_label_smoothing"] < 1,
        "gan.fake_label_smoothing",
        f"to keep the fake target below the real one (1 - gan.label_smoothing = {1 - gan['label_smoothing']})",
        gan["fake_label_smoothing"],
        source,
    )


def _check_gan(config, source):
    """The `gan` settings: latent size, loss, critic steps, penalty, smoothing, and classes (set for a cGAN)."""
    gan = config["gan"]
    if isinstance(gan, dict):
        for key, default in _OPTIONAL_GAN_KEYS.items():
            gan.setdefault(key, default)
    check_dict(gan, _GAN_KEYS, "gan", source)
    check_range(
        1 <= gan["latent_dim"] <= network_args.MAX_LATENT_DIM,
        "gan.latent_dim",
        f"to be in [1, {network_args.MAX_LATENT_DIM}]",
        gan["latent_dim"],
        source,
    )
    check_range(gan["loss"] in LOSS_NAMES, "gan.loss", f"to be one of {LOSS_NAMES}", gan["loss"], source)
    for key, low in (("discriminator_steps", 1), ("gradient_penalty_weight", 0), ("r1_weight", 0), ("r1_interval", 1)):
        check_range(gan[key] >= low, f"gan.{key}", f"to be >= {low}", gan[key], source)
    _check_label_smoothing(gan, source)
    check_preset_augment(gan, source)
    classes = gan["num_classes"]
    check_range(
        classes is None or 2 <= classes <= network_args.MAX_CLASSES,
        "gan.num_classes",
        f"to be null or in [2, {network_args.MAX_CLASSES}]",
        classes,
        source,
    )
    check_range(
        config["variant"] != "cgan" or classes is not None,
        "gan.num_classes",
        "to be set when variant is 'cgan'",
        classes,
        source,
    )


def _check_recipe(recipe, source):
    """The `recipe`: data, sizes, a 32-bit seed, the two optimizers and the EMA decay."""
    check_dict(recipe, _RECIPE_KEYS, "recipe", source)
    for key in ("image_size", "batch_size", "epochs"):
        check_range(recipe[key] >= 1, f"recipe.{key}", "to be >= 1", recipe[key], source)
    check_range(
        recipe["image_size"] <= network_args.MAX_SIDE,
        "recipe.image_size",
        f"to be at most {network_args.MAX_SIDE}",
        recipe["image_size"],
        source,
    )
    check_range(0 <= recipe["seed"] < _SEED_LIMIT, "recipe.seed", "to be in [0, 2**32)", recipe["seed"], source)
    for key in ("d_optimizer", "g_optimizer"):
        check_optimizer(recipe[key], f"recipe.{key}", source)
    check_range(
        recipe["ema_decay"] is None or 0 < recipe["ema_decay"] < 1,
        "recipe.ema_decay",
        "to be null or in (0, 1)",
        recipe["ema_decay"],
        source,
    )


def _check_network(entry, key, builders, source):
    """Checks a network entry's arguments against its builder's declaration and counts its weights (builds nothing)."""
    check_dict(entry, _NETWORK_KEYS, key, source)
    check_range(entry["builder"] in builders, f"{key}.builder", f"to be one of {builders}", entry["builder"], source)
    return network_args.check_args(entry["builder"], entry["args"], path=f"{key}.args", source=source)[1]


def _check_agreement(config, source):
    """The networks agree with each other and with `gan` and `recipe`: latent size, classes, image shape."""
    gan, g_args, d_args = config["gan"], config["generator"]["args"], config["discriminator"]["args"]
    check_range(
        g_args.get("latent_dim") == gan["latent_dim"],
        "generator.args.latent_dim",
        f"to equal gan.latent_dim={gan['latent_dim']}",
        g_args.get("latent_dim"),
        source,
    )
    for key, args in (("generator", g_args), ("discriminator", d_args)):
        check_range(
            args.get("num_classes") == gan["num_classes"],
            f"{key}.args.num_classes",
            f"to equal gan.num_classes={gan['num_classes']}",
            args.get("num_classes"),
            source,
        )
    check_range(
        d_args["image_shape"] == g_args["image_shape"],
        "discriminator.args.image_shape",
        f"to equal generator.args.image_shape={g_args['image_shape']}",
        d_args["image_shape"],
        source,
    )
    size = config["recipe"]["image_size"]
    side = g_args["image_shape"][:2]
    check_range(side == [size, size], "recipe.image_size", f"to be the networks' image side ({side})", size, source)


def _check_networks(config, source):
    """The `generator` and `discriminator` entries: their builders' arguments, agreement, and weight counts."""
    if isinstance(config["generator"], dict) and "class_name" in config["generator"]:
        raise ValueError(
            f"Expected generator in {source or 'the config'} to be {{'builder': ..., 'args': ..., 'parameters': ...}}. "
            "Received: a serialized Keras graph, the preset format of ganzoo 0.1, which can carry code; "
            "upgrade the preset file or run folder with `ganzoo migrate PATH`"
        )
    counts = {
        "generator": _check_network(config["generator"], "generator", GENERATOR_BUILDERS, source),
        "discriminator": _check_network(config["discriminator"], "discriminator", DISCRIMINATOR_BUILDERS, source),
    }
    _check_agreement(config, source)
    for key, parameters in counts.items():  # after the agreement checks, which name the argument that differs
        check_range(
            config[key]["parameters"] is None or config[key]["parameters"] == parameters,
            f"{key}.parameters",
            f"to be null or the {parameters} weights that {config[key]['builder']}({key}.args) has",
            config[key]["parameters"],
            source,
        )


def _check_onnx(published, weights_file, source):
    """The published ONNX generator: a plain `.onnx` file name of its own, its sha256 and its size."""
    check_dict(published, _ONNX_KEYS, "onnx", source)
    name = published["file"]
    plain = _PLAIN_FILE.fullmatch(name) is not None and name.endswith(".onnx")
    check_range(plain, "onnx.file", "to be a plain file name ending in .onnx", name, source)
    check_range(name != weights_file, "onnx.file", "to differ from weights.file", name, source)
    digest = published["sha256"]
    check_range(_SHA256.fullmatch(digest) is not None, "onnx.sha256", "to be 64 lowercase hex digits", digest, source)
    check_range(published["size_bytes"] >= 1, "onnx.size_bytes", "to be >= 1", published["size_bytes"], source)


def _check_files(config, source):
    """The `weights` entry (null fields before publishing) and the optional `onnx` entry."""
    check_dict(config["weights"], _WEIGHTS_KEYS, "weights", source)
    if config.get("onnx") is not None:
        _check_onnx(config["onnx"], config["weights"]["file"], source)


def _check_records(config, source):
    """What the run recorded: `training` (null or its fields) and `quality` (null or any object)."""
    if config["training"] is not None:
        check_dict(config["training"], _TRAINING_KEYS, "training", source)
    quality = config["quality"]
    if quality is not None and not isinstance(quality, dict):
        raise ValueError(
            f"Expected {where(source, 'quality')} to be null or an object. Received: quality={quality!r}"[:600]
        )


def validate_config(config, source=None):
    """Checks a preset dict against the schema of `zoo_configs/README.md`.

    Strict: a missing or unknown key, a wrong type or an out-of-range value
    is an error naming the key path (e.g. `recipe.batch_size`). Integers
    are accepted where a float is expected; booleans are never numbers.
    Network arguments are checked against their builder's declaration in
    `ganzoo.client.network_args` (types and bounds), and for agreement with `gan`
    and `recipe`; the weights they give are counted without building
    anything, compared to `parameters` and to `network_args.MAX_PARAMETERS`.

    Args:
        config: the preset dict, as read from JSON. A missing
            `gan.fake_label_smoothing` (older presets) is filled in as 0.
        source: where it came from (a file path or preset name), for errors.

    Returns:
        `config`.

    Raises:
        ValueError: naming the first offending key path.

    Example:
        >>> validate_config(default_config("dcgan"))["variant"]
        'dcgan'
    """
    _check_top(config, source)
    _check_gan(config, source)
    _check_recipe(config["recipe"], source)
    _check_networks(config, source)
    _check_files(config, source)
    _check_records(config, source)
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
