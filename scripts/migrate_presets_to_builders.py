"""One-off migration (ganzoo 0.1 -> 0.2): presets store a builder name and its arguments, not Keras graphs.

For each preset it infers the `dcgan_generator` / `dcgan_discriminator` arguments from the old
serialized graph, and writes them only if both checks pass:

- the builder, run with those arguments, serializes to exactly the old graph (layer for layer,
  config for config, precision-neutral as ganzoo 0.1 stored it);
- the generator built from the arguments, with the weights loaded from the unchanged `.keras`
  file, gives bit-identical images to the file's own model.

The `.keras`, `.onnx` and sidecar files are not touched, so their sha256 stay. Run from the
repository root:

    python scripts/migrate_presets_to_builders.py zoo_configs/*.json
"""

import json
import sys
from pathlib import Path

import keras
import numpy as np

from ganzoo import config as config_lib
from ganzoo import hub as hub_lib
from ganzoo.models import dcgan_discriminator, dcgan_generator, upsampling_plan
from ganzoo.models.registry import network_entry
from ganzoo.zoo import load_generator_file, load_weights

_PROBE_POLICY = "mixed_bfloat16"  # how ganzoo 0.1 told policy-following layers from float32-pinned ones


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


def old_spec(build_fn):
    """The ganzoo 0.1 preset form of `build_fn()`'s network."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_PROBE_POLICY)
    try:
        model = build_fn()
    finally:
        keras.config.set_dtype_policy(previous)
    return _neutralize(json.loads(json.dumps(keras.saving.serialize_keras_object(model))))


def _layers(spec, class_name):
    return [layer for layer in spec["config"]["layers"] if layer["class_name"] == class_name]


def infer_args(preset):
    gan, g_spec, d_spec = preset["gan"], preset["generator"], preset["discriminator"]
    shape = tuple(_layers(d_spec, "InputLayer")[-1]["config"]["batch_shape"][1:])
    if len(shape) != 3:
        shape = next(
            tuple(s["config"]["batch_shape"][1:])
            for s in _layers(d_spec, "InputLayer")
            if len(s["config"]["batch_shape"]) == 4
        )
    h0, w0, stages = upsampling_plan(shape)
    g_filters = _layers(g_spec, "Dense")[0]["config"]["units"] // (h0 * w0) // 2 ** (stages - 1)
    d_filters = _layers(d_spec, "Conv2D")[0]["config"]["filters"]
    normalization = (
        "batch"
        if _layers(d_spec, "BatchNormalization")
        else ("layer" if _layers(d_spec, "LayerNormalization") else None)
    )
    shared = {"image_shape": list(shape), "num_classes": gan["num_classes"]}
    g_args = {**shared, "latent_dim": gan["latent_dim"], "filters": g_filters}
    d_args = {**shared, "filters": d_filters, "normalization": normalization, "spectral_norm": False}
    return g_args, d_args


def migrate(path):
    path = Path(path)
    preset = json.loads(path.read_text())
    if "builder" in preset["generator"]:
        print(f"{path.name}: already migrated")
        return
    g_args, d_args = infer_args(preset)
    for builder, args, key in ((dcgan_generator, g_args, "generator"), (dcgan_discriminator, d_args, "discriminator")):
        if old_spec(lambda: builder(**{**args, "image_shape": tuple(args["image_shape"])})) != preset[key]:
            raise SystemExit(f"{path.name}: {builder.__name__}(**{args}) does not rebuild the stored {key}")
    weights = path.parent / preset["weights"]["file"]
    old = load_generator_file(weights)
    preset["generator"] = network_entry("dcgan_generator", **g_args)
    preset["discriminator"] = network_entry("dcgan_discriminator", **d_args)
    new = config_lib.build_network(preset["generator"], dtype="float32")
    load_weights(new, weights)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, g_args["latent_dim"])).astype("float32")
    inputs = z if g_args["num_classes"] is None else [z, (np.arange(64) % g_args["num_classes"]).astype("int32")]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(new(inputs, training=False)), keras.ops.convert_to_numpy(old(inputs, training=False))
    )
    preset["gan"].setdefault("fake_label_smoothing", 0.0)
    preset["gan"] = {
        k: preset["gan"][k]
        for k in (
            "latent_dim",
            "loss",
            "discriminator_steps",
            "gradient_penalty_weight",
            "label_smoothing",
            "fake_label_smoothing",
            "num_classes",
        )
    }
    config_lib.validate_config(preset, source=str(path))
    hub_lib.write_atomic(path, (json.dumps(preset, indent=2) + "\n").encode("utf-8"))
    print(f"{path.name}: generator {g_args}, discriminator {d_args}")


if __name__ == "__main__":
    for preset_path in sys.argv[1:]:
        if not preset_path.endswith(".onnx.json"):
            migrate(preset_path)
