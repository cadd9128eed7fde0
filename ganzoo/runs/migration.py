"""Upgrading ganzoo 0.1 presets and run folders, which stored Keras graphs, to builder entries.

A 0.1 preset (or a run's `config.json` / `run.json`) stored each network as
`keras.saving.serialize_keras_object` output. Such a file is refused on load,
because a serialized graph can carry code. `upgrade_config` reads the DCGAN
builder's arguments off the stored graph and keeps them only if the builder,
run with them, serializes to exactly the stored graph (layer for layer,
config for config); nothing of the graph is ever deserialized. `ganzoo
migrate PATH` applies it to preset files and run folders, and for a file with
weights checks that the rebuilt generator gives bit-identical images.

Example:
    $ ganzoo migrate runs/old_run zoo/my_preset.json
"""

import copy
import json
from pathlib import Path

import keras
import numpy as np

from ganzoo.client import hub as hub_lib
from ganzoo.models import dcgan_discriminator, dcgan_generator, upsampling_plan
from ganzoo.models.registry import build_network, network_entry
from ganzoo.client.preset_schema import validate_config

_PROBE_POLICY = "mixed_bfloat16"  # how 0.1 told policy-following layers from float32-pinned ones
_GAN_KEYS = (
    "latent_dim",
    "loss",
    "discriminator_steps",
    "gradient_penalty_weight",
    "label_smoothing",
    "fake_label_smoothing",
    "num_classes",
)


def _neutralize(value):
    if isinstance(value, list):
        return [_neutralize(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "dtype" and isinstance(item, dict) and item.get("config", {}).get("name") == _PROBE_POLICY:
            item = None
        elif key == "dtype" and item == "bfloat16":
            item = "float32"
        out[key] = _neutralize(item)
    return out


def _old_form(build_fn):
    """The 0.1 preset form of `build_fn()`'s network (precision-neutral serialization)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_PROBE_POLICY)
    try:
        model = build_fn()
    finally:
        keras.config.set_dtype_policy(previous)
    return _neutralize(json.loads(json.dumps(keras.saving.serialize_keras_object(model))))


def _layers(spec, class_name):
    layers = spec.get("config", {}).get("layers", []) if isinstance(spec, dict) else []
    return [layer for layer in layers if isinstance(layer, dict) and layer.get("class_name") == class_name]


def _infer_args(config, source):
    gan, g_spec, d_spec = config["gan"], config["generator"], config["discriminator"]
    try:
        shape = next(
            tuple(layer["config"]["batch_shape"][1:])
            for layer in _layers(d_spec, "InputLayer")
            if len(layer["config"]["batch_shape"]) == 4
        )
        h0, w0, stages = upsampling_plan(shape)
        g_filters = _layers(g_spec, "Dense")[0]["config"]["units"] // (h0 * w0) // 2 ** (stages - 1)
        d_filters = _layers(d_spec, "Conv2D")[0]["config"]["filters"]
    except (KeyError, IndexError, TypeError, StopIteration, ValueError):
        raise ValueError(
            f"Expected {source} to hold the DCGAN networks of ganzoo 0.1. Received: other networks"
        ) from None
    normalization = (
        "batch"
        if _layers(d_spec, "BatchNormalization")
        else ("layer" if _layers(d_spec, "LayerNormalization") else None)
    )
    shared = {"image_shape": list(shape), "num_classes": gan.get("num_classes")}
    g_args = {**shared, "latent_dim": gan.get("latent_dim"), "filters": g_filters}
    d_args = {**shared, "filters": d_filters, "normalization": normalization, "spectral_norm": False}
    return g_args, d_args


def upgrade_config(config, source="the config"):
    """Returns a copy of a 0.1 config with builder entries; a config already in the new form is returned as is.

    Raises:
        ValueError: networks that the DCGAN builders do not rebuild exactly.
    """
    if not (
        isinstance(config, dict) and isinstance(config.get("generator"), dict) and "class_name" in config["generator"]
    ):
        return config
    config = copy.deepcopy(config)
    g_args, d_args = _infer_args(config, source)
    for builder, args, key in ((dcgan_generator, g_args, "generator"), (dcgan_discriminator, d_args, "discriminator")):
        try:
            rebuilt = _old_form(lambda: builder(**{**args, "image_shape": tuple(args["image_shape"])}))
        except (ValueError, TypeError):
            rebuilt = None
        if rebuilt != config[key]:
            raise ValueError(
                f"Expected the {key} in {source} to be what {builder.__name__} builds. Received: another network, "
                "which cannot be upgraded safely; train it again with this ganzoo"
            )
    config["generator"] = network_entry("dcgan_generator", **g_args)
    config["discriminator"] = network_entry("dcgan_discriminator", **d_args)
    config["gan"].setdefault("fake_label_smoothing", 0.0)
    config["gan"] = {key: config["gan"][key] for key in _GAN_KEYS if key in config["gan"]}
    return validate_config(config, source=source)


def _same_images(config, weights_file):
    """Raises unless the builder's generator with the file's weights draws what the file's own model draws."""
    from ganzoo.training.generators import load_generator_file, load_weights

    own = load_generator_file(weights_file)
    rebuilt = build_network(config["generator"], dtype="float32")
    load_weights(rebuilt, weights_file)
    z = np.random.default_rng(0).standard_normal((16, config["gan"]["latent_dim"])).astype("float32")
    classes = config["gan"]["num_classes"]
    inputs = z if classes is None else [z, (np.arange(16) % classes).astype("int32")]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(rebuilt(inputs, training=False)),
        keras.ops.convert_to_numpy(own(inputs, training=False)),
    )


def _read_ganzoo_json(target):
    """Returns (the file's JSON, its preset config); refuses a file that is not a ganzoo preset or run record."""
    try:
        payload = json.loads(target.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(
            f"Expected a ganzoo preset or run.json (JSON). Received: {target}, which is not JSON ({error})"
        ) from None
    nested = target.name == "run.json"
    config = payload.get("config") if nested and isinstance(payload, dict) else payload
    # A preset in either form names its networks: a builder entry now, a Keras graph in 0.1.
    networks = [config.get(key) for key in ("generator", "discriminator")] if isinstance(config, dict) else []
    if not networks or not all(isinstance(n, dict) and ("builder" in n or "class_name" in n) for n in networks):
        what = "a run.json whose `config` is a ganzoo preset" if nested else "a ganzoo preset JSON"
        keys = sorted(config)[:8] if isinstance(config, dict) else type(config).__name__
        raise ValueError(
            f"Expected {what} (with `generator` and `discriminator` networks). Received: {target}, holding {keys}"
        )
    return payload, config


def migrate_path(path):
    """Upgrades a preset JSON file or a run folder (`config.json`, `run.json`) in place; returns the files changed."""
    path = Path(path)
    changed = []
    targets = [path] if path.is_file() else [path / "config.json", path / "run.json"]
    if not any(target.is_file() for target in targets):
        raise FileNotFoundError(f"Expected a preset JSON file or a run folder. Received: {str(path)!r}")
    for target in targets:
        if not target.is_file():
            continue
        payload, config = _read_ganzoo_json(target)
        nested = target.name == "run.json"
        upgraded = upgrade_config(config, source=str(target))
        if upgraded is config:
            continue
        weights = (upgraded.get("weights") or {}).get("file")
        weights_file = target.parent / (weights or "generator.keras")
        if weights_file.is_file() and weights_file.suffix == ".keras":
            _same_images(upgraded, weights_file)
        if nested:
            payload["config"] = upgraded
        hub_lib.write_atomic(target, (json.dumps(payload if nested else upgraded, indent=2) + "\n").encode("utf-8"))
        changed.append(target)
    return changed
