"""The exporter's graph rewrites: OneHot -> Gather (portable_ops) and affine folding (graph_folding).

Each rewrite is checked on hand-built ONNX graphs against an independent
reference: NumPy's closed form of the op, and onnxruntime running the graph
before the rewrite.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from ganzoo.export.graph_folding import fold_affine_into_linear
from ganzoo.export.portable_ops import one_hot_to_gather


def make_model(nodes, inputs, output, initializers, shape):
    graph = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


# ------------------------------------------------------------ OneHot -> Gather


def one_hot_model(index_type, off=0.0, on=1.0, depth=5, depth_dtype=np.int32):
    label = helper.make_tensor_value_info("label", index_type, ["batch"])
    nodes = [helper.make_node("OneHot", ["label", "depth", "values"], ["encoded"], axis=-1, name="one_hot")]
    constants = {"depth": np.array([depth], depth_dtype), "values": np.array([off, on], np.float32)}
    return make_model(nodes, [label], "encoded", constants, ["batch", depth])


# Index/depth type pairs that onnxruntime's OneHot kernels implement (tf2onnx writes an int32 depth).
@pytest.mark.parametrize(
    "index_type, dtype, depth_dtype",
    [
        (TensorProto.INT32, np.int32, np.int32),
        (TensorProto.INT64, np.int64, np.int64),
        (TensorProto.FLOAT, np.float32, np.float32),
    ],
)
def test_one_hot_becomes_a_gather_with_the_same_values(index_type, dtype, depth_dtype):
    model = one_hot_model(index_type, off=0.1, on=0.9, depth_dtype=depth_dtype)
    labels = np.array([0, 4, 2, -1, -5], dtype=dtype)  # negative ids count back from depth
    before = run(model, {"label": labels})
    with pytest.raises(TypeError, match="OneHot"):  # the reason for the rewrite: a rank-1 depth
        ReferenceEvaluator(model).run(None, {"label": labels})

    assert one_hot_to_gather(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert [node.op_type for node in model.graph.node] == (["Cast"] if dtype == np.float32 else []) + ["Gather"]
    expected = np.full((5, 5), 0.1, np.float32)  # closed form: one row per id, `on` at the id (mod depth)
    expected[np.arange(5), labels.astype(np.int64) % 5] = 0.9
    np.testing.assert_array_equal(before, expected)
    np.testing.assert_array_equal(run(model, {"label": labels}), expected)
    np.testing.assert_array_equal(ReferenceEvaluator(model).run(None, {"label": labels})[0], expected)


def test_out_of_range_ids_fail_instead_of_giving_an_all_off_row():
    model = one_hot_model(TensorProto.INT32)
    assert run(model, {"label": np.array([7], np.int32)}).sum() == 0  # OneHot: silently no class at all
    one_hot_to_gather(model)
    with pytest.raises(Exception, match="indices"):
        run(model, {"label": np.array([7], np.int32)})


def test_one_hot_with_a_computed_depth_is_left_alone():
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])
    depth = helper.make_tensor_value_info("depth", TensorProto.INT64, [1])
    nodes = [helper.make_node("OneHot", ["label", "depth", "values"], ["encoded"], axis=-1)]
    model = make_model(nodes, [label, depth], "encoded", {"values": np.array([0.0, 1.0], np.float32)}, ["batch", "d"])
    assert one_hot_to_gather(model) == 0
    assert [node.op_type for node in model.graph.node] == ["OneHot"]


# ------------------------------------------------------------ affine folding


def affine_chain(linear, rng, scale_shape, bias_shape, with_bias=False):
    """A graph `linear -> Mul(scale) -> Add(shift) -> Relu` with random constants; returns (model, feeds)."""
    if linear == "MatMul":
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])
        weights = {"w": rng.standard_normal((6, 4)).astype(np.float32)}
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        feeds = {"x": rng.standard_normal((3, 6)).astype(np.float32)}
    else:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 5, 5])
        shape = (3, 4, 3, 3) if linear == "ConvTranspose" else (4, 3, 3, 3)  # (in, out, k, k) vs (out, in, k, k)
        weights = {"w": rng.standard_normal(shape).astype(np.float32)}
        inputs = ["x", "w"]
        if with_bias:
            weights["b"] = rng.standard_normal(4).astype(np.float32)
            inputs.append("b")
        attributes = {"strides": [2, 2], "pads": [1, 1, 1, 1]} if linear == "ConvTranspose" else {"pads": [1, 1, 1, 1]}
        node = helper.make_node(linear, inputs, ["y"], kernel_shape=[3, 3], **attributes)
        feeds = {"x": rng.standard_normal((2, 3, 5, 5)).astype(np.float32)}
    constants = {
        **weights,
        "scale": rng.uniform(0.5, 2.0, scale_shape).astype(np.float32),
        "shift": rng.standard_normal(bias_shape).astype(np.float32),
    }
    nodes = [
        node,
        helper.make_node("Mul", ["y", "scale"], ["scaled"]),
        helper.make_node("Add", ["shift", "scaled"], ["shifted"]),  # constant first: either order folds
        helper.make_node("Relu", ["shifted"], ["out"]),
    ]
    shape = ["batch", 4] if linear == "MatMul" else ["batch", 4, "h", "w"]
    if len(scale_shape) > 2 and linear == "MatMul":
        shape = [1, "batch", 4]
    return make_model(nodes, [x], "out", constants, shape), feeds


@pytest.mark.parametrize(
    "linear, scale_shape, bias_shape, with_bias, removed",
    [
        ("MatMul", (4,), (1, 4), False, 1),  # MatMul has no bias input: only the Mul folds
        ("ConvTranspose", (1, 4, 1, 1), (1, 4, 1, 1), False, 2),
        ("ConvTranspose", (4, 1, 1), (), True, 2),
        ("Conv", (1, 4, 1, 1), (1, 4, 1, 1), True, 2),
    ],
)
def test_folding_keeps_the_outputs(linear, scale_shape, bias_shape, with_bias, removed):
    model, feeds = affine_chain(linear, np.random.default_rng(0), scale_shape, bias_shape, with_bias)
    before = run(model, feeds)
    assert fold_affine_into_linear(model) == removed
    onnx.checker.check_model(model, full_check=True)
    assert len(model.graph.node) == 4 - removed
    np.testing.assert_allclose(run(model, feeds), before, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ReferenceEvaluator(model).run(None, feeds)[0], before, rtol=1e-5, atol=1e-5)


def test_folding_leaves_what_it_cannot_fold():
    rng = np.random.default_rng(1)
    # A Mul by a constant that varies over space, not per channel, is not an affine per-channel map.
    model, feeds = affine_chain("ConvTranspose", rng, (1, 4, 9, 9), (1, 4, 1, 1))
    before = run(model, feeds)
    assert fold_affine_into_linear(model) == 0
    np.testing.assert_array_equal(run(model, feeds), before)
    # A constant with more axes than the output would grow the output's shape: (1, 1, 4) after (batch, 4).
    model, feeds = affine_chain("MatMul", rng, (1, 1, 4), (4,))
    before = run(model, feeds)
    assert before.shape == (1, 3, 4)
    assert fold_affine_into_linear(model) == 0
    np.testing.assert_array_equal(run(model, feeds), before)
    # A 1-D convolution (3-D weights) is not folded: the per-channel rule here is for (N, C, H, W) outputs.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8])
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3]),
        helper.make_node("Mul", ["y", "s"], ["out"]),
    ]
    model = make_model(
        nodes,
        [x],
        "out",
        {"w": rng.standard_normal((4, 3, 3)).astype(np.float32), "s": np.array(2.0, np.float32)},
        ["batch", 4, 6],
    )
    assert fold_affine_into_linear(model) == 0
    # An intermediate that another node also reads must keep its value.
    model, feeds = affine_chain("MatMul", rng, (4,), (4,))
    model.graph.node.append(helper.make_node("Identity", ["y"], ["y_copy"]))
    model.graph.output.append(helper.make_tensor_value_info("y_copy", TensorProto.FLOAT, ["batch", 4]))
    assert fold_affine_into_linear(model) == 0


def test_a_one_hot_past_max_depth_is_left_alone():
    """A (depth, depth) table for 4097 classes is 64 MiB; past MAX_DEPTH the OneHot stays a OneHot."""
    from ganzoo.export.portable_ops import MAX_DEPTH

    assert MAX_DEPTH == 4096
    model = one_hot_model(TensorProto.INT32, depth=MAX_DEPTH + 1)
    assert one_hot_to_gather(model) == 0
    assert [node.op_type for node in model.graph.node] == ["OneHot"]


def test_a_graph_with_subgraphs_is_not_folded():
    """Folding renames and removes nodes of the main graph only; a subgraph (If, Loop, Scan) may read the
    intermediates it would remove, so a graph that has one is left as it is."""
    model, feeds = affine_chain("MatMul", np.random.default_rng(2), (4,), (1, 4))
    condition = numpy_helper.from_array(np.array(True), "condition")
    branch = helper.make_graph(
        [helper.make_node("Identity", ["y"], ["branch_out"])],  # reads the MatMul output from the outer graph
        "branch",
        [],
        [helper.make_tensor_value_info("branch_out", TensorProto.FLOAT, ["batch", 4])],
    )
    model.graph.initializer.append(condition)
    model.graph.node.append(helper.make_node("If", ["condition"], ["picked"], then_branch=branch, else_branch=branch))
    model.graph.output.append(helper.make_tensor_value_info("picked", TensorProto.FLOAT, ["batch", 4]))
    before = run(model, feeds)
    assert fold_affine_into_linear(model) == 0
    assert [node.op_type for node in model.graph.node] == ["MatMul", "Mul", "Add", "Relu", "If"]
    np.testing.assert_array_equal(run(model, feeds), before)
