"""Worker for test_cross_backend.py, run as `KERAS_BACKEND=B python cross_backend_worker.py MODE DIR`.

save DIR: trains a tiny cGAN one step on this backend, saves `gan.keras` and `generator.keras`
    in DIR/<backend>/, with the generator's outputs on fixed inputs, and the outputs of every
    shipped zoo generator (loaded through ganzoo).
load DIR: for every other backend's folder, loads its generator with plain Keras (this process
    never imports ganzoo for that) and its GAN through ganzoo, and the shipped zoo generators
    with plain Keras; writes the max abs differences to DIR/load_<backend>.json.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "zoo_configs"


def fixed_inputs(model, n=6):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((n, int(model.inputs[0].shape[-1]))).astype("float32")
    return z if len(model.inputs) == 1 else [z, (np.arange(n) % 3).astype("int32")]


def outputs(model):
    return np.asarray(keras.ops.convert_to_numpy(model(fixed_inputs(model), training=False)))


def save(folder):
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import compiled_gan, run_steps

    from ganzoo.training.generators import load_generator_file

    out = folder / keras.backend.backend()
    out.mkdir(parents=True)
    gan = compiled_gan("cgan")
    run_steps(gan, 1)
    gan.save(out / "gan.keras")
    gan.generator.save(out / "generator.keras")
    np.save(out / "generator.npy", outputs(gan.generator))
    zoo = {path.stem: outputs(load_generator_file(path)).tolist() for path in sorted(ZOO.glob("*.keras"))}
    (out / "presets.json").write_text(json.dumps(zoo))


def load(folder):
    me = keras.backend.backend()
    report, mine = {}, {}  # mine: each shipped generator's outputs here, loaded once and held against every backend's
    for other in sorted(p for p in folder.iterdir() if p.is_dir()):
        generator = keras.saving.load_model(other / "generator.keras", safe_mode=True)  # plain Keras
        report[f"{other.name}:generator"] = float(np.max(np.abs(outputs(generator) - np.load(other / "generator.npy"))))
        expected = json.loads((other / "presets.json").read_text())
        for name, values in expected.items():
            if name not in mine:
                model = keras.saving.load_model(ZOO / f"{name}.keras", safe_mode=True, compile=False)  # plain Keras
                mine[name] = outputs(model)
            report[f"{other.name}:zoo:{name}"] = float(np.max(np.abs(mine[name] - np.array(values))))
    report["ganzoo_imported_before_gan_load"] = "ganzoo" in sys.modules
    import ganzoo.training.gan  # noqa: F401  registers GAN for the GAN files

    for other in sorted(p for p in folder.iterdir() if p.is_dir()):
        gan = keras.saving.load_model(other / "gan.keras", safe_mode=True)
        report[f"{other.name}:gan"] = float(np.max(np.abs(outputs(gan.generator) - np.load(other / "generator.npy"))))
    (folder / f"load_{me}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    mode, directory = sys.argv[1], Path(sys.argv[2])
    save(directory) if mode == "save" else load(directory)
