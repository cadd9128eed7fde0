"""ganzoo.GAN against the hand-written GAN step each Keras backend's own guide teaches, side by side.

Usage:
    python benchmarks/peer_steps.py [--backends tensorflow,jax,torch] [--steps 20] [--rounds 5]

The same DCGAN networks (ganzoo's builders), batch, loss (non-saturating,
from logits), Adam settings and noise shape on both sides; one D update then
one G update per step. The peers:

- tensorflow: a keras.io-style `train_step` override (`tf.GradientTape`,
  `apply_gradients`), trained with `fit` like ganzoo.
- jax: the Keras JAX guide's pattern, a hand-written `jax.jit` step over
  `stateless_call` and the optimizers' `stateless_apply`, in a Python loop
  (no `fit`, no data pipeline: the lower bound of what `fit` can cost).
- torch: the Keras PyTorch guide's `train_step` (`zero_grad`, `backward()`,
  `optimizer.apply`), trained with `fit`.

Each backend runs in its own process. Within it the two runners alternate,
round by round; the table gives each runner's best round (images/s), the
spread of its rounds ((max - min) / best), and ganzoo's best over the peer's.
"""

import argparse
import json
import os
import subprocess
import sys
import time

IMAGE_SHAPE = (32, 32, 1)
LATENT_DIM = 100


def _networks(keras):
    from ganzoo.models import dcgan_discriminator, dcgan_generator

    keras.utils.set_random_seed(0)
    return dcgan_generator(IMAGE_SHAPE, LATENT_DIM, filters=64), dcgan_discriminator(IMAGE_SHAPE, filters=64)


def _adam(keras):
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


class _Timer:
    """A Keras callback recording every train step's end (the first step, with tracing, is left out)."""

    def __new__(cls, keras):
        class StepTimer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.ends = []

            def on_train_batch_end(self, batch, logs=None):
                self.ends.append(time.perf_counter())

        return StepTimer()


def _fit_rate(keras, model, data, steps, batch):
    timer = _Timer(keras)
    model.fit(data, steps_per_epoch=steps + 1, epochs=1, verbose=0, callbacks=[timer])
    return steps * batch / (timer.ends[-1] - timer.ends[0])


def _ganzoo(keras, data, batch):
    from ganzoo.training.gan import GAN

    g, d = _networks(keras)
    gan = GAN(g, d, latent_dim=LATENT_DIM, loss="non_saturating", seed=0)
    gan.compile(_adam(keras), _adam(keras))
    gan.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace / compile
    return lambda steps: _fit_rate(keras, gan, data, steps, batch)


def _peer_model(keras, step_body):
    """A keras.Model whose `train_step` is the guide's: `step_body(self, real)` returns the losses."""

    class PeerGAN(keras.Model):
        def __init__(self):
            super().__init__()
            self.g, self.d = _networks(keras)
            self.seed_generator = keras.random.SeedGenerator(0)

        def compile(self):
            super().compile()
            self.d_optimizer, self.g_optimizer = _adam(keras), _adam(keras)
            self.d_optimizer.build(self.d.trainable_variables)
            self.g_optimizer.build(self.g.trainable_variables)

        def call(self, images):  # Keras builds a model by calling it once
            return self.d(images)

        def train_step(self, real):
            return step_body(self, real)

    return PeerGAN()


def _bce(keras, ones, logits):
    return keras.ops.mean(keras.losses.binary_crossentropy(ones, logits, from_logits=True))


def _tensorflow_step(keras):
    import tensorflow as tf

    def step(self, real):
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.g(z, training=True)
            real_logits, fake_logits = self.d(real, training=True), self.d(fake, training=True)
            d_loss = _bce(keras, tf.ones_like(real_logits), real_logits) + _bce(
                keras, tf.zeros_like(fake_logits), fake_logits
            )
        grads = tape.gradient(d_loss, self.d.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.d.trainable_weights))
        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits = self.d(self.g(z, training=True), training=True)
            g_loss = _bce(keras, tf.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, self.g.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.g.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}

    return step


def _torch_step(keras):
    import torch

    def step(self, real):
        batch = real.shape[0]
        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        fake = self.g(z, training=True).detach()
        real_logits, fake_logits = self.d(real, training=True), self.d(fake, training=True)
        d_loss = _bce(keras, torch.ones_like(real_logits), real_logits) + _bce(
            keras, torch.zeros_like(fake_logits), fake_logits
        )
        self.zero_grad()
        d_loss.backward()
        grads = [v.value.grad for v in self.d.trainable_weights]
        with torch.no_grad():
            self.d_optimizer.apply(grads, self.d.trainable_weights)
        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        fake_logits = self.d(self.g(z, training=True), training=True)
        g_loss = _bce(keras, torch.ones_like(fake_logits), fake_logits)
        self.zero_grad()
        g_loss.backward()
        grads = [v.value.grad for v in self.g.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply(grads, self.g.trainable_weights)
        return {"d_loss": d_loss, "g_loss": g_loss}

    return step


def _fit_peer(keras, data, batch):
    step = _tensorflow_step(keras) if keras.backend.backend() == "tensorflow" else _torch_step(keras)
    model = _peer_model(keras, step)
    model.compile()
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)
    return lambda steps: _fit_rate(keras, model, data, steps, batch)


def _jax_peer(keras, images, batch):
    """The Keras JAX guide's loop: a jitted pure step over stateless_call / stateless_apply."""
    import jax

    g, d = _networks(keras)
    d_opt, g_opt = _adam(keras), _adam(keras)
    d_opt.build(d.trainable_variables)
    g_opt.build(g.trainable_variables)

    def values(variables):
        return [v.value for v in variables]

    def bce(target, logits):
        return keras.ops.mean(keras.losses.binary_crossentropy(target, logits, from_logits=True))

    def d_loss(d_tv, d_ntv, g_tv, g_ntv, real, z):
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)
        real_logits, d_ntv = d.stateless_call(d_tv, d_ntv, real, training=True)
        fake_logits, d_ntv = d.stateless_call(d_tv, d_ntv, jax.lax.stop_gradient(fake), training=True)
        loss = bce(jax.numpy.ones_like(real_logits), real_logits) + bce(jax.numpy.zeros_like(fake_logits), fake_logits)
        return loss, (d_ntv, g_ntv)

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, z):
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)
        fake_logits, d_ntv = d.stateless_call(d_tv, d_ntv, fake, training=True)
        return bce(jax.numpy.ones_like(fake_logits), fake_logits), (g_ntv, d_ntv)

    @jax.jit
    def step(state, real, key):
        d_tv, d_ntv, g_tv, g_ntv, d_ov, g_ov = state
        key_d, key_g = jax.random.split(key)
        z = jax.random.normal(key_d, (real.shape[0], LATENT_DIM))
        (_, (d_ntv, g_ntv)), grads = jax.value_and_grad(d_loss, has_aux=True)(d_tv, d_ntv, g_tv, g_ntv, real, z)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)
        z = jax.random.normal(key_g, (real.shape[0], LATENT_DIM))
        (_, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss, has_aux=True)(g_tv, g_ntv, d_tv, d_ntv, z)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return d_tv, d_ntv, g_tv, g_ntv, d_ov, g_ov

    state = (
        values(d.trainable_variables),
        values(d.non_trainable_variables),
        values(g.trainable_variables),
        values(g.non_trainable_variables),
        values(d_opt.variables),
        values(g_opt.variables),
    )
    real = jax.numpy.asarray(images[:batch])
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 100_000))
    state = jax.block_until_ready(step(state, real, next(keys)))  # compile

    def rate(steps):
        nonlocal state
        start = time.perf_counter()
        for _ in range(steps):
            state = step(state, real, next(keys))
        jax.block_until_ready(state)
        return steps * batch / (time.perf_counter() - start)

    return rate


def worker(args):
    import keras
    import numpy as np
    import tensorflow as tf

    backend = keras.backend.backend()
    images = np.random.default_rng(0).uniform(-1, 1, (args.batch_size, *IMAGE_SHAPE)).astype("float32")
    data = tf.data.Dataset.from_tensors(images).repeat()
    runners = {"ganzoo": _ganzoo(keras, data, args.batch_size)}
    runners["peer"] = (_jax_peer if backend == "jax" else _fit_peer)(
        keras, images if backend == "jax" else data, args.batch_size
    )
    rates = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            rates[name].append(run(args.steps))
    print(json.dumps({"backend": backend, "rates": rates}))


def _row(result):
    cells = []
    for name in ("ganzoo", "peer"):
        rates = result["rates"][name]
        cells.append(f"{max(rates):,.0f} ({(max(rates) - min(rates)) / max(rates):.0%})")
    ratio = max(result["rates"]["ganzoo"]) / max(result["rates"]["peer"])
    return f"| {result['backend']} | {cells[0]} | {cells[1]} | {ratio:.2f} |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="train steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    print(f"CPU: {_cpu()}; {os.cpu_count()} cores; batch {args.batch_size}, {IMAGE_SHAPE} DCGAN, {args.steps} steps")
    print("| backend | ganzoo images/s (spread) | peer images/s (spread) | ganzoo / peer |")
    print("|---|---:|---:|---:|")
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        command = [sys.executable, os.path.abspath(__file__), "--worker", f"--batch-size={args.batch_size}"]
        command += [f"--steps={args.steps}", f"--rounds={args.rounds}"]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        print(_row(json.loads(out.strip().splitlines()[-1])), flush=True)
    return 0


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
