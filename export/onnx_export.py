"""Keras generator -> ONNX file with public names, metadata and a verified output.

Conversion is Keras' own `Model.export(format="onnx")`, which on the
TensorFlow backend traces the model into a `tf.function` and runs tf2onnx's
`from_function` (with Keras' numpy-2 patch of tf2onnx). The graph it gives
is the same as calling tf2onnx directly; only the names are fixed up here.
"""

import dataclasses
import os
import tempfile
import warnings

import keras
import onnx

import ganzoo
from ganzoo.export import graph_edits, graph_folding, portable_ops
from ganzoo.export import metadata as metadata_lib
from ganzoo.export import verification
from ganzoo.export.float32_copy import float32_copy
from ganzoo.models.describe import describe_generator

# tf2onnx 1.17 converts up to opset 18; Round and Clip(min, max) need 11.
MIN_OPSET, MAX_OPSET = 11, 18


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `to_onnx` wrote.

    Attributes:
        path: the ONNX file.
        sidecar: the JSON sidecar, `<path>.json`.
        metadata: the metadata dict (as in both files).
        differences: `{batch_size: max abs difference}` from `verify`, or
            None when verification was skipped.
        atol: the bound the differences were checked against, or None.
    """

    path: str
    sidecar: str
    metadata: dict
    differences: dict | None
    atol: float | None


def _looks_like_path(value):
    # The rule of ganzoo.training.generators.load_generator: preset names have no "/" and no ".keras".
    return isinstance(value, os.PathLike) or value.endswith(".keras") or os.sep in value or "/" in value


def _preset_facts(name, hub=None):
    """Returns `(generator, facts)` for a preset name, through `ganzoo.client.presets`."""
    from ganzoo.client import presets  # lazily: only preset names need the zoo
    from ganzoo.training import generators

    generator = generators.load_generator(name, hub=hub)
    config = presets.load_config(name, hub=hub)
    facts = {"preset": name, "variant": config["variant"]}
    if config["gan"]["num_classes"] is not None:
        from ganzoo import data

        try:
            facts["class_names"] = data.class_names(config["recipe"]["dataset"])
        except FileNotFoundError:  # an image folder that is not on this machine
            pass
    return generator, facts


def _resolve(model, hub=None):
    """Returns `(keras generator, facts from its preset)` for a model, a `.keras` path or a preset name."""
    if isinstance(model, keras.Model):
        return model, {}
    if isinstance(model, (str, os.PathLike)) and _looks_like_path(model):
        from ganzoo.training import generators

        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Expected an existing .keras file. Received: model={path!r}")
        # The zoo's loader: safe mode, and no Lambda or other code even if the process enabled unsafe loading.
        return generators.load_generator_file(path), {}
    if isinstance(model, str):
        return _preset_facts(model, hub)
    raise TypeError(f"Expected a Keras generator, a .keras path or a preset name. Received: model={model!r}")


def _check_opset(opset):
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"Expected opset to be an int in [{MIN_OPSET}, {MAX_OPSET}]. Received: opset={opset!r}")


def _convert(generator, spec, opset):
    """Runs Keras' ONNX export; returns the `onnx.ModelProto` with public names."""
    from ganzoo.backends import driver

    if not driver.onnx_export_in_process():
        raise ValueError(f"Expected the tensorflow backend for ONNX export. Received: {keras.backend.backend()!r}")
    import tensorflow as tf

    specs = [tf.TensorSpec((None, spec["latent_dim"]), tf.float32, name="z")]
    if spec["num_classes"] is not None:
        specs.append(tf.TensorSpec((None,), tf.int32, name="label"))
    # A two-input functional model needs the nested signature [[z, label]].
    signature = [specs] if len(specs) == 2 else specs
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.onnx")
        with warnings.catch_warnings():
            # Keras' numpy-2 patch of tf2onnx probes `np.object`.
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
            generator.export(raw, format="onnx", input_signature=signature, opset_version=opset, verbose=False)
        model = onnx.load(raw)
    graph_edits.name_inputs_and_output(model, [s.name for s in specs], "image")
    graph_edits.name_batch_dimension(model)
    portable_ops.one_hot_to_gather(model)  # runs in every runtime, ONNX's reference evaluator included
    graph_folding.fold_affine_into_linear(model)  # batch norm and biases into the weights: fewer passes
    return model


def to_onnx(
    model,
    path,
    *,
    opset=17,
    fp16=False,
    uint8_output=False,
    verify=True,
    preset=None,
    variant=None,
    class_names=None,
    batch_sizes=(1, 7),
    atol=None,
    hub=None,
):
    """Exports a generator to ONNX, with metadata and a JSON sidecar, and verifies it.

    The file has input `z` float32 `(batch, latent_dim)`, for a conditional
    generator input `label` int32 `(batch,)`, and output `image`
    `(batch, H, W, C)`: float32 in [-1, 1], or uint8 pixels with
    `uint8_output`. The generator is always rebuilt in float32 first, so a
    mixed-precision generator exports as float32.

    Args:
        model: a Keras generator, a `.keras` path (loaded with
            `safe_mode=True`) or a preset name (`ganzoo.training.generators.load_generator`).
        path: the ONNX file to write; the sidecar goes to `<path>.json`.
        opset: ONNX opset, 11 to 18.
        fp16: convert weights and compute to float16 (I/O stay float32/int32).
        uint8_output: map the output to uint8 pixels inside the graph:
            `round((x + 1) * 127.5)`, clipped to [0, 255].
        verify: compare onnxruntime with Keras (see `export.verify`).
        preset: preset name for the metadata; filled in when `model` is one.
        variant: GAN variant for the metadata; filled in from a preset.
        class_names: names of the classes; filled in from a preset's dataset.
        batch_sizes: batch sizes `verify` checks.
        atol: bound for `verify`; None picks the default of the model kind.
        hub: where a preset name's files come from (default
            `$GANZOO_HUB_URL`, else the shipped presets).

    Returns:
        An `ExportResult` (path, sidecar, metadata, differences, atol).

    Raises:
        VerificationError: if the file does not match the Keras generator.
        ValueError, TypeError, FileNotFoundError: for bad arguments.

    Example:
        >>> result = to_onnx(generator, "generator.onnx")
        >>> result.differences
        {1: 2.4e-07, 7: 3.6e-07}
    """
    _check_opset(opset)
    generator, facts = _resolve(model, hub)
    preset = preset if preset is not None else facts.get("preset")
    variant = variant if variant is not None else facts.get("variant")
    class_names = class_names if class_names is not None else facts.get("class_names")
    generator = float32_copy(generator)
    spec = describe_generator(generator)
    metadata = metadata_lib.build_metadata(
        ganzoo_version=ganzoo.__version__,
        latent_dim=spec["latent_dim"],
        num_classes=spec["num_classes"],
        image_shape=spec["image_shape"],
        opset=opset,
        fp16=fp16,
        uint8_output=uint8_output,
        preset=preset,
        variant=variant,
        class_names=class_names,
    )

    onnx_model = _convert(generator, spec, opset)
    if fp16:
        onnx_model = graph_edits.to_float16(onnx_model)
    if uint8_output:
        graph_edits.append_uint8_output(onnx_model)
    else:
        graph_edits.clip_output(onnx_model, -1.0, 1.0)  # onnxruntime's tanh can land a few ulps outside
    onnx_model.producer_name = "ganzoo"
    onnx_model.producer_version = ganzoo.__version__
    inputs = "z, label" if spec["num_classes"] is not None else "z"
    onnx_model.doc_string = f"ganzoo generator {preset or ''}: ({inputs}) -> image".replace("  ", " ")
    onnx.helper.set_model_props(onnx_model, metadata_lib.to_props(metadata))
    onnx.checker.check_model(onnx_model, full_check=True)

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    onnx.save(onnx_model, path)
    sidecar = metadata_lib.write_sidecar(path, metadata)
    differences = None
    if verify:
        atol = atol if atol is not None else verification.default_atol(fp16, uint8_output)
        differences = verification.verify(path, generator, batch_sizes=batch_sizes, atol=atol)
    return ExportResult(
        path=path, sidecar=sidecar, metadata=metadata, differences=differences, atol=atol if verify else None
    )
