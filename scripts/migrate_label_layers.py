"""One-off migration (ganzoo 0.1 -> 0.2): re-save the shipped conditional generators with Keras'
own CategoryEncoding instead of ganzoo's OneHot/LabelMap, so the files load with plain Keras.

The weights are copied unchanged (the label layers have none) and the outputs are checked to be
bit-identical before anything is written. Run from the repository root:

    python scripts/migrate_label_layers.py cgan_digits cgan_fashion_mnist
"""

import json
import sys
from pathlib import Path

import keras
import numpy as np

from ganzoo import config as config_lib
from ganzoo import hub as hub_lib
from ganzoo.models import dcgan_discriminator, dcgan_generator, upsampling_plan
from ganzoo.zoo import load_generator_file

ROOT = Path(__file__).resolve().parent.parent / "zoo_configs"


def _layer(spec, class_name):
    return next(layer for layer in spec["config"]["layers"] if layer["class_name"] == class_name)


def migrate(name):
    path = ROOT / f"{name}.json"
    preset = json.loads(path.read_text())
    gan = preset["gan"]
    old = load_generator_file(ROOT / preset["weights"]["file"])
    shape = tuple(int(d) for d in old.outputs[0].shape[1:])
    _, _, stages = upsampling_plan(shape)
    h0, w0, _ = upsampling_plan(shape)
    g_filters = _layer(preset["generator"], "Dense")["config"]["units"] // (h0 * w0) // 2 ** (stages - 1)
    d_filters = _layer(preset["discriminator"], "Conv2D")["config"]["filters"]
    normalization = "batch" if any(layer["class_name"] == "BatchNormalization" for layer in preset["discriminator"]["config"]["layers"]) else None
    num_classes, latent_dim = gan["num_classes"], gan["latent_dim"]
    build_g = lambda: dcgan_generator(shape, latent_dim, num_classes=num_classes, filters=g_filters)  # noqa: E731
    build_d = lambda: dcgan_discriminator(shape, num_classes=num_classes, filters=d_filters, normalization=normalization)  # noqa: E731
    new = build_g()
    new.set_weights(old.get_weights())
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((64, latent_dim)).astype("float32"), (np.arange(64) % num_classes).astype("int32")]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(new(inputs, training=False)),
                                  keras.ops.convert_to_numpy(old(inputs, training=False)))
    weights_file = ROOT / preset["weights"]["file"]
    new.save(str(weights_file) + ".tmp.keras")
    Path(str(weights_file) + ".tmp.keras").replace(weights_file)
    preset["generator"] = config_lib.network_spec(build_g)
    preset["discriminator"] = config_lib.network_spec(build_d)
    preset["weights"]["sha256"] = hub_lib.sha256_file(weights_file)
    preset["weights"]["size_bytes"] = weights_file.stat().st_size
    config_lib.validate_config(preset, source=str(path))
    path.write_text(json.dumps(preset, indent=2) + "\n")
    print(f"{name}: generator filters {g_filters}, discriminator filters {d_filters}, sha256 {preset['weights']['sha256']}")


if __name__ == "__main__":
    for preset_name in sys.argv[1:]:
        migrate(preset_name)
