"""Images/s of the FID Inception network: onnxruntime (ganzoo's path) against the TorchScript module, vs the matmul peak.

Usage:
    python benchmarks/inception_speed.py                      # batches 1, 8, 64; 2 rounds
    python benchmarks/inception_speed.py --batch-sizes 64 --rounds 3

Rows:
- `onnxruntime (ganzoo)`: `InceptionFeatureExtractor` end to end, from 28x28
  grey images in [-1, 1] (resize to 299x299 included) to 2048-d features.
- `torch TorchScript`: the pinned `default_1.pt` module on already
  preprocessed (3, 299, 299) inputs, `torch.inference_mode()`, all CPUs.

FLOPs per image are counted from the exported ONNX graph: 2 x multiply-adds of
every Conv and Gemm at their inferred shapes (pooling, batch norm and ReLU
are left out: under 1 %). The peak is this CPU's measured float32 matmul
(4096 x 4096, all cores): the best of numpy's OpenBLAS, torch's BLAS and
onnxruntime's own MLAS SGEMM (a one-node MatMul graph), so that a slow BLAS
build does not flatter the fraction. Every round times the peak and each
(path, batch) once, alternating, so the load of a shared machine hits all
of them; the best round of each is reported.
"""

import argparse
import os
import platform
import subprocess
import time

import numpy as np


def cpu_name():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def graph_flops(path):
    """2 x multiply-adds of the Conv and Gemm nodes of one image, from ONNX shape inference."""
    import onnx

    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1  # batch 1
    model = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    shapes.update({v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.output})
    weights = {w.name: list(w.dims) for w in model.graph.initializer}
    for node in model.graph.node:  # weights that the exporter emitted as Constant nodes
        if node.op_type == "Constant":
            weights[node.output[0]] = list(node.attribute[0].t.dims)
    flops = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out_channels, in_per_group, *kernel = weights[node.input[1]]
            out = shapes[node.output[0]]  # (1, C_out, H, W)
            flops += 2 * int(np.prod(out)) * in_per_group * int(np.prod(kernel))
        elif node.op_type == "Gemm":
            k, n = weights[node.input[1]]
            flops += 2 * k * n
    return flops


def matmul_flops_per_s(product, n=4096, repeats=3):
    """FLOP/s of the fastest of `repeats` calls of `product()` (an n x n x n matmul), after a warm-up call."""
    product()  # warm-up: thread pools, page faults
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def ort_matmul(threads, square):
    """A `product()` running `square @ square` as a one-node ONNX MatMul in onnxruntime (MLAS SGEMM)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    n = square.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "matmul",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, n]) for name in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"a": square, "b": square})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-torch", action="store_true", help="skip the TorchScript rows (slow: about 2 images/s)")
    args = parser.parse_args()

    import torch

    from ganzoo.metrics import inception
    from ganzoo.metrics import inception_network as network

    threads = network.available_cpus()
    torch.set_num_threads(threads)
    path = network.onnx_path()
    flops = graph_flops(path)
    module = network.load_torchscript()
    extractors = {b: inception.InceptionFeatureExtractor(batch_size=b) for b in args.batch_sizes}
    rng = np.random.default_rng(0)
    best = {}
    square = rng.standard_normal((4096, 4096), dtype=np.float32)
    square_torch = torch.from_numpy(square)
    products = {
        "numpy": lambda: square @ square,
        "torch": lambda: square_torch @ square_torch,
        "onnxruntime": ort_matmul(threads, square),
    }
    peaks = dict.fromkeys(products, 0.0)
    for _ in range(args.rounds):
        for name, product in products.items():
            peaks[name] = max(peaks[name], matmul_flops_per_s(product))
        for batch in args.batch_sizes:
            images = rng.uniform(-1, 1, (batch, 28, 28, 1)).astype(np.float32)
            if ("onnxruntime (ganzoo)", batch) not in best:
                extractors[batch](images)  # warm-up: the session's first run allocates and picks kernels
            start = time.perf_counter()
            extractors[batch](images)
            rate = batch / (time.perf_counter() - start)
            best[("onnxruntime (ganzoo)", batch)] = max(best.get(("onnxruntime (ganzoo)", batch), 0.0), rate)
            if args.no_torch:
                continue
            inputs = torch.from_numpy(inception.inception_preprocess(images))
            with torch.inference_mode():
                if ("torch TorchScript", batch) not in best:
                    module(inputs)
                start = time.perf_counter()
                module(inputs)
            rate = batch / (time.perf_counter() - start)
            best[("torch TorchScript", batch)] = max(best.get(("torch TorchScript", batch), 0.0), rate)

    import onnxruntime

    peak = max(peaks.values())

    print(f"CPU: {cpu_name()}, {threads} threads; onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    print(f"Network: {flops / 1e9:.3f} GFLOP per image (Conv/Gemm of the ONNX graph, 2 x multiply-adds)")
    measured = ", ".join(f"{name} {value / 1e9:.1f}" for name, value in peaks.items())
    print(
        f"Matmul peak (float32 4096^2, best of {args.rounds} rounds x 3): {measured} GFLOP/s; "
        f"the peak used: {peak / 1e9:.1f} GFLOP/s\n"
    )
    print("| path | batch | images/s | GFLOP/s | % of matmul peak | 10k images |")
    print("|---|---:|---:|---:|---:|---:|")
    for (name, batch), rate in sorted(
        best.items(), key=lambda item: (item[0][0] != "onnxruntime (ganzoo)", item[0][1])
    ):
        achieved = rate * flops
        print(
            f"| {name} | {batch} | {rate:.2f} | {achieved / 1e9:.1f} | {100 * achieved / peak:.0f}% | "
            f"{10_000 / rate / 60:.1f} min |"
        )
    print(f"\n({args.rounds} alternating rounds, best of each; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
