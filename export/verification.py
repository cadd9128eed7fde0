"""Checks an exported ONNX generator against its Keras generator in onnxruntime."""

import numpy as np
import onnx
from onnx import TensorProto

from ganzoo.export import graph_edits
from ganzoo.export.float32_copy import float32_copy
from ganzoo.models.describe import describe_generator

# Float32 parity between Keras and onnxruntime is about 6e-7 (PITFALLS).
FLOAT32_ATOL = 1e-5
# Float16 weights and compute against Keras float32, on tanh outputs in
# [-1, 1]: measured 2e-3 to 8e-3 at batch 64 on generators with weights of
# a trained scale (pre-tanh values up to ~7). Rounding the weights alone
# (relative step 2^-11) gives ~4e-3, so this is the format, not the export.
# (PITFALLS' 4e-4 holds for freshly initialised N(0, 0.02) generators,
# whose outputs stay near 0.) 2e-2 is 2.55 uint8 levels.
FLOAT16_ATOL = 2e-2
# uint8 outputs: off by at most one level (rounding at a .5 boundary) ...
UINT8_ATOL = 1
# ... or, for a float16 model, the float16 bound in levels plus that one:
# |round(a) - round(b)| <= |a - b| + 1.
FLOAT16_UINT8_ATOL = int(FLOAT16_ATOL * 127.5 + 1)  # 3


def default_atol(fp16, uint8_output):
    """The default bound of `verify` for a model kind (uint8 bounds are in levels)."""
    if uint8_output:
        return FLOAT16_UINT8_ATOL if fp16 else UINT8_ATOL
    return FLOAT16_ATOL if fp16 else FLOAT32_ATOL


class VerificationError(RuntimeError):
    """An exported model disagrees with its Keras generator beyond the bound."""


def _check_batch_sizes(batch_sizes):
    sizes = tuple(batch_sizes) if isinstance(batch_sizes, (tuple, list)) else ()
    if len(set(sizes)) < 2 or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in sizes):
        raise ValueError(
            "Expected batch_sizes to hold at least two different positive ints (a graph with a fixed "
            f"batch would pass at one). Received: batch_sizes={batch_sizes!r}"
        )
    return sizes


def to_uint8(images):
    """Maps float images in [-1, 1] to uint8 pixels, as the uint8 graph does."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)


def verify(path, keras_generator, *, batch_sizes=(1, 7), atol=None, seed=None):
    """Runs an exported generator in onnxruntime and Keras on the same random inputs.

    Fresh noise (and random labels, for a conditional generator) at every
    batch size; Keras runs a float32 copy of the generator (see
    `float32_copy`), since the export computes in float32 whatever the
    training policy was.

    Args:
        path: the ONNX file.
        keras_generator: the Keras generator it was exported from.
        batch_sizes: two or more different batch sizes, so that a graph
            with a fixed batch fails.
        atol: the largest allowed max abs difference. Defaults to
            `FLOAT32_ATOL` (1e-5) for a float32 model, `FLOAT16_ATOL`
            (2e-2) for a float16 one; for uint8 output, whose reference is
            Keras' output mapped to uint8, `UINT8_ATOL` (1 level) or
            `FLOAT16_UINT8_ATOL` (3 levels) for float16.
        seed: seed of the random inputs; None draws fresh ones.

    Returns:
        A dict `{batch_size: max abs difference}` (in uint8 levels for a
        uint8 model).

    Raises:
        VerificationError: with the max abs difference, if it exceeds `atol`
            or an output has the wrong shape or dtype.
        ValueError: if `batch_sizes` holds fewer than two sizes.

    Example:
        >>> verify("generator.onnx", generator)
        {1: 2.4e-07, 7: 3.6e-07}
    """
    import onnxruntime as ort

    sizes = _check_batch_sizes(batch_sizes)
    model = onnx.load(str(path))
    uint8 = model.graph.output[0].type.tensor_type.elem_type == TensorProto.UINT8
    if atol is None:
        atol = default_atol(graph_edits.has_float16(model), uint8)
    generator = float32_copy(keras_generator)
    spec = describe_generator(generator)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    differences = {}
    for batch in sizes:
        z = rng.standard_normal((batch, spec["latent_dim"])).astype(np.float32)
        feeds = {"z": z}
        keras_inputs = z
        if spec["num_classes"] is not None:
            labels = rng.integers(0, spec["num_classes"], size=(batch,)).astype(np.int32)
            feeds["label"] = labels
            keras_inputs = [z, labels]
        expected = np.asarray(generator(keras_inputs, training=False), dtype=np.float32)
        (actual,) = session.run(["image"], feeds)
        expected_dtype = np.uint8 if uint8 else np.float32
        if actual.shape != (batch, *spec["image_shape"]) or actual.dtype != expected_dtype:
            raise VerificationError(
                f"Expected output 'image' of shape {(batch, *spec['image_shape'])} and dtype "
                f"{np.dtype(expected_dtype).name} from {path}. Received: shape {actual.shape}, dtype {actual.dtype}"
            )
        if uint8:
            difference = int(np.abs(actual.astype(np.int16) - to_uint8(expected).astype(np.int16)).max())
        else:
            difference = float(np.abs(actual - expected).max())
        differences[batch] = difference
        if difference > atol:
            raise VerificationError(
                f"Expected {path} to match the Keras generator within atol={atol}"
                f"{' uint8 levels' if uint8 else ''}. Received: max abs difference {difference:.3g} at "
                f"batch size {batch} (all so far: {differences})"
            )
    return differences
