"""Training throughput of every variant: float32 vs mixed_bfloat16, without vs with XLA.

Usage:
    python benchmarks/train_throughput.py [--image-size 32] [--steps 20] [--rounds 3]

Prints a Markdown table: real images consumed per second between the first
and the last step end of each timed `fit` call (median over rounds,
configurations interleaved round by round so machine noise hits all alike),
the speed-up against float32 without XLA, model FLOPs per image, and the
utilisation of the machine's measured float32 matmul peak.

"Without XLA" is Keras' default on CPU: the train step runs as a
`tf.function` graph (not op-by-op eager). "XLA" is `compile(jit_compile=True)`.

FLOPs are counted analytically from the layer shapes (2 per multiply-add;
Dense, Conv2D and Conv2DTranspose only; BN/activations are ignored). One
training image costs about 3x the forward FLOPs of each network it passes
through (forward + two backward products):
  critic step:    G forward (1x G) + D on real and fake (2 x 3x D) [+ GP: ~3x D more]
  generator step: G and D forward+backward (3x G + 3x D), once per k critic images.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganzoo.gan import GAN  # noqa: E402
from ganzoo.models import dcgan_discriminator, dcgan_generator  # noqa: E402

VARIANTS = {
    "dcgan": dict(loss="non_saturating"),
    "lsgan": dict(loss="least_squares"),
    "wgan_gp": dict(loss="wasserstein", discriminator_steps=5, gradient_penalty_weight=10.0),
    "cgan": dict(loss="non_saturating", num_classes=10),
}


def forward_flops(model):
    """Forward FLOPs per image of the Dense/Conv layers of a functional model."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            h, w = layer.input.shape[1:3]
            kh, kw, c_out, c_in = layer.kernel.shape
            total += 2 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            kh, kw, c_in, c_out = layer.kernel.shape
            total += 2 * h * w * kh * kw * c_in * c_out
    return total


def train_flops_per_image(g_flops, d_flops, k, gp):
    """Training FLOPs per real image (see the module docstring)."""
    critic = g_flops + 2 * 3 * d_flops + (3 * d_flops if gp else 0)
    generator = (3 * g_flops + 3 * d_flops) / k
    return critic + generator


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
    """Measured float32 matmul FLOP/s (best of `repeats`)."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
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
    args = parser.parse_args(argv)

    image_shape = (args.image_size, args.image_size, args.channels)
    peak = matmul_peak()
    configs = [
        (v, p, j) for v in args.variants.split(",") for p in ("float32", "mixed_bfloat16") for j in (False, True)
    ]
    runs = {}
    for config in configs:
        gan, data, images_per_step, flops = build(*config, image_shape, args.batch_size, args.latent_dim, args.filters)
        gan.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace / compile
        runs[config] = dict(gan=gan, data=data, images=images_per_step, flops=flops, rates=[])
        print(f"built {config}", file=sys.stderr)

    for round_ in range(args.rounds):
        for config in configs:  # interleaved: every config once per round
            run = runs[config]
            timer = StepTimer()
            run["gan"].fit(run["data"], steps_per_epoch=args.steps + 1, epochs=1, verbose=0, callbacks=[timer])
            run["rates"].append(args.steps * run["images"] / (timer.ends[-1] - timer.ends[0]))
        print(
            f"round {round_ + 1}/{args.rounds}: "
            + ", ".join(f"{'/'.join(map(str, c))} {runs[c]['rates'][-1]:.0f}" for c in configs),
            file=sys.stderr,
        )

    print(
        f"\nDCGAN-family networks at {image_shape}, batch {args.batch_size}, latent {args.latent_dim}, "
        f"filters {args.filters}; {args.steps} steps x {args.rounds} interleaved rounds; "
        f"measured float32 matmul peak {peak / 1e9:.0f} GFLOP/s.\n"
    )
    print("| variant | precision | XLA | images/s (median) | vs float32 no-XLA | train GFLOP/image | GFLOP/s | % of f32 peak |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for config in configs:
        run = runs[config]
        rate = statistics.median(run["rates"])
        base = statistics.median(runs[(config[0], "float32", False)]["rates"])
        gflops = rate * run["flops"] / 1e9
        print(
            f"| {config[0]} | {config[1]} | {'yes' if config[2] else 'no'} | {rate:,.0f} | {rate / base:.2f}x | "
            f"{run['flops'] / 1e9:.4f} | {gflops:.1f} | {100 * gflops * 1e9 / peak:.1f}% |"
        )


if __name__ == "__main__":
    main()
