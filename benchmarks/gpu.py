"""GAN training throughput on one GPU (JAX backend): float32 vs mixed_float16 vs mixed_bfloat16, batch 128-1024.

Usage (on the GPU machine; `benchmarks/gpu.sh` installs Keras from carried wheels and runs this):
    KERAS_BACKEND=jax python benchmarks/gpu.py --out gpu_table.md
    KERAS_BACKEND=jax python benchmarks/gpu.py --small        # a CPU check of the script, in about a minute

For the 64x64x3 DCGAN (filters 64, latent 100) and WGAN-GP (same networks, critic without batch norm,
5 critic steps, penalty 10), it times `train_on_batch` (each call returns its logs, so the device has
finished) after two warm-up calls that compile, and reports real images consumed per second, the model
FLOPs per image (benchmarks/flops.py), the achieved TFLOP/s, and the model FLOP utilisation (MFU) against
the GPU's dense bf16 peak (a table of known GPUs, SXM figures; else the best of a measured bf16 matmul).
A configuration starts only if the budget (default 270 s) still holds the time the previous one took, so
the whole run ends in under 5 minutes; rows not reached are listed as skipped, failures (out of memory)
as failed. The table (and a JSON copy) is rewritten after every row, to stdout and to --out.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flops import forward_flops, train_flops_per_image  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.models import dcgan_discriminator, dcgan_generator  # noqa: E402

# Dense bf16 tensor-core peaks from the vendors' data sheets (FLOP/s, without sparsity).
BF16_PEAKS = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}
VARIANTS = {
    "dcgan": dict(loss="non_saturating"),
    "wgan_gp": dict(loss="wasserstein", discriminator_steps=5, gradient_penalty_weight=10.0),
}


def device_name():
    import jax

    device = jax.devices()[0]
    return f"{device.platform}:{getattr(device, 'device_kind', '?')}"


def bf16_peak(name, n=8192):
    for key, peak in BF16_PEAKS.items():
        if key in name:
            return peak, "data sheet"
    import jax
    import jax.numpy as jnp

    a = jnp.ones((n, n), jnp.bfloat16)
    step = jax.jit(lambda x: x @ x)
    step(a).block_until_ready()
    best = min(_timed(lambda: step(a).block_until_ready()) for _ in range(5))
    return 2 * n**3 / best, f"measured {n}x{n} bf16 matmul"


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build(variant, precision, batch, image_shape, filters, latent_dim):
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        options = VARIANTS[variant]
        g = dcgan_generator(image_shape, latent_dim, filters=filters)
        d = dcgan_discriminator(
            image_shape, filters=filters, normalization=None if options.get("gradient_penalty_weight") else "batch"
        )
        gan = GAN(g, d, latent_dim=latent_dim, seed=0, **options)
        betas = (0.0, 0.9) if variant == "wgan_gp" else (0.5, 0.999)
        gan.compile(*(keras.optimizers.Adam(2e-4, beta_1=betas[0], beta_2=betas[1]) for _ in range(2)))
    finally:
        keras.config.set_dtype_policy("float32")
    k = options.get("discriminator_steps", 1)
    import jax

    # On the device once: a NumPy batch would be copied to the GPU inside every timed call.
    images = jax.device_put(np.random.default_rng(0).uniform(-1, 1, (batch * k, *image_shape)).astype("float32"))
    flops = train_flops_per_image(forward_flops(g), forward_flops(d), k, bool(options.get("gradient_penalty_weight")))
    return gan, images, flops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="batches 8 and 16, 2 timed steps: a CPU check")
    parser.add_argument("--batches", default="128,256,512,1024")
    parser.add_argument("--precisions", default="float32,mixed_float16,mixed_bfloat16")
    parser.add_argument("--variants", default="dcgan,wgan_gp")
    parser.add_argument("--steps", type=int, default=10, help="timed train_on_batch calls per configuration")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds after which no configuration starts")
    parser.add_argument("--out", default="gpu_table.md")
    args = parser.parse_args(argv)
    batches = [8, 16] if args.small else [int(b) for b in args.batches.split(",")]
    steps = 2 if args.small else args.steps
    image_shape, filters, latent_dim = (64, 64, 3), 64, 100
    name = device_name()
    peak, peak_source = bf16_peak(name)
    header = (
        f"Device: {name}; bf16 peak {peak / 1e12:.3g} TFLOP/s ({peak_source}); Keras {keras.__version__}, "
        f"backend {keras.backend.backend()}; 64x64x3, filters 64, latent 100; median of {steps} steps.\n\n"
        "| variant | batch | precision | images/s | vs float32 | GFLOP/image | TFLOP/s | MFU (bf16 peak) |\n"
        "|---|---:|---|---:|---:|---:|---:|---:|\n"
    )
    start, rows, results, last = time.perf_counter(), [], [], 0.0
    # Variants interleaved per batch size, so that a budget cut leaves the largest batches, not one variant, out.
    configs = [(v, b, p) for b in batches for v in args.variants.split(",") for p in args.precisions.split(",")]
    for variant, batch, precision in configs:
        if time.perf_counter() - start + last > args.budget:
            rows.append(f"| {variant} | {batch} | {precision} | skipped (time budget) | | | | |")
        else:
            began = time.perf_counter()
            try:
                gan, images, flops = build(variant, precision, batch, image_shape, filters, latent_dim)
                for _ in range(2):  # compile, then one more so that the timed calls are steady
                    gan.train_on_batch(images)
                times = [_timed(lambda: gan.train_on_batch(images)) for _ in range(steps)]
            except Exception as error:  # out of memory at a large batch, say: keep the other rows
                rows.append(f"| {variant} | {batch} | {precision} | failed: {type(error).__name__} | | | | |")
            else:
                rate = images.shape[0] / statistics.median(times)
                results.append(
                    {
                        "variant": variant,
                        "batch": batch,
                        "precision": precision,
                        "images_per_s": rate,
                        "flops_per_image": flops,
                    }
                )
                base = [
                    r["images_per_s"]
                    for r in results
                    if (r["variant"], r["batch"], r["precision"]) == (variant, batch, "float32")
                ]
                achieved = rate * flops
                versus = f"{rate / base[0]:.2f}x" if base else "-"
                rows.append(
                    f"| {variant} | {batch} | {precision} | {rate:,.0f} | {versus} | {flops / 1e9:.3f} | "
                    f"{achieved / 1e12:.1f} | {100 * achieved / peak:.1f}% |"
                )
            last = time.perf_counter() - began
        print(rows[-1], flush=True)
        # Written after every row: a run cut short still leaves its table.
        with open(args.out, "w") as f:
            f.write(header + "\n".join(rows) + "\n")
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"device": name, "bf16_peak": peak, "results": results}, f, indent=2)
    print("\n" + header + "\n".join(rows))


if __name__ == "__main__":
    main()
