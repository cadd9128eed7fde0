"""The preset zoo: every shipped preset is valid, builds, round-trips, and its weights load and generate.

Parametrised over `zoo_configs/*.json`. `tests/data/zoo_pins.json` pins a
fixed-seed output slice per preset, so a silently changed weights file is
caught. Regenerate it after retraining with `python tests/test_zoo.py --pin`.
"""

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import ganzoo
from ganzoo.client import hub as hub_lib
from ganzoo.client import presets
from ganzoo.training import generators
from ganzoo.runs.publish import publish
from ganzoo.cli import main
from ganzoo.training.config import VARIANTS, build_gan, build_network
from ganzoo.models import registry
from ganzoo.training.gan import GAN
from ganzoo.models import describe_generator
from ganzoo.training.sampling import generate_images

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "zoo_configs"
PRESETS = sorted(path.stem for path in ZOO.glob("*.json") if "." not in path.stem)  # not the .onnx.json sidecars
PINS_FILE = Path(__file__).resolve().parent / "data" / "zoo_pins.json"
# Every shipped preset publishes its ONNX generator too (`onnx` is optional in other presets).
TOP_KEYS = {
    "variant",
    "description",
    "generator",
    "discriminator",
    "gan",
    "recipe",
    "weights",
    "onnx",
    "training",
    "quality",
}


def pin(name):
    """The pinned facts of a preset's shipped generator: file hash and a fixed-seed output slice."""
    config = presets.load_config(name)
    generator = generators.load_generator(name)
    num_classes = config["gan"]["num_classes"]
    labels = None if num_classes is None else [i % num_classes for i in range(4)]
    images = generate_images(generator, 4, labels=labels, seed=1234)
    return {
        "sha256": config["weights"]["sha256"],
        "slice": images[:2, 6:10, 6:10, 0]
        .astype("float64")
        .round(6)
        .ravel()
        .tolist(),  # (2, 4, 4) pixels near the centre
        "mean": round(float(images.mean()), 6),
    }


def test_the_zoo_has_every_variant_on_both_datasets():
    assert set(PRESETS) >= {f"{variant}_{dataset}" for variant in VARIANTS for dataset in ("digits", "fashion_mnist")}
    assert presets.list_presets() == PRESETS
    assert ganzoo.list_presets() == PRESETS
    assert hub_lib.shipped_dir().resolve() == ZOO.resolve()


def test_shipped_index_lists_every_preset():
    assert (ZOO / hub_lib.INDEX_FILE).read_text().split() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_valid_and_complete(name):
    raw = json.loads((ZOO / f"{name}.json").read_text())
    assert set(raw) == TOP_KEYS  # "quality" stays, null until measured
    config = presets.load_config(name)
    assert name == f"{config['variant']}_{config['recipe']['dataset']}"
    weights = config["weights"]
    assert weights["file"] == f"{name}.keras"
    path = ZOO / weights["file"]
    assert path.stat().st_size == weights["size_bytes"]
    assert hub_lib.sha256_file(path) == weights["sha256"]
    published = config["onnx"]
    assert published["file"] == f"{name}.onnx"
    onnx_file = ZOO / published["file"]
    assert onnx_file.stat().st_size == published["size_bytes"]
    assert hub_lib.sha256_file(onnx_file) == published["sha256"]
    sidecar = json.loads((ZOO / f"{name}.onnx.json").read_text())
    assert (sidecar["preset"], sidecar["variant"], sidecar["output_dtype"]) == (name, config["variant"], "uint8")
    assert (sidecar["latent_dim"], sidecar["num_classes"]) == (
        config["gan"]["latent_dim"],
        config["gan"]["num_classes"],
    )
    training = config["training"]
    assert training is not None and training["seconds"] > 0
    assert training["command"].startswith(f"ganzoo train {name}")


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_and_round_trips(name):
    config = presets.load_config(name)
    gan = build_gan(config, compile=False)
    clone = GAN.from_config(json.loads(json.dumps(gan.get_config())))
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(gan.get_config(), sort_keys=True)
    for key, network in (("generator", gan.generator), ("discriminator", gan.discriminator)):
        # Data only: a builder name and JSON arguments, which rebuild exactly the builder's network.
        assert set(config[key]) == {"builder", "args", "parameters"}
        assert "class_name" not in json.dumps(config[key])
        args = {**config[key]["args"], "image_shape": tuple(config[key]["args"]["image_shape"])}
        serialize = keras.saving.serialize_keras_object
        assert serialize(network) == serialize(registry.BUILDERS[config[key]["builder"]](**args))
        assert presets.count_parameters(config[key]) == network.count_params()
    assert presets.image_shape(config) == gan.image_shape
    assert gan.image_shape == (config["recipe"]["image_size"],) * 2 + (gan.image_shape[-1],)


@pytest.mark.parametrize("name", PRESETS)
def test_shipped_weights_load_and_generate(name):
    config = presets.load_config(name)
    generator = ganzoo.load_generator(name)
    assert isinstance(generator, keras.Model)
    assert describe_generator(generator) == {
        "latent_dim": config["gan"]["latent_dim"],
        "num_classes": config["gan"]["num_classes"],
        "image_shape": presets.image_shape(config),
    }
    # Built from the preset's arguments in float32; the weights are the file's, layer for layer.
    assert {layer.compute_dtype for layer in generator.layers if layer.weights} == {"float32"}
    own = generators.load_generator_file(ZOO / config["weights"]["file"])
    assert [(type(a).__name__, a.name) for a in own.layers] == [(type(b).__name__, b.name) for b in generator.layers]
    for ours, theirs in zip(generator.get_weights(), own.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)

    facts = pin(name)
    pinned = json.loads(PINS_FILE.read_text())
    assert name in pinned, f"no pinned output for {name}: run `python tests/test_zoo.py --pin`"
    assert facts["sha256"] == pinned[name]["sha256"], "the weights file changed: re-pin only if that was intended"
    np.testing.assert_allclose(facts["slice"], pinned[name]["slice"], atol=1e-4)
    np.testing.assert_allclose(facts["mean"], pinned[name]["mean"], atol=1e-4)


def test_generated_shapes_and_range():
    generator = generators.load_generator("cgan_digits")
    images = generate_images(generator, 10, labels=list(range(10)), seed=0)
    assert images.shape == (10, 16, 16, 1)
    assert np.isfinite(images).all() and images.min() >= -1 and images.max() <= 1


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="one of: " + ", ".join(PRESETS)):
        presets.load_config("dcgan_imagenet")
    with pytest.raises(ValueError, match="dcgan_digits"):
        ganzoo.load_generator("no_such_thing")
    with pytest.raises(TypeError, match="preset name"):
        presets.load_config(3)


def hub_with(tmp_path, name, edit):
    """A local hub holding a copy of dcgan_digits under `name`, with `edit(config)` applied."""
    config = presets.read_preset("dcgan_digits")
    edit(config)
    (tmp_path / f"{name}.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c.update(colour="red"), "colour"),
        (lambda c: c["recipe"].update(learning_rate=1e-3), "recipe.learning_rate"),
        (lambda c: c["recipe"].update(epochs="3"), "recipe.epochs"),
        (lambda c: c["gan"].update(latent_dim=64.5), "gan.latent_dim"),
        (lambda c: c["weights"].update(size_bytes=True), "weights.size_bytes"),
        (lambda c: c.pop("quality"), "quality"),
        (lambda c: c["onnx"].update(file="../x.onnx"), "onnx.file"),
        (lambda c: c["onnx"].update(file="dcgan_digits.keras"), "onnx.file"),
        (lambda c: c["onnx"].update(sha256="ABC"), "onnx.sha256"),
        (lambda c: c["onnx"].update(size_bytes=-1), "onnx.size_bytes"),
        (lambda c: c["onnx"].pop("sha256"), "onnx.sha256"),
        (lambda c: c["onnx"].update(extra=1), "onnx.extra"),
    ],
)
def test_configs_are_strict(tmp_path, edit, key):
    hub = hub_with(tmp_path, "edited", edit)
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        presets.load_config("edited", hub=hub)


def save_lambda_model(path, latent_dim=4, shape=(2, 2, 1)):
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Lambda(lambda x: x * 2.0, name="doubling")(keras.layers.Dense(int(np.prod(shape)))(z))
    keras.Model(z, keras.layers.Reshape(shape)(x)).save(path)


def test_a_keras_file_with_a_lambda_layer_is_refused(tmp_path):
    path = tmp_path / "evil.keras"
    save_lambda_model(path)
    with pytest.raises(ValueError, match="Lambda layer 'doubling'"):
        generators.load_generator(path)
    # Even when the process has switched Keras' safe mode off.
    from keras.src.saving.serialization_lib import SafeModeScope

    with SafeModeScope(False), pytest.raises(ValueError, match="Lambda"):
        generators.load_generator(str(path))


def test_a_weights_file_with_a_lambda_and_a_valid_hash_is_only_read_for_weights(tmp_path):
    config = presets.read_preset("dcgan_digits")
    save_lambda_model(tmp_path / "trojan.keras", latent_dim=64, shape=(16, 16, 1))
    config["weights"] = {
        "file": "trojan.keras",
        "sha256": hub_lib.sha256_file(tmp_path / "trojan.keras"),
        "size_bytes": (tmp_path / "trojan.keras").stat().st_size,
    }
    (tmp_path / "trojan.json").write_text(json.dumps(config))
    # The network comes from the preset's builder; the file's graph is never read, and its weights do not fit.
    with pytest.raises(ValueError, match="trojan.keras to hold the weights of 'generator'"):
        generators.load_generator("trojan", hub=tmp_path)


def test_parameter_counts_are_the_built_networks():
    for name in PRESETS:
        config = presets.read_preset(name)
        for key in ("generator", "discriminator"):
            assert presets.count_parameters(config[key]) == build_network(config[key]).count_params()
    assert presets.count_parameters({"builder": "dcgan_generator", "args": {}, "parameters": None}) is None


def test_gan_from_preset_is_compiled_with_the_recipe_and_shipped_weights():
    config = presets.load_config("dcgan_digits")
    gan = GAN.from_preset("dcgan_digits")
    shipped = generators.load_generator("dcgan_digits")
    for ours, theirs in zip(gan.generator.get_weights(), shipped.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    expected = config["recipe"]["d_optimizer"]["config"]
    assert gan.d_optimizer.get_config()["learning_rate"] == pytest.approx(expected["learning_rate"])
    assert gan.g_optimizer.get_config()["beta_1"] == pytest.approx(config["recipe"]["g_optimizer"]["config"]["beta_1"])
    images = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    logs = gan.train_on_batch(images, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


_LIST_PROBE = """
import contextlib, io, json, sys, time
start = time.perf_counter()
from ganzoo.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["list"])
print(json.dumps({"code": code, "seconds": time.perf_counter() - start, "out": out.getvalue(),
                  "modules": sorted(m for m in ("tensorflow", "keras", "numpy") if m in sys.modules)}))
"""


def test_list_command_is_fast_and_never_imports_tensorflow():
    result = subprocess.run([sys.executable, "-c", _LIST_PROBE], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["code"] == 0
    assert "tensorflow" not in report["modules"] and "keras" not in report["modules"]
    assert report["seconds"] < 1.0, report  # import of the CLI and the whole command, in-process
    lines = report["out"].splitlines()
    assert lines[0].split()[:5] == ["NAME", "VARIANT", "DATASET", "IMAGE", "G"]
    assert [line.split()[0] for line in lines[1:]] == PRESETS
    row = next(line for line in lines if line.startswith("dcgan_fashion_mnist "))
    parameters = f"{presets.count_parameters(presets.read_preset('dcgan_fashion_mnist')['generator']):,}"
    assert row.split()[1:5] == ["dcgan", "fashion_mnist", "28x28x1", parameters]


def test_cli_errors_name_the_argument_and_the_form(tmp_path):
    cases = [
        (["generate", "dcgan_fashon_mnist"], "Did you mean 'dcgan_fashion_mnist'?"),
        (["generate", "dcgan_digits", "-o", str(tmp_path)], "image extension"),
        (["generate", "dcgan_digits", "-o", str(tmp_path / "grid")], "image extension"),
        (["generate", "dcgan_digits", "--nrow", "0"], "--nrow"),
        (["generate", "dcgan_digits", "--seed", "-1"], "--seed"),
        (["generate", str(tmp_path / "notes.txt")], "does not exist"),
        (["export", "dcgan_digits", "-o", str(tmp_path / "generator.keras")], "ending in .onnx"),
    ]
    for args, message in cases:
        code, _, err = run_cli(*args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    with pytest.raises(FileNotFoundError, match="Expected a generator .keras file"):
        generators.load_generator(tmp_path)  # a folder without a generator


def test_generate_lays_out_one_label_per_column(tmp_path):
    from PIL import Image

    from ganzoo.client.images import grid_array

    code, _, err = run_cli(
        "generate", "cgan_digits", "-n", "40", "--labels", "0,1,2,3,4,5,6,7,8,9", "-o", str(tmp_path / "g.png")
    )
    assert code == 0, err
    from ganzoo.export import OnnxGenerator

    pixels = OnnxGenerator.from_preset("cgan_digits").generate(40, labels=np.arange(40) % 10, seed=0)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "g.png")), grid_array(pixels, nrow=10)[..., 0])


def test_info_piped_into_head_ends_quietly():
    result = subprocess.run(
        f"{sys.executable} -m ganzoo info cgan_fashion_mnist --json | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.count("\n") == 2 and result.stderr == "", result.stderr


def test_a_bad_line_in_a_hub_index_does_not_stop_the_listing(tmp_path, monkeypatch):
    monkeypatch.setenv(hub_lib.CACHE_ENV, str(tmp_path / "cache"))
    shutil.copy(ZOO / "dcgan_digits.json", tmp_path / "team_good.json")
    (tmp_path / "index.txt").write_text("team_good\n../../etc/passwd\nteam missing\nteam_gone\n")
    from apps import static_server

    with static_server(tmp_path) as url:  # an HTTP hub is listed through its index.txt
        assert [name for name in presets.list_presets(hub=url) if name.startswith("team")] == ["team_gone", "team_good"]
        code, out, err = run_cli("list", "--hub", url)
    assert code == 0 and "team_good" in out and "skipped team_gone" in err


def test_info_and_download_commands():
    code, out, _ = run_cli("info", "cgan_fashion_mnist")
    config = presets.load_config("cgan_fashion_mnist")
    assert code == 0 and config["weights"]["sha256"] in out and "num_classes" in out
    assert config["onnx"]["sha256"] in out and "uint8 pixels" in out
    code, out, _ = run_cli("info", "cgan_fashion_mnist", "--json")
    assert json.loads(out) == config
    code, out, _ = run_cli("download", "dcgan_digits")
    assert code == 0 and out.strip() == f"dcgan_digits: {ZOO / 'dcgan_digits.keras'} {ZOO / 'dcgan_digits.onnx'}"
    assert main(["info", "nope"]) == 2


def test_publish_writes_a_hub_that_loads_by_name(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = presets.read_preset("lsgan_digits")
    shutil.copy(ZOO / "lsgan_digits.keras", run_dir / "generator.keras")
    (run_dir / "config.json").write_text(
        json.dumps({**config, "weights": {"file": "generator.keras", "sha256": None, "size_bytes": None}})
    )
    hub = tmp_path / "hub"
    code, out, _ = run_cli("publish", str(run_dir), "--name", "team_lsgan", "--hub", str(hub), "--description", "ours")
    assert code == 0 and "team_lsgan" in out
    assert sorted(p.name for p in hub.iterdir()) == [
        "index.txt",
        "team_lsgan.json",
        "team_lsgan.keras",
        "team_lsgan.onnx",
        "team_lsgan.onnx.json",
    ]
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in hub.iterdir())  # a web server (another user) can read them
    published = json.loads((hub / "team_lsgan.json").read_text())
    assert published["description"] == "ours"
    assert published["weights"]["sha256"] == hub_lib.sha256_file(hub / "team_lsgan.keras")
    assert published["onnx"]["sha256"] == hub_lib.sha256_file(hub / "team_lsgan.onnx")
    assert {k: v for k, v in published.items() if k not in ("weights", "onnx", "description")} == {
        k: v for k, v in config.items() if k not in ("weights", "onnx", "description")
    }
    # The published ONNX file runs the same generator as the shipped preset's (the same weights).
    from ganzoo.export.runtime import OnnxGenerator

    ours = OnnxGenerator.from_preset("team_lsgan", hub=hub)
    assert ours.metadata["preset"] == "team_lsgan" and ours.output_dtype == np.uint8
    np.testing.assert_array_equal(
        ours.generate(9, seed=3), OnnxGenerator.from_preset("lsgan_digits").generate(9, seed=3)
    )
    generator = generators.load_generator("team_lsgan", hub=hub)
    for ours, theirs in zip(generator.get_weights(), generators.load_generator("lsgan_digits").get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert "team_lsgan" in presets.list_presets(hub=hub)
    with pytest.raises(FileNotFoundError, match="generator.keras"):
        publish(tmp_path, "x", hub)


def test_a_failed_onnx_export_leaves_the_hub_as_it_was(tmp_path, monkeypatch):
    import ganzoo.runs.publish as publish_module

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(ZOO / "dcgan_digits.keras", run_dir / "generator.keras")
    config = presets.read_preset("dcgan_digits")
    (run_dir / "config.json").write_text(
        json.dumps({**config, "weights": {"file": "generator.keras", "sha256": None, "size_bytes": None}})
    )
    hub = tmp_path / "hub"
    publish(run_dir, "mine", hub)
    before = {p.name: p.read_bytes() for p in hub.iterdir()}

    def failing_export(*args):
        raise RuntimeError("simulated: the ONNX file does not match Keras")

    monkeypatch.setattr(publish_module, "export_preset_onnx", failing_export)
    shutil.copy(ZOO / "lsgan_digits.keras", run_dir / "generator.keras")  # other weights: a real change
    code, _, err = run_cli("publish", str(run_dir), "--name", "mine", "--hub", str(hub))
    assert code == 2 and "already holds; pass --overwrite" in err  # no silent replacement
    code, _, err = run_cli("publish", str(run_dir), "--name", "mine", "--hub", str(hub), "--overwrite")
    assert code == 1 and "simulated" in err and "Nothing on the hub" in err
    assert {p.name: p.read_bytes() for p in hub.iterdir()} == before  # no new file, no temporary left
    code, _, err = run_cli("publish", str(run_dir), "--name", "dcgan_digits", "--hub", str(hub))
    assert code == 2 and "no shipped preset has" in err


def test_write_quality_keeps_the_preset_valid(tmp_path, monkeypatch):
    shutil.copy(ZOO / "dcgan_digits.json", tmp_path)
    monkeypatch.setattr(hub_lib, "shipped_dir", lambda: tmp_path)
    presets.write_quality("dcgan_digits", {"fd": 1.5, "kid": 0.25, "class_entropy": 0.9876})
    assert presets.load_config("dcgan_digits")["quality"] == {"fd": 1.5, "kid": 0.25, "class_entropy": 0.9876}
    code, out, _ = run_cli("list")
    assert "1.50" in out and "0.25" in out and "0.988" in out


if __name__ == "__main__" and "--pin" in sys.argv:
    PINS_FILE.parent.mkdir(exist_ok=True)
    PINS_FILE.write_text(json.dumps({name: pin(name) for name in PRESETS}, indent=1) + "\n")
    print(f"Wrote {PINS_FILE}")


PLANTED = r"""
import json, re, sys
from pathlib import Path
import keras
import ganzoo
from ganzoo.client import presets
from ganzoo.training import generators
from ganzoo.training.config import build_gan, default_config
from ganzoo.export import to_onnx
from ganzoo.client.files import sha256_file

keras.config.enable_unsafe_deserialization()  # what a careless process may have done; ganzoo must not care
tmp = Path(sys.argv[1])
marker = tmp / "code_ran"
z = keras.Input((4,), name="z")
# The function runs when Keras rebuilds the graph on load: the marker file tells if it ever did.
marker_text = str(marker)
planted = keras.layers.Lambda(eval(f"lambda x: (open({marker_text!r}, 'w').close(), x * 2.0)[1]"), name="planted")
image = keras.layers.Reshape((2, 2, 1))(planted(z))
evil = keras.Model(z, image)
marker.unlink(missing_ok=True)
evil.save(tmp / "evil.keras")
marker.unlink(missing_ok=True)
graph_preset = default_config("dcgan", latent_dim=4, filters=4)
graph_preset["generator"] = json.loads(json.dumps(keras.saving.serialize_keras_object(evil)))  # the 0.1 format
weights_preset = default_config("dcgan", latent_dim=4, filters=4)
weights_preset["weights"] = {"file": "evil.keras", "sha256": sha256_file(tmp / "evil.keras"),
                             "size_bytes": (tmp / "evil.keras").stat().st_size}
hub = tmp / "hub"
hub.mkdir()
(hub / "evil.keras").write_bytes((tmp / "evil.keras").read_bytes())
(hub / "graph_preset.json").write_text(json.dumps(graph_preset))
(hub / "weights_preset.json").write_text(json.dumps(weights_preset))
attempts = {
    "generators.load_generator(path)": (lambda: generators.load_generator(tmp / "evil.keras"), "Refusing to load.*planted"),
    "to_onnx(path)": (lambda: to_onnx(str(tmp / "evil.keras"), tmp / "x.onnx"), "Refusing to load.*planted"),
    "build_gan(preset)": (lambda: build_gan(graph_preset), "serialized Keras graph"),
    "GAN.from_preset(graph)": (lambda: ganzoo.GAN.from_preset("graph_preset", hub=hub), "serialized Keras graph"),
    "GAN.from_preset(weights)": (lambda: ganzoo.GAN.from_preset("weights_preset", hub=hub), "hold the weights"),
    "load_generator(weights)": (lambda: ganzoo.load_generator("weights_preset", hub=hub), "hold the weights"),
}
for name, (attempt, message) in attempts.items():
    try:
        attempt()
    except ValueError as error:
        assert re.search(message, str(error)), (name, error)
        print("refused:", name)
    else:
        raise AssertionError(f"{name} loaded a Lambda")
    assert not marker.exists(), f"{name} ran the planted code"
"""


def test_no_entry_point_runs_a_planted_lambda_even_with_unsafe_loading_enabled(tmp_path):
    result = subprocess.run([sys.executable, "-c", PLANTED, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("refused:") == 6
