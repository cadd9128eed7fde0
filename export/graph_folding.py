"""Constant folding that onnxruntime does not do itself, for faster generators.

tf2onnx writes a Keras `BatchNormalization` (inference mode) as `Mul` and
`Add` by per-channel constants, and a layer bias as another `Add`.
onnxruntime folds those into a `Conv`, but not into a `ConvTranspose` or a
`MatMul` (checked on the graph onnxruntime 1.32 saves with
`optimized_model_filepath`), so a DCGAN generator pays one or two extra
passes over every feature map. `fold_affine_into_linear` moves them into
the weights and the bias, which removes those passes: on the DCGAN
generator of `benchmarks/inference.py` the graph goes from 14 to 10 nodes.

Folding changes the order of floating-point operations (`(x W) s` becomes
`x (W s)`), so outputs move by a few float32 ulps; `export.verify` checks
the folded file against Keras as before.

Example:
    >>> folded = fold_affine_into_linear(model)   # returns how many nodes it removed
"""

import numpy as np
import onnx
from onnx import numpy_helper

from ganzoo.export import graph_edits

_LINEAR = ("MatMul", "ConvTranspose", "Conv")


def _consumers(graph):
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def _constant(graph, name):
    """The initializer named `name` as a NumPy array, or None."""
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _set_initializer(graph, name, array):
    """Adds or replaces the initializer `name` (a fresh name per edit: initializers may be shared)."""
    for index, init in enumerate(graph.initializer):
        if init.name == name:
            del graph.initializer[index]
            break
    graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), name))


def _channel_vector(array, channels, layout, output_rank):
    """Returns `array` as a `(channels,)` vector if it broadcasts along the channel axis only, else None.

    `layout` is "last" for a MatMul output `(..., channels)` and "nchw" for
    a 2-D convolution output `(N, channels, H, W)`. A constant with more
    axes than the output (`output_rank`, None when unknown) would grow the
    output's shape by broadcasting, so it is not folded.
    """
    if array is None or array.dtype != np.float32:
        return None
    max_rank = output_rank if output_rank is not None else (1 if layout == "last" else 4)
    if array.ndim > max_rank:
        return None
    if array.size == 1:
        return np.full((channels,), array.reshape(()), dtype=np.float32)
    shape = tuple(array.shape)
    if layout == "last":
        ok = len(shape) >= 1 and shape[-1] == channels and all(d == 1 for d in shape[:-1])
    else:
        ok = shape in ((1, channels, 1, 1), (channels, 1, 1))
    return array.reshape((channels,)) if ok else None


def _output_ranks(model):
    """`{tensor name: rank}` from ONNX shape inference (tensors it cannot type are left out)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is a help here, never a requirement
        return {}
    ranks = {}
    for value in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input):
        if value.type.tensor_type.HasField("shape"):
            ranks[value.name] = len(value.type.tensor_type.shape.dim)
    return ranks


def _fold_one(graph, consumers, outputs, ranks):
    """Folds one Mul or Add into the linear node before it; returns True if it did."""
    for node in graph.node:
        if node.op_type not in _LINEAR or len(node.output) != 1:
            continue
        weight = _constant(graph, node.input[1])
        if weight is None or weight.dtype != np.float32:
            continue
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attributes.get("group", 1) != 1:
            continue
        if node.op_type == "MatMul":
            if weight.ndim != 2:
                continue
            channels, layout = weight.shape[1], "last"
        else:
            if weight.ndim != 4:  # 2-D convolutions only: (N, C, H, W) outputs
                continue
            channels, layout = weight.shape[1 if node.op_type == "ConvTranspose" else 0], "nchw"
        (output,) = node.output
        users = consumers.get(output, [])
        if output in outputs or len(users) != 1:
            continue
        (user,) = users
        if user.op_type not in ("Mul", "Add") or len(user.input) != 2:
            continue
        other = user.input[1] if user.input[0] == output else user.input[0]
        vector = _channel_vector(_constant(graph, other), channels, layout, ranks.get(output))
        if vector is None:
            continue
        bias = None
        if node.op_type != "MatMul":
            bias = (
                _constant(graph, node.input[2])
                if len(node.input) > 2 and node.input[2]
                else np.zeros((channels,), np.float32)
            )
            if bias is None:
                continue
        if user.op_type == "Mul":
            if node.op_type == "MatMul":
                weight = weight * vector[None, :]
            elif node.op_type == "ConvTranspose":  # (in, out, kh, kw)
                weight = weight * vector[None, :, None, None]
            else:  # Conv: (out, in, kh, kw)
                weight = weight * vector[:, None, None, None]
            bias = None if bias is None else bias * vector
        else:
            if node.op_type == "MatMul":
                continue  # MatMul has no bias input; the Add stays (onnxruntime may fuse it into Gemm)
            bias = bias + vector
        base = f"{node.name or node.output[0]}_folded"
        weight_name = f"{base}_w{len(graph.initializer)}"
        _set_initializer(graph, weight_name, weight.astype(np.float32))
        node.input[1] = weight_name
        if bias is not None:
            bias_name = f"{base}_b{len(graph.initializer)}"
            _set_initializer(graph, bias_name, bias.astype(np.float32))
            if len(node.input) > 2:
                node.input[2] = bias_name
            else:
                node.input.append(bias_name)
        # The linear node now writes what the Mul/Add wrote.
        node.output[0] = user.output[0]
        graph.node.remove(user)
        return True
    return False


def _drop_unused_initializers(graph):
    used = {name for node in graph.node for name in node.input} | {value.name for value in graph.output}
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    names = {name for node in graph.node for name in (*node.input, *node.output)}
    info = [value for value in graph.value_info if value.name in names]
    del graph.value_info[:]
    graph.value_info.extend(info)


def fold_affine_into_linear(model):
    """Folds per-channel constant `Mul`/`Add` nodes into the MatMul/Conv/ConvTranspose before them.

    A `Mul` by a per-output-channel constant scales the weights (and the
    bias); an `Add` of one becomes (part of) a convolution's bias. Only
    float32 initializers with one consumer, after a 2-D MatMul weight or a
    2-D convolution (group 1), are folded; anything else, and any graph with
    subgraphs (If, Loop, Scan), is left as it is. `MatMul` has no bias
    input, so only a `Mul` folds into it; the `Add` after it stays.

    Args:
        model: an `onnx.ModelProto`, edited in place.

    Returns:
        The number of nodes removed.
    """
    graph = model.graph
    if graph_edits.has_subgraphs(graph):
        return 0
    outputs = {value.name for value in graph.output}
    ranks = _output_ranks(model)
    removed = 0
    while _fold_one(graph, _consumers(graph), outputs, ranks):
        removed += 1
    _drop_unused_initializers(graph)
    return removed
