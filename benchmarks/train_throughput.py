"""Training throughput of every variant by Keras backend: float32 vs mixed_bfloat16, without vs with XLA.

Usage:
    python benchmarks/train_throughput.py [--backends tensorflow,jax,torch] [--steps 20] [--rounds 3]
        [--baseline PATH]   # also time the TensorFlow path of another ganzoo checkout (before/after)

Prints a Markdown table: real images consumed per second between the first
and the last step end of each timed `fit` call (median over rounds), the
speed-up against the same backend's float32, model FLOPs per image, and the
utilisation of the machine's measured float32 matmul peak. Each backend runs
in its own worker process (a backend is fixed per process); the parent sends
every (variant, precision, XLA) configuration to every worker in turn, round
by round, so machine noise hits all of them alike.

"Without XLA" is Keras' default on CPU: on TensorFlow the train step runs as
a `tf.function` graph, on PyTorch eagerly. JAX always compiles with XLA (its
rows say XLA yes). "XLA" on TensorFlow is `compile(jit_compile=True)`.

FLOPs are counted analytically from the layer shapes (2 per multiply-add;
Dense, Conv2D and Conv2DTranspose only; BN/activations are ignored). One
training image costs about 3x the forward FLOPs of each network it passes
through (forward + two backward products):
  critic step:    G forward (1x G) + D on real and fake (2 x 3x D) [+ GP: ~3x D more]
  generator step: G and D forward+backward (3x G + 3x D), once per k critic images.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402  (the tf.data input pipeline, on every backend)

from flops import forward_flops, train_flops_per_image  # noqa: E402  (benchmarks/flops.py)
from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.models import dcgan_discriminator, dcgan_generator  # noqa: E402

VARIANTS = {
    "dcgan": dict(loss="non_saturating"),
    "lsgan": dict(loss="least_squares"),
    "wgan_gp": dict(loss="wasserstein", discriminator_steps=5, gradient_penalty_weight=10.0),
    "cgan": dict(loss="non_saturating", num_classes=10),
}


class StepTimer(keras.callbacks.Callback):
    """Records the time at the end of every train step of one `fit` call.

    Timing between the first and the last step end leaves out `fit`'s own
    setup and teardown, which on this shared VM sometimes added a fixed ~5 s
    per call and swamped the steps.
    """

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def matmul_peak(n=2048, repeats=10):
    """Measured float32 matmul FLOP/s of this backend (best of `repeats`)."""
    from keras import ops

    a = ops.convert_to_tensor(tf.random.normal((n, n)).numpy())
    b = ops.convert_to_tensor(tf.random.normal((n, n)).numpy())
    ops.convert_to_numpy(ops.matmul(a, b))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        ops.convert_to_numpy(ops.matmul(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def build(variant, precision, jit, image_shape, batch, latent_dim, filters):
    keras.mixed_precision.set_global_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        kw = VARIANTS[variant]
        classes = kw.get("num_classes")
        normalization = None if kw.get("gradient_penalty_weight") else "batch"
        g = dcgan_generator(image_shape, latent_dim, num_classes=classes, filters=filters)
        d = dcgan_discriminator(image_shape, num_classes=classes, filters=filters, normalization=normalization)
        gan = GAN(g, d, latent_dim=latent_dim, seed=0, **kw)
        if variant == "wgan_gp":
            opts = [keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9) for _ in range(2)]
        else:
            opts = [keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(2)]
        gan.compile(*opts, jit_compile=jit)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    k = kw.get("discriminator_steps", 1)
    images = tf.random.uniform((batch * k,) + tuple(image_shape), -1.0, 1.0)
    element = images if classes is None else (images, tf.random.uniform((batch * k,), 0, classes, tf.int32))
    data = tf.data.Dataset.from_tensors(element).repeat()
    flops = train_flops_per_image(forward_flops(g), forward_flops(d), k, bool(kw.get("gradient_penalty_weight")))
    return gan, data, batch * k, flops


def worker(args):
    """Serves configurations on this process's backend: one JSON request per stdin line."""
    import ganzoo

    image_shape = (args.image_size, args.image_size, args.channels)
    runs = {}
    print(f"worker {keras.backend.backend()}: ganzoo from {os.path.dirname(ganzoo.__file__)}", file=sys.stderr)
    print(json.dumps({"peak": matmul_peak()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        config = (request["variant"], request["precision"], request["jit"])
        if config not in runs:
            gan, data, images, flops = build(*config, image_shape, args.batch_size, args.latent_dim, args.filters)
            gan.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace / compile
            runs[config] = (gan, data, images, flops)
        gan, data, images, flops = runs[config]
        timer = StepTimer()
        gan.fit(data, steps_per_epoch=args.steps + 1, epochs=1, verbose=0, callbacks=[timer])
        rate = args.steps * images / (timer.ends[-1] - timer.ends[0])
        print(json.dumps({"rate": rate, "flops": flops}), flush=True)


def _start(name, backend, args, pythonpath=None):
    env = {**os.environ, "KERAS_BACKEND": backend}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, os.path.abspath(__file__), "--worker"] + [
        f"--{k.replace('_', '-')}={v}"
        for k, v in vars(args).items()
        if k in ("image_size", "channels", "batch_size", "latent_dim", "filters", "steps")
    ]
    process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    peak = json.loads(process.stdout.readline())["peak"]
    return {"name": name, "backend": backend, "process": process, "peak": peak}


def _ask(worker, config):
    variant, precision, jit = config
    worker["process"].stdin.write(json.dumps({"variant": variant, "precision": precision, "jit": jit}) + "\n")
    worker["process"].stdin.flush()
    return json.loads(worker["process"].stdout.readline())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="train steps per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--xla", default="no,yes", help="TensorFlow rows: no, yes or both (JAX always compiles)")
    parser.add_argument("--baseline", help="another ganzoo checkout whose TensorFlow path is timed alongside")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    workers = [_start(b, b, args) for b in args.backends.split(",")]
    if args.baseline:
        workers.append(_start("tensorflow (baseline)", "tensorflow", args, os.path.abspath(args.baseline)))
    xla = [x == "yes" for x in args.xla.split(",")]
    jobs = []
    for w in workers:
        for v in args.variants.split(","):
            for p in args.precisions.split(","):
                for j in [True] if w["backend"] == "jax" else [False] if w["backend"] == "torch" else xla:
                    jobs.append((w, (v, p, j)))
    rates = {(w["name"], c): [] for w, c in jobs}
    flops = {}
    for round_ in range(args.rounds):
        for w, config in jobs:  # interleaved: every backend and config once per round
            answer = _ask(w, config)
            rates[(w["name"], config)].append(answer["rate"])
            flops[config] = answer["flops"]
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    for w in workers:
        w["process"].stdin.close()
        w["process"].wait()

    image_shape = (args.image_size, args.image_size, args.channels)
    print(
        f"\nDCGAN-family networks at {image_shape}, batch {args.batch_size}, latent {args.latent_dim}, "
        f"filters {args.filters}; {args.steps} steps x {args.rounds} interleaved rounds; measured float32 matmul "
        "peak per backend: " + ", ".join(f"{w['name']} {w['peak'] / 1e9:.0f} GFLOP/s" for w in workers) + ".\n"
    )
    print(
        "| backend | variant | precision | XLA | images/s (median) | vs float32 | train GFLOP/image | GFLOP/s | % of f32 peak |"
        + (" vs baseline |" if args.baseline else "")
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|" + ("---:|" if args.baseline else ""))
    for w, config in jobs:
        rate = statistics.median(rates[(w["name"], config)])
        base_key = (w["name"], (config[0], "float32", config[2]))
        base = statistics.median(rates[base_key]) if base_key in rates else float("nan")
        gflops = rate * flops[config] / 1e9
        print(
            f"| {w['name']} | {config[0]} | {config[1]} | {'yes' if config[2] else 'no'} | {rate:,.0f} | "
            f"{rate / base:.2f}x | {flops[config] / 1e9:.4f} | {gflops:.1f} | {100 * gflops * 1e9 / w['peak']:.1f}% |"
            + (f" {_paired(rates, w['name'], config)} |" if args.baseline else "")
        )


def _paired(rates, name, config):
    """Median over rounds of this row's rate / the baseline's in the same round (TensorFlow rows only)."""
    baseline = rates.get(("tensorflow (baseline)", config))
    if name != "tensorflow" or not baseline:
        return ""
    return f"{statistics.median(a / b for a, b in zip(rates[(name, config)], baseline)):.3f}x"


if __name__ == "__main__":
    main()
