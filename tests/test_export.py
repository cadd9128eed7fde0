"""Tests for export/: Keras generator -> ONNX, names, metadata, precision, verification.

Each export takes about a second, so every file is exported once per module
(module-scope fixtures) and checked by several tests. Generators get
weights of a trained scale (`realistic_weights`): DCGAN's N(0, 0.02) init
gives outputs near 0, where float16 and uint8 errors would be invisible.
"""

import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402
from onnx import TensorProto, numpy_helper  # noqa: E402

from ganzoo import export  # noqa: E402
import ganzoo  # noqa: E402
from ganzoo.export import graph_edits  # noqa: E402
from ganzoo.export.metadata import KEYS, sidecar_path  # noqa: E402
from ganzoo.export.verification import (  # noqa: E402
    FLOAT16_ATOL,
    FLOAT16_UINT8_ATOL,
    FLOAT32_ATOL,
    VerificationError,
    to_uint8,
)
from ganzoo.models import dcgan_generator  # noqa: E402
from helpers import realistic_weights  # noqa: E402

ZOO_CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "zoo_configs"
PRESETS = sorted(
    path.stem for path in ZOO_CONFIGS.glob("*.json") if "." not in path.stem
)  # not the .onnx.json sidecars

# id -> (image_shape, latent_dim, num_classes, filters)
CONFIGS = {
    "uncond_16x16x1": ((16, 16, 1), 8, None, 4),
    "cond_16x16x1": ((16, 16, 1), 6, 3, 4),
    "cond_28x28x1": ((28, 28, 1), 8, 10, 4),
    "uncond_32x32x3": ((32, 32, 3), 5, None, 4),
    "cond_32x32x3": ((32, 32, 3), 4, 4, 2),
}


def build(config_id, seed=0):
    image_shape, latent_dim, num_classes, filters = CONFIGS[config_id]
    keras.utils.set_random_seed(seed)
    return realistic_weights(dcgan_generator(image_shape, latent_dim, num_classes=num_classes, filters=filters), seed)


def random_inputs(generator_spec, batch, seed=0):
    """`(onnx feeds, keras inputs)` for a generator described by `(latent_dim, num_classes)`."""
    latent_dim, num_classes = generator_spec
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, latent_dim)).astype("float32")
    if num_classes is None:
        return {"z": z}, z
    labels = rng.integers(0, num_classes, batch).astype("int32")
    return {"z": z, "label": labels}, [z, labels]


def run_onnx(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["image"], feeds)[0]


def max_abs_error(path, generator, config_id, batches=(1, 7)):
    """Max abs ORT-vs-Keras difference, computed here (independently of `export.verify`)."""
    _, latent_dim, num_classes, _ = CONFIGS[config_id]
    errors = []
    for batch in batches:
        feeds, keras_inputs = random_inputs((latent_dim, num_classes), batch, seed=batch)
        expected = np.asarray(generator(keras_inputs, training=False))
        errors.append(np.abs(run_onnx(path, feeds).astype("float64") - expected).max())
    return max(errors)


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def exported(request, tmp_path_factory):
    """`(config_id, generator, float32 result, float16 result, uint8 result)` per configuration."""
    config_id = request.param
    generator = build(config_id)
    out = tmp_path_factory.mktemp(config_id)
    results = {
        kind: export.to_onnx(generator, out / f"{kind}.onnx", **kwargs)
        for kind, kwargs in (("fp32", {}), ("fp16", {"fp16": True}), ("uint8", {"uint8_output": True}))
    }
    return config_id, generator, results


# ------------------------------------------------------------ float32 file


def test_export_checker_passes(exported):
    _, _, results = exported
    for result in results.values():
        onnx.checker.check_model(onnx.load(result.path), full_check=True)


def test_export_io_names_and_batch_dim(exported):
    config_id, _, results = exported
    image_shape, latent_dim, num_classes, _ = CONFIGS[config_id]
    for kind, result in results.items():
        model = onnx.load(result.path)
        inputs = {value.name: value for value in model.graph.input}
        assert list(inputs) == (["z"] if num_classes is None else ["z", "label"])
        assert inputs["z"].type.tensor_type.elem_type == TensorProto.FLOAT
        assert dims(inputs["z"]) == ["batch", latent_dim]
        if num_classes is not None:
            assert inputs["label"].type.tensor_type.elem_type == TensorProto.INT32
            assert dims(inputs["label"]) == ["batch"]
        (output,) = model.graph.output
        assert output.name == "image"
        expected_type = TensorProto.UINT8 if kind == "uint8" else TensorProto.FLOAT
        assert output.type.tensor_type.elem_type == expected_type
        assert dims(output) == ["batch", *image_shape]
        text = str(model.graph)
        assert "unk__" not in text and "Identity:0" not in text


def test_export_matches_keras_float32(exported):
    config_id, generator, results = exported
    result = results["fp32"]
    # The check is only meaningful if the images are not all near 0.
    _, keras_inputs = random_inputs(CONFIGS[config_id][1:3], 7)
    assert np.abs(np.asarray(generator(keras_inputs, training=False))).max() > 0.5
    assert sorted(result.differences) == [1, 7]
    assert max(result.differences.values()) <= FLOAT32_ATOL
    assert max_abs_error(result.path, generator, config_id) <= FLOAT32_ATOL


def test_verify_runs_two_batch_sizes(exported):
    _, generator, results = exported
    differences = export.verify(results["fp32"].path, generator, batch_sizes=(1, 7))
    assert sorted(differences) == [1, 7]
    assert all(0 <= d <= FLOAT32_ATOL for d in differences.values())


def test_metadata_props_and_sidecar(exported):
    config_id, _, results = exported
    image_shape, latent_dim, num_classes, _ = CONFIGS[config_id]
    for kind, result in results.items():
        model = onnx.load(result.path)
        props = {p.key: json.loads(p.value) for p in model.metadata_props}
        with open(sidecar_path(result.path)) as file:
            sidecar = json.load(file)
        assert result.sidecar == str(result.path) + ".json"
        assert props == sidecar == result.metadata
        assert set(KEYS) <= set(props)
        assert props["ganzoo_version"] == ganzoo.__version__
        assert props["latent_dim"] == latent_dim
        assert props["num_classes"] == num_classes
        assert props["image_shape"] == list(image_shape)
        assert props["opset"] == 17
        assert props["preset"] is None and props["variant"] is None and props["class_names"] is None
        assert props["precision"] == ("float16" if kind == "fp16" else "float32")
        assert props["output_dtype"] == ("uint8" if kind == "uint8" else "float32")
        assert props["value_range"] == ([0, 255] if kind == "uint8" else [-1.0, 1.0])
        assert {o.domain: o.version for o in model.opset_import}[""] == 17


# ------------------------------------------------------- float16 and uint8


def test_fp16_export_loads_and_stays_within_bound(exported):
    config_id, generator, results = exported
    model = onnx.load(results["fp16"].path)
    floats = [init for init in model.graph.initializer if init.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    # The label branch (the one-hot table a Gather reads) stays float32 by design; every other weight is float16.
    label_nodes = set(graph_edits.label_branch_nodes(model))
    label_only = {name for node in model.graph.node if node.name in label_nodes for name in node.input}
    weights = [init for init in floats if len(init.dims) >= 2 and init.name not in label_only]
    assert weights and all(init.data_type == TensorProto.FLOAT16 for init in weights)
    fp32_weights = sum(init.ByteSize() for init in onnx.load(results["fp32"].path).graph.initializer)
    assert sum(init.ByteSize() for init in model.graph.initializer) < 0.6 * fp32_weights
    error = max_abs_error(results["fp16"].path, generator, config_id)
    assert error <= FLOAT16_ATOL
    assert max(results["fp16"].differences.values()) <= FLOAT16_ATOL


def test_uint8_output_matches_float_output_after_rounding(exported):
    config_id, generator, results = exported
    _, latent_dim, num_classes, _ = CONFIGS[config_id]
    for batch in (1, 7):
        feeds, keras_inputs = random_inputs((latent_dim, num_classes), batch, seed=10 + batch)
        pixels = run_onnx(results["uint8"].path, feeds)
        assert pixels.dtype == np.uint8
        floats = run_onnx(results["fp32"].path, feeds)
        levels = np.abs(pixels.astype(int) - to_uint8(floats).astype(int))
        assert levels.max() <= 1
        # The independent reference: float64 NumPy of Keras' output.
        reference = np.clip(np.round((np.asarray(generator(keras_inputs), "float64") + 1) * 127.5), 0, 255)
        assert np.abs(pixels - reference).max() <= 1
        assert pixels.min() < 64 and pixels.max() > 191  # images fill the range
    assert max(results["uint8"].differences.values()) <= 1


def test_fp16_uint8_export(tmp_path):
    generator = build("cond_16x16x1")
    result = export.to_onnx(generator, tmp_path / "g.onnx", fp16=True, uint8_output=True)
    assert result.metadata["precision"] == "float16" and result.metadata["output_dtype"] == "uint8"
    assert result.atol == FLOAT16_UINT8_ATOL == 3
    assert max(result.differences.values()) <= FLOAT16_UINT8_ATOL


# -------------------------------------------------------- mixed precision


def test_mixed_float16_generator_exports_as_float32(tmp_path):
    from helpers import compiled_gan, run_steps

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        gan = compiled_gan("cgan")
        run_steps(gan, steps=1)
    finally:
        keras.config.set_dtype_policy(previous)
    generator = gan.generator
    assert generator.get_layer("project").compute_dtype == "float16"
    result = export.to_onnx(generator, tmp_path / "mixed.onnx")
    assert keras.config.dtype_policy().name == previous.name
    assert generator.get_layer("project").compute_dtype == "float16"  # the original is untouched
    model = onnx.load(result.path)
    types = {init.data_type for init in model.graph.initializer}
    assert TensorProto.FLOAT16 not in types
    assert all(node.attribute[0].i != TensorProto.FLOAT16 for node in model.graph.node if node.op_type == "Cast")
    assert max(result.differences.values()) <= FLOAT32_ATOL
    # The float32 export holds the trained weights: it agrees with the
    # mixed-precision generator up to float16 rounding.
    feeds, keras_inputs = random_inputs((generator.inputs[0].shape[-1], 3), 5)
    mixed = np.asarray(generator(keras_inputs, training=False), "float32")
    np.testing.assert_allclose(run_onnx(result.path, feeds), mixed, atol=1e-2)


def test_spectral_norm_in_a_generator_is_folded_into_its_kernel(tmp_path):
    """A user's generator with SpectralNorm layers exports as plain layers holding W / sigma: no power iteration
    in the file, the same images as Keras at inference."""
    from ganzoo.models import SpectralNorm

    z = keras.Input((8,), name="z")
    x = SpectralNorm(layers.Dense(4 * 4 * 8), name="project")(z)
    x = layers.Reshape((4, 4, 8))(layers.LeakyReLU(0.2)(x))
    x = layers.UpSampling2D(2)(x)
    x = SpectralNorm(layers.Conv2D(1, 3, padding="same", activation="tanh"), name="to_image")(x)
    generator = realistic_weights(keras.Model(z, x))
    rng = np.random.default_rng(0)
    for _ in range(20):  # advance the power iteration so that sigma is not the initial estimate
        generator(rng.standard_normal((4, 8)).astype("float32"), training=True)
    result = export.to_onnx(generator, tmp_path / "sn.onnx")
    model = onnx.load(result.path)
    assert not {"ReduceSum", "Sqrt", "Div"} & {node.op_type for node in model.graph.node}
    assert max(result.differences.values()) <= FLOAT32_ATOL
    project = generator.get_layer("project")
    kernel, sigma, _ = project.normalized_kernel()
    singular = np.linalg.svd(keras.ops.convert_to_numpy(project.layer.kernel), compute_uv=False)[0]
    np.testing.assert_allclose(float(sigma), singular, rtol=1e-3)
    folded = {numpy_helper.to_array(init).shape: numpy_helper.to_array(init) for init in model.graph.initializer}
    np.testing.assert_allclose(folded[(8, 128)], keras.ops.convert_to_numpy(kernel), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------- verification


def test_verify_raises_with_the_difference(tmp_path, exported):
    config_id, generator, results = exported
    if config_id != "cond_16x16x1":
        pytest.skip("one configuration is enough")
    model = onnx.load(results["fp32"].path)
    kernel = max(model.graph.initializer, key=lambda init: np.prod(init.dims))
    array = numpy_helper.to_array(kernel).copy()
    array.flat[0] += 0.5
    kernel.CopyFrom(numpy_helper.from_array(array, kernel.name))
    onnx.save(model, tmp_path / "broken.onnx")
    with pytest.raises(VerificationError, match="max abs difference"):
        export.verify(tmp_path / "broken.onnx", generator)
    with pytest.raises(ValueError, match="batch_sizes"):
        export.verify(results["fp32"].path, generator, batch_sizes=(4,))


def test_verify_catches_a_fixed_batch(tmp_path):
    generator = build("uncond_16x16x1")
    result = export.to_onnx(generator, tmp_path / "g.onnx", verify=False)
    assert result.differences is None
    model = onnx.load(result.path)
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(model, tmp_path / "fixed.onnx")
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

    with pytest.raises(InvalidArgument, match=r"(?s)invalid dimensions for input: z .* Got: 7 Expected: 1"):
        export.verify(tmp_path / "fixed.onnx", generator, batch_sizes=(1, 7))


# --------------------------------------------------------- model sources


def test_export_from_keras_file_with_facts(tmp_path):
    generator = build("cond_16x16x1")
    generator.save(tmp_path / "g.keras")
    result = export.to_onnx(
        str(tmp_path / "g.keras"),
        tmp_path / "g.onnx",
        preset="mine",
        variant="cgan",
        class_names=["a", "b", "c"],
        opset=18,
    )
    assert result.metadata["class_names"] == ["a", "b", "c"]
    assert result.metadata["opset"] == 18
    props = {p.key: json.loads(p.value) for p in onnx.load(result.path).metadata_props}
    assert props["preset"] == "mine" and props["variant"] == "cgan"


def test_export_rejects_bad_arguments(tmp_path):
    generator = build("cond_16x16x1")
    with pytest.raises(ValueError, match="opset"):
        export.to_onnx(generator, tmp_path / "g.onnx", opset=19)
    with pytest.raises(ValueError, match="class_names"):
        export.to_onnx(generator, tmp_path / "g.onnx", class_names=["a", "b"], verify=False)
    with pytest.raises(FileNotFoundError):
        export.to_onnx(str(tmp_path / "missing.keras"), tmp_path / "g.onnx")
    with pytest.raises(TypeError):
        export.to_onnx(42, tmp_path / "g.onnx")


def test_float_output_stays_in_its_declared_range(tmp_path):
    """onnxruntime's tanh lands a few ulps past 1 (1.0000001 measured); the file clips to [-1, 1]."""
    result = export.to_onnx("dcgan_digits", tmp_path / "g.onnx")
    z = (np.random.default_rng(0).standard_normal((2000, 64)) * 5).astype(np.float32)  # saturates the tanh
    images = run_onnx(result.path, {"z": z})
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert (np.abs(images) == 1.0).any()  # saturated, and clipped exactly to the bound


def test_label_branch_stays_float32_in_fp16(exported):
    config_id, _, results = exported
    if CONFIGS[config_id][2] is None:
        pytest.skip("unconditional")
    model = onnx.load(results["fp16"].path)
    assert not [node for node in model.graph.node if node.op_type == "OneHot"]  # rewritten as a table lookup
    lookups = [
        node
        for node in model.graph.node
        if node.op_type == "Gather" and node.name in graph_edits.label_branch_nodes(model)
    ]
    assert lookups
    values = {init.name: init for init in model.graph.initializer}
    assert all(values[node.input[0]].data_type == TensorProto.FLOAT for node in lookups)
    assert graph_edits.has_float16(model)


def test_fp16_keeps_an_embedding_label_branch_in_float32(tmp_path):
    """An Embedding's negative-index fix-up (Cast/Less/Mul) breaks under plain float16 conversion (PITFALLS)."""
    from ganzoo.models import OneHot

    keras.utils.set_random_seed(0)
    z = keras.Input((8,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    embedded = layers.Flatten()(layers.Embedding(3, 4)(layers.Reshape((1,))(label)))  # (batch, 4)
    x = layers.Concatenate()([z, embedded, OneHot(3)(label)])
    x = layers.Reshape((4, 4, 8))(layers.Dense(4 * 4 * 8)(x))  # (batch, 4, 4, 8)
    image = layers.Activation("tanh")(layers.Conv2DTranspose(1, 4, strides=2, padding="same")(x))
    generator = realistic_weights(keras.Model([z, label], image))
    result = export.to_onnx(generator, tmp_path / "embedding.onnx", fp16=True)
    model = onnx.load(result.path)
    assert {"Less", "Gather"} <= {node.op_type for node in model.graph.node}
    assert max(result.differences.values()) <= FLOAT16_ATOL


def test_cli_export(tmp_path, capsys):
    from ganzoo.cli import main

    build("uncond_16x16x1").save(tmp_path / "g.keras")
    status = main(["export", str(tmp_path / "g.keras"), "-o", str(tmp_path / "g.onnx"), "--uint8"])
    out = capsys.readouterr().out
    assert status == 0
    assert "g.onnx" in out and "verified" in out and "levels" in out
    assert os.path.exists(tmp_path / "g.onnx.json")


# ---------------------------------------------------------------- presets


@pytest.mark.parametrize("name", PRESETS)
def test_preset_exports_and_verifies(name, tmp_path, monkeypatch):
    from ganzoo.training import generators
    from ganzoo.training.config import build_network

    with open(ZOO_CONFIGS / f"{name}.json") as file:
        config = json.load(file)
    if config["weights"]["file"] is None:
        # Not trained yet: export the preset's architecture with weights of a
        # trained scale, through the same preset-name path.
        generator = realistic_weights(build_network(config["generator"]))
        monkeypatch.setattr(generators, "load_generator", lambda preset: generator if preset == name else None)
    result = export.to_onnx(name, tmp_path / f"{name}.onnx")
    onnx.checker.check_model(onnx.load(result.path), full_check=True)
    assert max(result.differences.values()) <= FLOAT32_ATOL
    meta = result.metadata
    assert meta["preset"] == name and meta["variant"] == config["variant"]
    assert meta["num_classes"] == config["gan"]["num_classes"]
    assert meta["latent_dim"] == config["gan"]["latent_dim"]
    if meta["num_classes"] is not None:
        assert len(meta["class_names"]) == meta["num_classes"]
    model = onnx.load(result.path)
    assert [v.name for v in model.graph.input] == (["z"] if meta["num_classes"] is None else ["z", "label"])
    assert model.graph.output[0].name == "image" and dims(model.graph.output[0])[0] == "batch"
    with open(result.sidecar) as file:
        assert json.load(file) == meta
    # Portability: ONNX's own reference evaluator runs the graph (it rejects tf2onnx's OneHot, which the
    # exporter rewrites as a Gather), and agrees with Keras at two batch sizes.
    from onnx.reference import ReferenceEvaluator

    assert not [node.op_type for node in model.graph.node if node.op_type == "OneHot"]
    evaluator = ReferenceEvaluator(model)
    generator = generators.load_generator(name)
    for batch in (1, 3):
        feeds, keras_inputs = random_inputs((meta["latent_dim"], meta["num_classes"]), batch, seed=batch)
        (reference,) = evaluator.run(None, feeds)
        expected = np.asarray(generator(keras_inputs, training=False))
        assert reference.shape == expected.shape
        np.testing.assert_allclose(reference, expected, atol=FLOAT32_ATOL, rtol=0)
