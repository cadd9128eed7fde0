"""What `GeneratorEMA` costs per train step, by Keras backend: `fit` with and without the callback.

Usage:
    KERAS_BACKEND=jax python benchmarks/ema_cost.py [--steps 40] [--rounds 5] [--filters 32]

On JAX a callback that reads the model makes Keras copy the whole trainer state back into the model's
variables after every batch and purge them again before the next (`jax_state_sync`); on TensorFlow and
PyTorch the variables are the state and the callback's cost is its own arithmetic. Runs alternate (without,
with, without, with, ...) so that machine load hits both; prints the best and the median ms per step of each
and their ratio. The networks are ganzoo's DCGAN pair on 28x28x1 images; the data is random.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ganzoo.models import dcgan_discriminator, dcgan_generator  # noqa: E402
from ganzoo.training.callbacks import GeneratorEMA  # noqa: E402
from ganzoo.training.gan import GAN  # noqa: E402


class StepClock(keras.callbacks.Callback):
    """Times from the first batch's end to the last's: steady-state steps, compilation excluded."""

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if batch == 0:
            self.start, self.steps = now, 0
        else:
            self.end, self.steps = now, self.steps + 1


def timed_fit(gan, images, batch_size, callbacks):
    clock = StepClock()
    gan.fit(images, batch_size=batch_size, epochs=1, verbose=0, shuffle=False, callbacks=[clock, *callbacks])
    return (clock.end - clock.start) / clock.steps * 1000.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="train steps per timed fit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--filters", type=int, default=32)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(-1, 1, (args.batch_size * (args.steps + 1), 28, 28, 1))
    images = images.astype("float32")
    gan = GAN(
        dcgan_generator((28, 28, 1), 100, filters=args.filters),
        dcgan_discriminator((28, 28, 1), filters=args.filters),
        latent_dim=100,
    )
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    timed_fit(gan, images, args.batch_size, [])  # compile once
    times = {"without": [], "with GeneratorEMA": []}
    ema = GeneratorEMA(0.999)
    for _ in range(args.rounds):
        times["without"].append(timed_fit(gan, images, args.batch_size, []))
        times["with GeneratorEMA"].append(timed_fit(gan, images, args.batch_size, [ema]))
    print(
        f"{keras.backend.backend()}, keras {keras.__version__}, {platform.machine()} {os.cpu_count()} CPUs; "
        f"DCGAN 28x28x1 filters {args.filters}, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds"
    )
    print("| fit | best ms/step | median ms/step | spread (max/min) |\n|---|---:|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {min(values):.1f} | {statistics.median(values):.1f} | {max(values) / min(values):.2f} |")
    print(f"ratio with/without (best): {min(times['with GeneratorEMA']) / min(times['without']):.3f}")


if __name__ == "__main__":
    main()
