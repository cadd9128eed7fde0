"""Rewrites of exported graphs into ops that every ONNX runtime runs.

tf2onnx writes a Keras one-hot (`CategoryEncoding`, `ops.one_hot`) as
`OneHot(indices, depth, values)` with `depth` a rank-1 tensor `[C]`. The
ONNX spec allows that, but ONNX's own reference evaluator
(`onnx.reference.ReferenceEvaluator`) rejects it, and small runtimes lack
`OneHot` altogether. `one_hot_to_gather` replaces it with a row lookup in a
constant table: `Gather(table, indices)` where `table[i] = values[1]` on
the diagonal and `values[0]` elsewhere (the identity matrix for 0/1
values).

The two agree for every valid class id, negative ids counting back from
`depth` included. They differ only outside `[-depth, depth)`: `OneHot`
gives an all-`off` row there and `Gather` fails, which turns a silent wrong
image into an error (the runtimes check labels before that anyway).
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ganzoo.export import graph_edits

_INDEX_TYPES = (TensorProto.INT32, TensorProto.INT64)
# A (depth, depth) table: past this many classes a OneHot stays (10k classes would be a 400 MB table).
MAX_DEPTH = 4096


def _constants(graph):
    return {init.name: numpy_helper.to_array(init) for init in graph.initializer}


def _elem_types(model):
    """`{tensor name: elem_type}` for the graph's inputs, value_info and initializers (after shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {}
    for value in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        types[value.name] = value.type.tensor_type.elem_type
    for init in inferred.graph.initializer:
        types[init.name] = init.data_type
    return types


def one_hot_to_gather(model):
    """Replaces every `OneHot` with constant depth and values, on the last axis, by a `Gather`.

    Indices that are not int32/int64 get a `Cast` to int64 first (ONNX
    `OneHot` takes any numeric indices; `Gather` wants integers).

    Args:
        model: an `onnx.ModelProto`, edited in place.

    Returns:
        The number of `OneHot` nodes replaced. A `OneHot` whose depth or
        values are computed at run time, that encodes along another axis or
        has more than `MAX_DEPTH` classes, is left as it is, and so is every
        node of a graph with subgraphs.
    """
    graph = model.graph
    if graph_edits.has_subgraphs(graph):
        return 0
    constants = _constants(graph)
    types = None
    replaced = 0
    new_nodes = []
    for index, node in enumerate(graph.node):
        if node.op_type != "OneHot" or node.domain not in ("", "ai.onnx"):
            new_nodes.append(node)
            continue
        indices, depth_name, values_name = node.input
        depth, values = constants.get(depth_name), constants.get(values_name)
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), -1)
        if (
            depth is None
            or values is None
            or depth.size != 1
            or values.size != 2
            or axis != -1
            or not 1 <= int(depth.reshape(())) <= MAX_DEPTH
        ):
            new_nodes.append(node)
            continue
        if types is None:
            types = _elem_types(model)
        classes = int(depth.reshape(()))
        off, on = values.reshape(2)
        table = np.where(np.eye(classes, dtype=bool), on, off).astype(values.dtype)  # (classes, classes)
        base = node.name or f"one_hot_{index}"
        table_name = f"{base}_table"
        graph.initializer.append(numpy_helper.from_array(table, table_name))
        if types.get(indices) not in _INDEX_TYPES:
            cast_output = f"{base}_indices_int64"
            new_nodes.append(
                helper.make_node("Cast", [indices], [cast_output], to=TensorProto.INT64, name=f"{base}_cast")
            )
            indices = cast_output
        new_nodes.append(helper.make_node("Gather", [table_name, indices], list(node.output), axis=0, name=base))
        replaced += 1
    if replaced:
        del graph.node[:]
        graph.node.extend(new_nodes)
        used = {name for node in graph.node for name in node.input}
        keep = [init for init in graph.initializer if init.name in used]
        del graph.initializer[:]
        graph.initializer.extend(keep)
    return replaced
