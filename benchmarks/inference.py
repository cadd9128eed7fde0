"""Generator inference speed: onnxruntime (fp32, fp16) against Keras and TensorFlow.

Measures the latency (median, p90) and throughput of one forward pass at
batch 1, 16 and 256 for:

- `ort fp32`, `ort fp16`: `ganzoo.export.runtime.OnnxGenerator.run` (one
  reused session, threads = physical cores, all graph optimisations);
- `ort fp32 unfolded`: the same without `graph_folding` (batch norm and
  biases left as Mul/Add nodes after MatMul and ConvTranspose, as tf2onnx
  writes them): the before of that change, measured in the same run;
- `ort fp32 1 thread`: `intra_op_threads=1`;
- `keras predict`: `model.predict(z, batch_size=batch)`;
- `keras call`: `model(z, training=False)`;
- `tf.function`, `tf.function xla`: the call traced once (and XLA-compiled).

Runs are interleaved (A, B, C, ..., A, B, C, ...) so that load from other
processes hits every runner alike; the table reports medians. It prints a
Markdown table for BENCHMARKS.md.

Usage:
    python benchmarks/inference.py                   # DCGAN 28x28x1, filters 64, latent 100
    python benchmarks/inference.py --model dcgan_fashion_mnist   # a preset or a .keras file
"""

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganzoo import export  # noqa: E402
from ganzoo.export import graph_folding  # noqa: E402
from ganzoo.export.runtime import OnnxGenerator, physical_cores  # noqa: E402
from ganzoo.models import dcgan_generator, describe_generator  # noqa: E402

BATCH_SIZES = (1, 16, 256)


def build_generator(model):
    """The benchmarked Keras generator: a preset or .keras file, or DCGAN 28x28x1 / 64 / 100."""
    if model is None:
        keras.utils.set_random_seed(0)
        return dcgan_generator((28, 28, 1), 100, filters=64), "dcgan 28x28x1, filters 64, latent 100"
    from ganzoo.export.onnx_export import _resolve

    generator, _ = _resolve(model)
    return generator, model


def runners(generator, tmp):
    """`{name: fn(z, labels)}` for every measured way of running the generator."""
    spec = describe_generator(generator)
    ort32 = OnnxGenerator(export.to_onnx(generator, os.path.join(tmp, "fp32.onnx")).path)
    ort16 = OnnxGenerator(export.to_onnx(generator, os.path.join(tmp, "fp16.onnx"), fp16=True).path)
    # The graph as it was before ganzoo folded batch norm and biases into the weights (graph_folding).
    fold = graph_folding.fold_affine_into_linear
    graph_folding.fold_affine_into_linear = lambda model: 0
    try:
        unfolded = OnnxGenerator(export.to_onnx(generator, os.path.join(tmp, "unfolded.onnx")).path)
    finally:
        graph_folding.fold_affine_into_linear = fold
    one_thread = OnnxGenerator(ort32.path, intra_op_threads=1)
    conditional = spec["num_classes"] is not None

    def inputs(z, labels):
        return [z, labels] if conditional else z

    traced = tf.function(lambda x: generator(x, training=False), reduce_retracing=True)
    compiled = tf.function(lambda x: generator(x, training=False), jit_compile=True, reduce_retracing=True)
    return {
        "ort fp32": lambda z, labels: ort32.run(z, labels),
        "ort fp32 unfolded": lambda z, labels: unfolded.run(z, labels),
        "ort fp32 1 thread": lambda z, labels: one_thread.run(z, labels),
        "ort fp16": lambda z, labels: ort16.run(z, labels),
        "keras predict": lambda z, labels: generator.predict(inputs(z, labels), batch_size=len(z), verbose=0),
        "keras call": lambda z, labels: generator(inputs(z, labels), training=False).numpy(),
        "tf.function": lambda z, labels: traced(inputs(z, labels)).numpy(),
        "tf.function xla": lambda z, labels: compiled(inputs(z, labels)).numpy(),
    }


def measure(fns, spec, batch, repeats, warmup):
    """Interleaved timings: `{name: array of seconds}` for one batch size."""
    rng = np.random.default_rng(batch)
    z = rng.standard_normal((batch, spec["latent_dim"])).astype("float32")
    labels = None if spec["num_classes"] is None else rng.integers(0, spec["num_classes"], batch).astype("int32")
    for _ in range(warmup):  # traces, compiles and allocates
        for fn in fns.values():
            fn(z, labels)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(z, labels)
            times[name].append(time.perf_counter() - start)
    return {name: np.array(values) for name, values in times.items()}


def markdown_table(rows):
    lines = [
        "| runner | batch | median ms | p90 ms | images/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, batch, seconds in rows:
        median, p90 = np.median(seconds), np.percentile(seconds, 90)
        lines.append(f"| {name} | {batch} | {median * 1e3:.2f} | {p90 * 1e3:.2f} | {batch / median:,.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a preset name or .keras file (default: DCGAN 28x28x1)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per runner and batch size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per runner and batch size")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--runners", help="comma-separated subset of the runners (default: all)")
    args = parser.parse_args(argv)

    generator, description = build_generator(args.model)
    spec = describe_generator(generator)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fns = runners(generator, tmp)
        if args.runners:
            wanted = [name.strip() for name in args.runners.split(",")]
            unknown = [name for name in wanted if name not in fns]
            if unknown:
                parser.error(f"unknown runner {unknown[0]!r}; choose from {', '.join(fns)}")
            fns = {name: fns[name] for name in wanted}
        for batch in args.batch_sizes:
            times = measure(fns, spec, batch, args.repeats, args.warmup)
            rows.extend((name, batch, times[name]) for name in fns)
    print(
        f"Generator: {description}; {generator.count_params():,} parameters. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs "
        f"({physical_cores()} physical used by onnxruntime); tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"onnxruntime {ort.__version__}. {args.repeats} interleaved runs per row after {args.warmup} warm-up runs.\n"
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
