"""The facts an exported generator carries: ONNX `metadata_props` and a JSON sidecar.

Both hold the same dict. In `metadata_props` every value is JSON-encoded
(ONNX stores strings only); the sidecar `<file>.json` holds it as one JSON
object, for runtimes that cannot read `metadata_props` (onnxruntime-web).

`check_sha256` and `graph_problem` check a file against these facts.

This module uses the standard library only: `ganzoo.export.runtime` reads
metadata through it without TensorFlow, Keras or even the onnx package.
"""

import hashlib
import json
import os
import re

FORMAT = "ganzoo-generator"
FORMAT_VERSION = 1
# Every file carries these keys (`None` where a fact does not apply).
KEYS = (
    "format",
    "format_version",
    "ganzoo_version",
    "preset",
    "variant",
    "latent_dim",
    "num_classes",
    "class_names",
    "image_shape",
    "layout",
    "output_dtype",
    "value_range",
    "precision",
    "opset",
    "inputs",
    "output",
)


def build_metadata(
    *,
    ganzoo_version,
    latent_dim,
    num_classes,
    image_shape,
    opset,
    fp16=False,
    uint8_output=False,
    preset=None,
    variant=None,
    class_names=None,
    extra=None,
):
    """Returns the metadata dict of an exported generator.

    Args:
        ganzoo_version: version string of the exporting ganzoo.
        latent_dim: size of the noise input `z`.
        num_classes: class count of a conditional generator, else None.
        image_shape: `(height, width, channels)` of one output image.
        opset: the ONNX opset of the file.
        fp16: whether the weights and compute are float16.
        uint8_output: whether the output is uint8 pixels in [0, 255]
            (else float32 in [-1, 1]).
        preset: preset name, or None.
        variant: GAN variant (`"dcgan"`, `"cgan"`, ...), or None.
        class_names: `num_classes` strings naming labels 0..num_classes-1, or
            None.
        extra: optional dict of further JSON-serializable facts.

    Returns:
        A dict with every key of `KEYS` (plus `extra`).

    Raises:
        ValueError: if `class_names` does not match `num_classes`.
    """
    if class_names is not None:
        class_names = list(class_names)
        if (
            num_classes is None
            or len(class_names) != num_classes
            or not all(isinstance(name, str) for name in class_names)
        ):
            raise ValueError(
                f"Expected class_names to be {num_classes} strings (one per class) for a generator "
                f"with num_classes={num_classes}. Received: class_names={class_names!r}"
            )
    inputs = {"z": {"dtype": "float32", "shape": ["batch", int(latent_dim)]}}
    if num_classes is not None:
        inputs["label"] = {"dtype": "int32", "shape": ["batch"], "range": [0, int(num_classes) - 1]}
    output_dtype = "uint8" if uint8_output else "float32"
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ganzoo_version": str(ganzoo_version),
        "preset": preset,
        "variant": variant,
        "latent_dim": int(latent_dim),
        "num_classes": None if num_classes is None else int(num_classes),
        "class_names": class_names,
        "image_shape": [int(d) for d in image_shape],
        "layout": "NHWC",
        "output_dtype": output_dtype,
        "value_range": [0, 255] if uint8_output else [-1.0, 1.0],
        "precision": "float16" if fp16 else "float32",
        "opset": int(opset),
        "inputs": inputs,
        "output": {"name": "image", "dtype": output_dtype, "shape": ["batch", *(int(d) for d in image_shape)]},
    }
    for key, value in (extra or {}).items():
        if key in metadata:
            raise ValueError(f"Expected extra metadata keys other than {KEYS}. Received: key={key!r}")
        metadata[key] = value
    return metadata


def to_props(metadata):
    """Returns `{key: json string}` for ONNX `metadata_props`."""
    return {key: json.dumps(value) for key, value in metadata.items()}


def from_props(props):
    """Decodes `metadata_props` written by `to_props`; non-JSON values stay strings."""
    metadata = {}
    for key, text in props.items():
        try:
            metadata[key] = json.loads(text)
        except (ValueError, RecursionError):
            metadata[key] = text
    return metadata


def sidecar_path(path):
    """Returns the sidecar path of an ONNX file: `<file>.json`."""
    return os.fspath(path) + ".json"


def write_sidecar(path, metadata):
    """Writes `metadata` to the sidecar of the ONNX file `path`; returns its path."""
    target = sidecar_path(path)
    with open(target, "w", encoding="utf-8") as file:
        json.dump(metadata, file, indent=2)
        file.write("\n")
    return target


def read_sidecar(path):
    """Returns the sidecar dict of the ONNX file `path`, or None if there is none."""
    target = sidecar_path(path)
    if not os.path.exists(target):
        return None
    with open(target, encoding="utf-8") as file:
        try:
            metadata = json.load(file)
        except (ValueError, RecursionError) as error:
            raise ValueError(
                f"Expected a JSON object in the sidecar {target}. Received invalid JSON: {error}"
            ) from None
    if not isinstance(metadata, dict):
        raise ValueError(f"Expected a JSON object in the sidecar {target}. Received: {type(metadata).__name__}")
    return metadata


_TENSOR_TYPES = {"float32": "tensor(float)", "uint8": "tensor(uint8)"}


def check_sha256(path, metadata):
    """Verifies `path` against the `sha256` its sidecar `metadata` records, if it records one.

    Raises:
        ValueError: a malformed `sha256`, or a file with another hash,
            naming the file and both hashes.
    """
    recorded = metadata.get("sha256")
    if recorded is None:
        return
    sidecar = sidecar_path(path)
    if not isinstance(recorded, str) or not re.fullmatch(r"[0-9a-f]{64}", recorded):
        raise ValueError(
            f"Expected sha256 in {sidecar} to be 64 lowercase hex digits. Received: sha256={recorded!r}"[:600]
        )
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != recorded:
        raise ValueError(
            f"Expected {path} to have the sha256 its sidecar {sidecar} records, {recorded}. "
            f"Received: sha256={digest.hexdigest()} (the file was changed or replaced after export)"
        )


def graph_problem(metadata, inputs, image):
    """Returns the first disagreement between checked metadata and a graph's declared types and shapes, or None.

    Args:
        metadata: a metadata dict whose keys passed the runtime's checks.
        inputs: `{name: node}` of the graph inputs `z` (and `label`), each
            with onnxruntime's `.shape` and `.type`.
        image: the graph's `image` output node.
    """
    shape, image_shape = list(image.shape), list(metadata["image_shape"])
    fixed = [d if isinstance(d, int) else None for d in shape[1:]]  # a named or unknown dim matches anything
    if len(shape) != 4 or any(d is not None and d != want for d, want in zip(fixed, image_shape)):
        return f"image_shape={image_shape} where the graph's output image has shape {shape}"
    if image.type != _TENSOR_TYPES[metadata["output_dtype"]]:
        return f"output_dtype={metadata['output_dtype']!r} where the graph's output image is {image.type}"
    if inputs["z"].type != "tensor(float)":
        return f"input z of type {inputs['z'].type} where the runtime feeds tensor(float)"
    label = inputs.get("label")
    if label is not None and (label.type != "tensor(int32)" or len(label.shape) != 1):
        return f"input label of type {label.type} and shape {label.shape} where the runtime feeds int32 (batch,)"
    return None
