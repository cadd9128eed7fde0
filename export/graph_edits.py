"""Edits of an exported ONNX generator graph, with the onnx API.

tf2onnx names the output `Identity:0` and every dynamic dimension
`unk__NNN`; these functions give the file its public names (`z`, `label`,
`image`, `batch`), append the uint8 pixel mapping and convert to float16.
"""

import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BATCH = "batch"
# Op types that must stay float32 in a float16 model, on top of the
# converter's defaults: OneHot's `values` input (CPU kernels and
# onnxruntime-web lack float16 OneHot variants).
FP16_EXTRA_OP_BLOCK_LIST = ("OneHot",)


def rename_value(model, old, new):
    """Renames the tensor `old` to `new` everywhere in the graph."""
    graph = model.graph
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        if value.name == old:
            value.name = new


def name_inputs_and_output(model, input_names, output_name="image"):
    """Renames the graph inputs (in order) and the single output.

    Args:
        model: an `onnx.ModelProto`, edited in place.
        input_names: the public names of the graph inputs, in order.
        output_name: the public name of the output.

    Raises:
        ValueError: if the graph's input or output count does not match.
    """
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != len(input_names) or len(graph.output) != 1:
        raise ValueError(
            f"Expected a graph with inputs {list(input_names)} and one output. Received: inputs "
            f"{[v.name for v in inputs]} and outputs {[v.name for v in graph.output]}"
        )
    for value, name in zip(inputs, input_names):
        if value.name != name:
            rename_value(model, value.name, name)
    if graph.output[0].name != output_name:
        rename_value(model, graph.output[0].name, output_name)


def name_batch_dimension(model, name=BATCH):
    """Names the first dimension of every graph input and output `name`.

    Every symbolic dimension those first dimensions had (tf2onnx gives each
    its own `unk__NNN`) is renamed in `value_info` too, so the graph states
    that they are one and the same batch.
    """
    graph = model.graph
    old_names = set()
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims:
            continue
        if dims[0].HasField("dim_param"):
            old_names.add(dims[0].dim_param)
        dims[0].dim_param = name  # also clears a fixed dim_value
    for value in graph.value_info:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in old_names:
                dim.dim_param = name


def append_uint8_output(model, output_name="image"):
    """Maps the float output in [-1, 1] to uint8 pixels inside the graph.

    `pixels = uint8(clip(round((x + 1) * 127.5), 0, 255))`. ONNX `Round`
    rounds half to even, as `np.round` does.
    """
    graph = model.graph
    output = graph.output[0]
    if output.name != output_name or output.type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ValueError(
            f"Expected one float32 output named {output_name!r}. Received: {output.name!r} of type "
            f"{TensorProto.DataType.Name(output.type.tensor_type.elem_type)}"
        )
    float_name = f"{output_name}_float"
    rename_value(model, output_name, float_name)
    constants = {"to_uint8_offset": 1.0, "to_uint8_scale": 127.5, "to_uint8_min": 0.0, "to_uint8_max": 255.0}
    for name, value in constants.items():
        graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
    graph.node.extend(
        [
            helper.make_node("Add", [float_name, "to_uint8_offset"], ["to_uint8_shifted"], name="to_uint8_add"),
            helper.make_node("Mul", ["to_uint8_shifted", "to_uint8_scale"], ["to_uint8_scaled"], name="to_uint8_mul"),
            helper.make_node("Round", ["to_uint8_scaled"], ["to_uint8_rounded"], name="to_uint8_round"),
            helper.make_node(
                "Clip", ["to_uint8_rounded", "to_uint8_min", "to_uint8_max"], ["to_uint8_clipped"], name="to_uint8_clip"
            ),
            helper.make_node("Cast", ["to_uint8_clipped"], [output_name], to=TensorProto.UINT8, name="to_uint8_cast"),
        ]
    )
    # The float tensor becomes internal: keep its shape as value_info.
    graph.value_info.append(output)
    new_output = onnx.ValueInfoProto()
    new_output.CopyFrom(output)
    new_output.name = output_name
    new_output.type.tensor_type.elem_type = TensorProto.UINT8
    del graph.output[:]
    graph.output.append(new_output)


def clip_output(model, low=-1.0, high=1.0, output_name="image"):
    """Clips the float output to `[low, high]` inside the graph (the range the metadata declares).

    A tanh in onnxruntime is a fast approximation that can land a few ulps
    past 1 (measured: 1.0000001); apps that map values to pixels must not
    see that.
    """
    graph = model.graph
    output = graph.output[0]
    if output.name != output_name or output.type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ValueError(f"Expected one float32 output named {output_name!r}. Received: {output.name!r}")
    unclipped = f"{output_name}_unclipped"
    rename_value(model, output_name, unclipped)
    for name, value in (("clip_low", low), ("clip_high", high)):
        graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), f"{output_name}_{name}"))
    graph.node.append(
        helper.make_node(
            "Clip",
            [unclipped, f"{output_name}_clip_low", f"{output_name}_clip_high"],
            [output_name],
            name=f"{output_name}_clip",
        )
    )
    graph.value_info.append(onnx.helper.make_value_info(unclipped, output.type))
    output.name = output_name


def label_branch_nodes(model, label_name="label"):
    """Returns the names of the nodes that compute from `label` and constants only.

    These nodes handle integer class ids (Cast, OneHot, an Embedding's
    negative-index fix-up Less/Mul/Add, Gather ...). Kept in float32 they
    cannot break under float16 conversion; they are tiny.
    """
    graph = model.graph
    constants = {init.name for init in graph.initializer} | {""}
    derived = {label_name}
    names = []
    for node in graph.node:  # ONNX nodes are topologically sorted
        if node.op_type == "Constant":
            constants.update(node.output)
            continue
        if any(name in derived for name in node.input) and all(
            name in derived or name in constants for name in node.input
        ):
            derived.update(node.output)
            names.append(node.name)
    return names


def to_float16(model, label_name="label"):
    """Converts a float32 model to float16 weights and compute, float32 I/O.

    Uses `onnxconverter_common.float16.convert_float_to_float16` with
    `keep_io_types=True`; the label branch and `FP16_EXTRA_OP_BLOCK_LIST`
    ops stay float32.

    Returns:
        A new `onnx.ModelProto`.
    """
    from onnxconverter_common import float16

    for index, node in enumerate(model.graph.node):
        if not node.name:  # node_block_list matches by name
            node.name = f"{node.op_type}_{index}"
    with warnings.catch_warnings():
        # "the float32 number 1e-9 will be truncated to 1e-07": float16 has
        # no such tiny numbers; the error bound in export.verification covers it.
        warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
        converted = float16.convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=[*float16.DEFAULT_OP_BLOCK_LIST, *FP16_EXTRA_OP_BLOCK_LIST],
            node_block_list=label_branch_nodes(model, label_name),
        )
    # The converter's shape inference leaves value_info with fresh `unk__N`
    # batch symbols (Reshape loses the link); runtimes infer shapes anyway.
    del converted.graph.value_info[:]
    return converted


def has_float16(model):
    """Whether any initializer of the model is float16."""
    return any(init.data_type == TensorProto.FLOAT16 for init in model.graph.initializer)


def has_subgraphs(graph):
    """Whether any node carries a graph attribute (If, Loop, Scan): rewrites here do not look inside them."""
    return any(
        attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for node in graph.node
        for attribute in node.attribute
    )
