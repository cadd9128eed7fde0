"""The preset schema of `zoo_configs/README.md`, checked without importing Keras.

A preset is a JSON dict with the keys `variant`, `description`,
`generator`, `discriminator`, `gan`, `recipe`, `weights`, `training`,
`quality` (and optionally `onnx`). Each network is data: a builder name
from `ganzoo.models.registry`, its arguments, and its parameter count.
Nothing in a preset is deserialized as Keras code; the optimizers are
serialized Keras optimizers, limited to Keras' own classes.
"""

import json
import math
import numbers
import re

from ganzoo.client import network_args
from ganzoo.client.network_args import DISCRIMINATOR_BUILDERS, GENERATOR_BUILDERS  # noqa: F401  (re-exported)

VARIANTS = ("dcgan", "lsgan", "wgan_gp", "cgan", "sngan")
# Kept equal to `ganzoo.training.losses.LOSSES` and its `smoothable` losses (tests check) so that validation needs no Keras
# import. Label smoothing moves targets: the losses without target labels (hinge, wasserstein) have none to move.
LOSS_NAMES = ("hinge", "least_squares", "minimax", "non_saturating", "wasserstein")
_TARGET_LOSSES = ("least_squares", "minimax", "non_saturating")
# Seeds seed NumPy, Keras and the data order: all take 32 bits.
_SEED_LIMIT = 2**32
OPTIMIZERS = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "SGD", "Lion", "Adagrad", "Adadelta", "Adafactor", "Ftrl")
LEARNING_RATE_SCHEDULES = (
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
)

_INT, _FLOAT, _STR, _DICT = "int", "float", "str", "dict"
_TOP_KEYS = ("variant", "description", "generator", "discriminator", "gan", "recipe", "weights", "training", "quality")
# Optional top-level keys: absent means null. `onnx` is the published ONNX
# generator (uint8 pixels out) that apps run with onnxruntime alone.
_OPTIONAL_TOP_KEYS = ("onnx",)
_NETWORK_KEYS = {"builder": (_STR, False), "args": (_DICT, False), "parameters": (_INT, True)}
_GAN_KEYS = {
    "latent_dim": (_INT, False),
    "loss": (_STR, False),
    "discriminator_steps": (_INT, False),
    "gradient_penalty_weight": (_FLOAT, False),
    "label_smoothing": (_FLOAT, False),
    "fake_label_smoothing": (_FLOAT, False),
    "num_classes": (_INT, True),
}
# Written by ganzoo 0.1 (one-sided smoothing only); read as 0.
_OPTIONAL_GAN_KEYS = {"fake_label_smoothing": 0.0}
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
# Layers whose config carries Python code; never built, whatever Keras' safe-mode setting.
_UNSAFE_CLASSES = ("Lambda", "__lambda__", "TorchModuleWrapper")


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
        raise ValueError(f"Expected {_where(source, path)} to be an object. Received: {path}={value!r}"[:600])
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ValueError(
            f"Expected only the keys {sorted(keys)} in {_where(source, path)}. Received unknown key {path}.{unknown[0]}"
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
                f"Received: {path}.{key}={item!r} ({type(item).__name__})"[:600]
            )


def _check_range(ok, path, rule, value, source):
    if not ok:
        raise ValueError(f"Expected {_where(source, path)} {rule}. Received: {path}={value!r}"[:600])


def _walk(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def refuse_code(spec, source):
    """Refuses a serialized Keras object (a `.keras` file's config, an optimizer) that would run code on load.

    Keras' `safe_mode=True` refuses serialized lambdas, but
    `keras.config.enable_unsafe_deserialization()` turns that off for the
    whole process; this check does not depend on that setting.

    Raises:
        ValueError: a `Lambda` (or other code-carrying) layer.
    """
    for item in _walk(spec):
        kind = item.get("class_name")
        config = item.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        if kind in _UNSAFE_CLASSES:
            raise ValueError(
                f"Refusing to load {source}: it holds a {kind} layer{f' {name!r}' if name else ''}, whose Python "
                "code would run on load. Expected Keras and ganzoo layers only."
            )


def _keras_only(spec, source):
    """Refuses any object in `spec` named from a module outside the `keras` package, or by a registered name."""
    for item in _walk(spec):
        registered = item.get("registered_name")
        if registered is not None and registered != item.get("class_name"):
            raise ValueError(
                f"Expected only Keras classes in {source}. Received: registered_name={registered!r} for "
                f"{item.get('class_name')!r}"
            )
        module = item.get("module")
        if (
            isinstance(item.get("class_name"), str)
            and module is not None
            and not (isinstance(module, str) and (module == "keras" or module.startswith("keras.")))
        ):
            raise ValueError(
                f"Expected only Keras classes in {source}. Received: {item['class_name']} from the module {module!r}"
            )


def _check_network(entry, key, builders, source):
    """Checks a network entry's arguments against its builder's declaration and counts its weights (builds nothing)."""
    _check_dict(entry, _NETWORK_KEYS, key, source)
    _check_range(entry["builder"] in builders, f"{key}.builder", f"to be one of {builders}", entry["builder"], source)
    return network_args.check_args(entry["builder"], entry["args"], path=f"{key}.args", source=source)[1]


def _check_optimizer(spec, path, source):
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(
            f"Expected {_where(source, path)} to be a serialized Keras optimizer (an object with 'class_name' and "
            f"'config'). Received: {path}={str(spec)[:200]}"
        )
    _check_range(
        spec.get("class_name") in OPTIMIZERS,
        f"{path}.class_name",
        f"to be one of {OPTIMIZERS}",
        spec.get("class_name"),
        source,
    )
    refuse_code(spec, _where(source, path))
    _keras_only(spec, _where(source, path))
    rate = spec["config"].get("learning_rate")
    if isinstance(rate, dict):
        _check_range(
            rate.get("class_name") in LEARNING_RATE_SCHEDULES,
            f"{path}.config.learning_rate.class_name",
            f"to be one of {LEARNING_RATE_SCHEDULES}",
            rate.get("class_name"),
            source,
        )
    ok = (
        rate is None
        or isinstance(rate, dict)
        or (isinstance(rate, numbers.Real) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0)
    )
    _check_range(ok, f"{path}.config.learning_rate", "to be a positive number or a serialized schedule", rate, source)


def _check_networks(config, source):
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
    gan, g_args, d_args = config["gan"], config["generator"]["args"], config["discriminator"]["args"]
    _check_range(
        g_args.get("latent_dim") == gan["latent_dim"],
        "generator.args.latent_dim",
        f"to equal gan.latent_dim={gan['latent_dim']}",
        g_args.get("latent_dim"),
        source,
    )
    for key, args in (("generator", g_args), ("discriminator", d_args)):
        _check_range(
            args.get("num_classes") == gan["num_classes"],
            f"{key}.args.num_classes",
            f"to equal gan.num_classes={gan['num_classes']}",
            args.get("num_classes"),
            source,
        )
    _check_range(
        d_args["image_shape"] == g_args["image_shape"],
        "discriminator.args.image_shape",
        f"to equal generator.args.image_shape={g_args['image_shape']}",
        d_args["image_shape"],
        source,
    )
    size = config["recipe"]["image_size"]
    _check_range(
        g_args["image_shape"][:2] == [size, size],
        "recipe.image_size",
        f"to be the networks' image side ({g_args['image_shape'][:2]})",
        size,
        source,
    )
    for key, parameters in counts.items():  # after the agreement checks, which name the argument that differs
        _check_range(
            config[key]["parameters"] is None or config[key]["parameters"] == parameters,
            f"{key}.parameters",
            f"to be null or the {parameters} weights that {config[key]['builder']}({key}.args) has",
            config[key]["parameters"],
            source,
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
            raise ValueError(f"Expected {_where(source, key)} to be str. Received: {key}={config[key]!r}")
    _check_range(config["variant"] in VARIANTS, "variant", f"to be one of {VARIANTS}", config["variant"], source)

    gan = config["gan"]
    if isinstance(gan, dict):
        for key, default in _OPTIONAL_GAN_KEYS.items():
            gan.setdefault(key, default)
    _check_dict(gan, _GAN_KEYS, "gan", source)
    _check_range(
        1 <= gan["latent_dim"] <= network_args.MAX_LATENT_DIM,
        "gan.latent_dim",
        f"to be in [1, {network_args.MAX_LATENT_DIM}]",
        gan["latent_dim"],
        source,
    )
    _check_range(gan["loss"] in LOSS_NAMES, "gan.loss", f"to be one of {LOSS_NAMES}", gan["loss"], source)
    _check_range(
        gan["discriminator_steps"] >= 1, "gan.discriminator_steps", "to be >= 1", gan["discriminator_steps"], source
    )
    _check_range(
        gan["gradient_penalty_weight"] >= 0,
        "gan.gradient_penalty_weight",
        "to be >= 0",
        gan["gradient_penalty_weight"],
        source,
    )
    for key in ("label_smoothing", "fake_label_smoothing"):
        _check_range(0 <= gan[key] < 1, f"gan.{key}", "to be in [0, 1)", gan[key], source)
        _check_range(
            gan[key] == 0 or gan["loss"] in _TARGET_LOSSES,
            f"gan.{key}",
            f"to be 0 with gan.loss={gan['loss']!r}, which has no target labels to smooth (only {_TARGET_LOSSES} have)",
            gan[key],
            source,
        )
    _check_range(
        gan["label_smoothing"] + gan["fake_label_smoothing"] < 1,
        "gan.fake_label_smoothing",
        f"to keep the fake target below the real one (1 - gan.label_smoothing = {1 - gan['label_smoothing']})",
        gan["fake_label_smoothing"],
        source,
    )
    _check_range(
        gan["num_classes"] is None or 2 <= gan["num_classes"] <= network_args.MAX_CLASSES,
        "gan.num_classes",
        f"to be null or in [2, {network_args.MAX_CLASSES}]",
        gan["num_classes"],
        source,
    )
    _check_range(
        config["variant"] != "cgan" or gan["num_classes"] is not None,
        "gan.num_classes",
        "to be set when variant is 'cgan'",
        gan["num_classes"],
        source,
    )

    recipe = config["recipe"]
    _check_dict(recipe, _RECIPE_KEYS, "recipe", source)
    for key in ("image_size", "batch_size", "epochs"):
        _check_range(recipe[key] >= 1, f"recipe.{key}", "to be >= 1", recipe[key], source)
    _check_range(
        recipe["image_size"] <= network_args.MAX_SIDE,
        "recipe.image_size",
        f"to be at most {network_args.MAX_SIDE}",
        recipe["image_size"],
        source,
    )
    _check_range(0 <= recipe["seed"] < _SEED_LIMIT, "recipe.seed", "to be in [0, 2**32)", recipe["seed"], source)
    for key in ("d_optimizer", "g_optimizer"):
        _check_optimizer(recipe[key], f"recipe.{key}", source)
    _check_range(
        recipe["ema_decay"] is None or 0 < recipe["ema_decay"] < 1,
        "recipe.ema_decay",
        "to be null or in (0, 1)",
        recipe["ema_decay"],
        source,
    )
    _check_networks(config, source)

    _check_dict(config["weights"], _WEIGHTS_KEYS, "weights", source)
    if config.get("onnx") is not None:
        published = config["onnx"]
        _check_dict(published, _ONNX_KEYS, "onnx", source)
        _check_range(
            _PLAIN_FILE.fullmatch(published["file"]) is not None and published["file"].endswith(".onnx"),
            "onnx.file",
            "to be a plain file name ending in .onnx",
            published["file"],
            source,
        )
        _check_range(
            published["file"] != config["weights"]["file"],
            "onnx.file",
            "to differ from weights.file",
            published["file"],
            source,
        )
        _check_range(
            _SHA256.fullmatch(published["sha256"]) is not None,
            "onnx.sha256",
            "to be 64 lowercase hex digits",
            published["sha256"],
            source,
        )
        _check_range(published["size_bytes"] >= 1, "onnx.size_bytes", "to be >= 1", published["size_bytes"], source)
    if config["training"] is not None:
        _check_dict(config["training"], _TRAINING_KEYS, "training", source)
    if config["quality"] is not None and not isinstance(config["quality"], dict):
        raise ValueError(
            f"Expected {_where(source, 'quality')} to be null or an object. Received: quality={config['quality']!r}"[
                :600
            ]
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
