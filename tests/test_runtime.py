"""Tests for export/runtime.py: OnnxGenerator without TensorFlow or Keras."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pytest  # noqa: E402

from ganzoo import export  # noqa: E402
from ganzoo.export.runtime import OnnxGenerator, physical_cores  # noqa: E402
from ganzoo.models import dcgan_generator  # noqa: E402
from ganzoo.training.sampling import generate_images  # noqa: E402
from helpers import realistic_weights  # noqa: E402

LATENT_DIM = 6
NUM_CLASSES = 3
CLASS_NAMES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Exported tiny generators: `{name: (path, keras generator)}`."""
    out = tmp_path_factory.mktemp("runtime")
    keras.utils.set_random_seed(0)
    conditional = realistic_weights(dcgan_generator((16, 16, 1), LATENT_DIM, num_classes=NUM_CLASSES, filters=4))
    unconditional = realistic_weights(dcgan_generator((16, 16, 3), LATENT_DIM, filters=4), seed=1)
    exports = {
        "conditional": (conditional, {"class_names": CLASS_NAMES, "variant": "cgan"}),
        "conditional_uint8": (conditional, {"uint8_output": True}),
        "unconditional": (unconditional, {}),
    }
    return {
        name: (export.to_onnx(generator, out / f"{name}.onnx", **kwargs).path, generator)
        for name, (generator, kwargs) in exports.items()
    }


def test_metadata_attributes(files):
    generator = OnnxGenerator(files["conditional"][0])
    assert generator.latent_dim == LATENT_DIM
    assert generator.num_classes == NUM_CLASSES
    assert generator.class_names == CLASS_NAMES
    assert generator.image_shape == (16, 16, 1)
    assert generator.metadata["variant"] == "cgan"
    assert generator.metadata["output_dtype"] == "float32"
    plain = OnnxGenerator(files["unconditional"][0])
    assert plain.num_classes is None and plain.class_names is None and plain.image_shape == (16, 16, 3)


@pytest.mark.parametrize("name", ["conditional", "conditional_uint8", "unconditional"])
def test_generate_is_uint8_and_deterministic(files, name):
    generator = OnnxGenerator(files[name][0])
    labels = None if generator.num_classes is None else [0, 1, 2, 1, 0]
    images = generator.generate(5, labels=labels, seed=3, batch_size=2)  # batches 2, 2, 1
    assert images.dtype == np.uint8 and images.shape == (5, *generator.image_shape)
    np.testing.assert_array_equal(images, generator.generate(5, labels=labels, seed=3))
    assert not np.array_equal(images, generator.generate(5, labels=labels, seed=4))
    assert images.min() < 64 and images.max() > 191


@pytest.mark.parametrize("name", ["conditional", "conditional_uint8", "unconditional"])
def test_generate_matches_keras_with_the_same_seed(files, name):
    path, keras_generator = files[name]
    generator = OnnxGenerator(path)
    labels = None if generator.num_classes is None else 2
    images = generator.generate(6, labels=labels, seed=11)
    expected = generate_images(keras_generator, 6, labels=labels, seed=11).astype("float64")  # independent of export
    reference = np.clip(np.round((expected + 1) * 127.5), 0, 255)
    assert np.abs(images - reference).max() <= 1


def test_run_returns_the_raw_output(files):
    generator = OnnxGenerator(files["conditional"][0])
    z = np.random.default_rng(0).standard_normal((4, LATENT_DIM))  # float64 is accepted
    images = generator.run(z, labels=np.array([0, 1, 2, 0]))
    assert images.dtype == np.float32 and images.shape == (4, 16, 16, 1)
    assert -1 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(generator.run(z, 1), generator.run(z, [1, 1, 1, 1]))


def test_labels_select_the_class(files):
    generator = OnnxGenerator(files["conditional"][0])
    assert not np.array_equal(generator.generate(2, labels=0, seed=0), generator.generate(2, labels=1, seed=0))


def test_labels_omitted_cycle_through_the_classes_as_in_keras_and_the_cli(files):
    """One behaviour for OnnxGenerator, ganzoo.generate_images and `ganzoo generate`: 0, 1, 2, 0, ..."""
    path, keras_generator = files["conditional"]
    generator = OnnxGenerator(path)
    cycled = np.arange(7) % NUM_CLASSES
    np.testing.assert_array_equal(generator.generate(7, seed=5), generator.generate(7, labels=cycled, seed=5))
    keras_pixels = generate_images(keras_generator, 7, seed=5)
    np.testing.assert_allclose(
        generator.generate(7, seed=5).astype("float32"), np.round((keras_pixels + 1) * 127.5), atol=1
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda g: g.run(np.zeros((2, LATENT_DIM + 1), "float32"), [0, 1]), r"shape \(n, 6\)"),
        (lambda g: g.run(np.zeros((LATENT_DIM,), "float32"), [0]), r"shape \(n, 6\)"),
        (lambda g: g.run(np.zeros((2, LATENT_DIM), "int32"), [0, 1]), "float array"),
        (lambda g: g.generate(2, labels=[0, NUM_CLASSES]), r"labels in \[0, 3\)"),
        (lambda g: g.generate(2, labels=-1), r"labels in \[0, 3\)"),
        (lambda g: g.generate(3, labels=[0, 1]), "sequence of 3 ints"),
        (lambda g: g.generate(2, labels=[0.5, 1.0]), "sequence of 2 ints"),
        (lambda g: g.generate(0, labels=0), "n to be a positive int"),
        (lambda g: g.generate(2, labels=0, batch_size=0), "batch_size to be a positive int"),
    ],
    ids=[
        "latent_size",
        "z_rank",
        "z_dtype",
        "label_too_big",
        "label_negative",
        "label_count",
        "label_dtype",
        "n",
        "batch_size",
    ],
)
def test_conditional_input_validation(files, call, match):
    generator = OnnxGenerator(files["conditional"][0])
    with pytest.raises(ValueError, match=match):
        call(generator)


def test_labels_for_an_unconditional_generator_are_an_error(files):
    generator = OnnxGenerator(files["unconditional"][0])
    with pytest.raises(ValueError, match="labels=None for an unconditional"):
        generator.generate(2, labels=[0, 1])
    with pytest.raises(ValueError, match="labels=None for an unconditional"):
        generator.run(np.zeros((1, LATENT_DIM), "float32"), labels=0)


def test_session_options_and_reuse(files):
    generator = OnnxGenerator(files["conditional"][0])
    options = generator.session.get_session_options()
    assert options.intra_op_num_threads == physical_cores() >= 1
    assert physical_cores() <= (os.cpu_count() or 1)
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = generator.session
    generator.generate(3, labels=0)
    generator.generate(3, labels=1)
    assert generator.session is session
    single = OnnxGenerator(files["conditional"][0], intra_op_threads=1)
    assert single.session.get_session_options().intra_op_num_threads == 1


def test_reads_the_sidecar_when_props_are_missing(files, tmp_path):
    """onnxruntime-web cannot read metadata_props; the sidecar carries the same facts."""
    path = files["conditional"][0]
    model = onnx.load(path)
    del model.metadata_props[:]
    onnx.save(model, tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="exported by ganzoo"):
        OnnxGenerator(tmp_path / "bare.onnx")
    shutil.copy(path + ".json", tmp_path / "bare.onnx.json")
    generator = OnnxGenerator(tmp_path / "bare.onnx")
    assert generator.metadata == OnnxGenerator(path).metadata
    assert generator.class_names == CLASS_NAMES


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda text: "{not json", "invalid JSON"),
        (lambda text: "[1, 2]", "a JSON object"),
        (lambda text: text.replace('"latent_dim"', '"latent_size"'), "the key 'latent_dim'"),
        (lambda text: text.replace('"latent_dim": 6', '"latent_dim": "6"'), "latent_dim"),
        (lambda text: text.replace('"latent_dim": 6', '"latent_dim": 100000000'), "input z of shape"),
        (
            lambda text: text.replace('"num_classes": 3', '"num_classes": null').replace(
                '"class_names": [\n    "cat",\n    "dog",\n    "bird"\n  ]', '"class_names": null'
            ),
            "graph inputs",
        ),
        (lambda text: text.replace('"image_shape": [', '"image_shape": [-1, '), "image_shape"),
    ],
)
def test_a_bad_sidecar_is_a_clear_error(files, tmp_path, edit, message):
    """The facts of a file without metadata_props come from its sidecar; a hostile one must not pass."""
    path = files["conditional"][0]
    model = onnx.load(path)
    del model.metadata_props[:]
    onnx.save(model, tmp_path / "g.onnx")
    with open(path + ".json") as file:
        (tmp_path / "g.onnx.json").write_text(edit(file.read()))
    with pytest.raises(ValueError, match=message):
        OnnxGenerator(tmp_path / "g.onnx")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        OnnxGenerator(tmp_path / "missing.onnx")


BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("tensorflow", "keras", "tf_keras", "onnx", "tf2onnx", "onnxconverter_common", "jax", "torch")

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked import of {name}")
            return None

    sys.meta_path.insert(0, Blocker())

    from ganzoo import export
    from ganzoo.export.runtime import OnnxGenerator

    generator = export.OnnxGenerator(sys.argv[1])
    images = generator.generate(4, labels=[0, 1, 2, 0], seed=0)
    assert images.shape == (4, 16, 16, 1), images.shape
    assert images.dtype.name == "uint8"
    assert generator.class_names == ["cat", "dog", "bird"]
    loaded = sorted({name.split(".")[0] for name in sys.modules} & set(BLOCKED))
    print("blocked modules loaded:", loaded)
    assert not loaded, loaded
    # Of ganzoo, only the runtime, the standard-library metadata module and the numpy-only client rules come along.
    ours = sorted(name for name in sys.modules if name.split(".")[0] == "ganzoo")
    client = ["ganzoo.client", "ganzoo.client.generation", "ganzoo.client.labels"]
    assert ours == ["ganzoo", *client, "ganzoo.export", "ganzoo.export.metadata", "ganzoo.export.runtime"], ours
    print(images.tobytes().hex())
    """
)


def test_runtime_imports_without_tensorflow_or_keras(files):
    path, _ = files["conditional"]
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    result = subprocess.run([sys.executable, "-c", BLOCKER, path], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "blocked modules loaded: []" in result.stdout
    # The same images as in this process, which has TensorFlow loaded.
    expected = OnnxGenerator(path).generate(4, labels=[0, 1, 2, 0], seed=0)
    assert result.stdout.split()[-1] == expected.tobytes().hex()


def bare_copy(files, tmp_path, edit=None):
    """`g.onnx` without metadata_props, with the conditional export's sidecar passed through `edit(dict)`."""
    path = files["conditional"][0]
    model = onnx.load(path)
    del model.metadata_props[:]
    onnx.save(model, tmp_path / "g.onnx")
    with open(path + ".json") as file:
        sidecar = json.load(file)
    (tmp_path / "g.onnx.json").write_text(json.dumps(edit(sidecar) if edit else sidecar))
    return tmp_path / "g.onnx"


@pytest.mark.parametrize(
    "edit, message",
    [
        # The graph outputs (batch, 16, 16, 1): a sidecar claiming 28x28 would give a wrong `image_shape`.
        (
            {"image_shape": [28, 28, 1]},
            r"image_shape=\[28, 28, 1\] where the graph's output image has shape "
            r"\['batch', 16, 16, 1\]",
        ),
        ({"image_shape": [16, 16, 3]}, r"image_shape=\[16, 16, 3\] where .* shape \['batch', 16, 16, 1\]"),
        ({"output_dtype": "uint8"}, r"output_dtype='uint8' where the graph's output image is tensor\(float\)"),
    ],
)
def test_a_sidecar_that_disagrees_with_the_graph_is_refused(files, tmp_path, edit, message):
    path = bare_copy(files, tmp_path, lambda sidecar: {**sidecar, **edit})
    with pytest.raises(ValueError, match=message) as error:
        OnnxGenerator(path)
    assert f"sidecar {path}.json" in str(error.value) and "\n" not in str(error.value)


def test_a_sidecar_sha256_is_verified(files, tmp_path):
    path = files["conditional"][0]
    with open(path, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()  # the bare copy differs from this file: no metadata_props
    bare = bare_copy(files, tmp_path)
    with open(bare, "rb") as file:
        bare_digest = hashlib.sha256(file.read()).hexdigest()
    bare_copy(files, tmp_path, lambda sidecar: {**sidecar, "sha256": bare_digest})
    assert OnnxGenerator(bare).image_shape == (16, 16, 1)
    bare_copy(files, tmp_path, lambda sidecar: {**sidecar, "sha256": digest})
    with pytest.raises(
        ValueError,
        match=f"Expected {bare} to have the sha256 its sidecar .* records, {digest}. Received: sha256={bare_digest}",
    ):
        OnnxGenerator(bare)
    bare_copy(files, tmp_path, lambda sidecar: {**sidecar, "sha256": "abc"})
    with pytest.raises(
        ValueError, match="sha256 in .*g.onnx.json to be 64 lowercase hex digits. Received: sha256='abc'"
    ):
        OnnxGenerator(bare)


@pytest.mark.parametrize("what", ["truncated", "keras", "text"])
def test_a_file_that_is_not_onnx_is_one_line_naming_it(files, tmp_path, capsys, what):
    source = files["conditional"][0]
    with open(source, "rb") as file:
        data = file.read()
    path = tmp_path / "broken.onnx"
    if what == "keras":
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(tmp_path / "model.keras")
        path = tmp_path / "model.keras"
        expected = r"a zip archive \(a Keras .keras file\?\)"
    else:
        path.write_bytes(data[: len(data) // 2] if what == "truncated" else b"hello\n")
        expected = r"which onnxruntime cannot read \(truncated, or not an ONNX model\): Protobuf parsing failed\.$"
    with pytest.raises(
        ValueError, match=f"Expected an ONNX model file. Received: path='{re.escape(str(path))}', {expected}"
    ) as error:
        OnnxGenerator(path)
    assert "\n" not in str(error.value)
    from ganzoo.cli import main

    if what != "keras":  # a .keras file given to `generate` runs in Keras; serve takes only ONNX
        assert main(["generate", str(path), "-o", str(tmp_path / "grid.png")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"path='{path}'" in err and "Traceback" not in err, err


def test_seed_is_validated_with_one_line(files):
    generator = OnnxGenerator(files["unconditional"][0])
    for seed in (-1, "x", 2**32, 1.5, True, [1, 2]):
        with pytest.raises(ValueError, match=r"Expected seed to be None or an int in \[0, 2\*\*32\). Received: seed="):
            generator.generate(2, seed=seed)
    # numpy ints are ints; the largest seed works; the same seed gives the same images.
    np.testing.assert_array_equal(generator.generate(2, seed=np.int64(3)), generator.generate(2, seed=3))
    np.testing.assert_array_equal(
        generator.generate(2, seed=np.uint32(2**32 - 1)),
        np.clip(
            np.round((generator.run(np.random.default_rng(2**32 - 1).standard_normal((2, LATENT_DIM))) + 1) * 127.5),
            0,
            255,
        ).astype(np.uint8),
    )
