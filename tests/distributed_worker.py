"""Worker for test_distribution.py: one GAN train step on one device or data-parallel, weights to a file.

    python tests/distributed_worker.py MODE VARIANT OUT.npz

MODE: `single` (one device), `mirrored` (tf.distribute.MirroredStrategy over 2 logical CPUs),
`dataparallel` (JAX keras.distribution.DataParallel over 2 host devices; set XLA_FLAGS and KERAS_BACKEND=jax).
VARIANT: `dcgan` (one critic step), `wgan_gp` (2 critic steps and the gradient penalty), `bn` (a BatchNorm
discriminator), `syncbn` (synchronized BatchNorm), `fp16` (mixed_float16: a LossScaleOptimizer per network),
`overflow` (fp16 where only the second half of the batch overflows D's float16 layer), `noise` (records each replica's noise). The networks are tiny and deterministic given the seed.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MODE, VARIANT, OUT = sys.argv[1:4]

if MODE == "mirrored":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

if VARIANT in ("fp16", "overflow"):
    keras.config.set_dtype_policy("mixed_float16")

from ganzoo.training.gan import GAN  # noqa: E402

LATENT, SHAPE, BATCH = 4, (4, 4, 1), 8
STEPS = 2 if VARIANT == "wgan_gp" else 1


def networks():
    keras.utils.set_random_seed(1)
    z = keras.Input((LATENT,), name="z")
    x = layers.Dense(16, activation="tanh")(z)
    image = layers.Reshape(SHAPE, dtype="float32")(layers.Dense(16, activation="tanh", dtype="float32")(x))
    generator = keras.Model(z, image, name="generator")
    images = keras.Input(SHAPE)
    h = layers.Flatten()(images)
    h = layers.Dense(8, kernel_initializer="ones" if VARIANT == "overflow" else "glorot_uniform")(h)
    if VARIANT == "overflow":  # 16 pixels of 1.0 times 5000: 80000 > 65504, inf in float16; pixels of 0: finite
        h = layers.Rescaling(5000.0)(h)
    if VARIANT in ("bn", "syncbn"):
        h = layers.BatchNormalization(synchronized=VARIANT == "syncbn")(h)
    h = layers.LeakyReLU(0.2)(h)
    discriminator = keras.Model(images, layers.Dense(1, dtype="float32")(h), name="discriminator")
    return generator, discriminator


def build():
    generator, discriminator = networks()
    options = (
        {"loss": "wasserstein", "discriminator_steps": 2, "gradient_penalty_weight": 10.0}
        if VARIANT == "wgan_gp"
        else {}
    )
    gan = GAN(generator, discriminator, latent_dim=LATENT, seed=7, **options)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    if VARIANT in ("fp16", "overflow"):
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    return gan


data = np.random.default_rng(0).uniform(-1, 1, (BATCH * STEPS, *SHAPE)).astype("float32")
if VARIANT == "overflow":  # replica 0 gets the zeros, replica 1 the ones
    halves = [np.zeros((BATCH // 2, *SHAPE)), np.ones((BATCH // 2, *SHAPE))]
    data = np.concatenate(halves[::-1] if os.environ.get("OVERFLOW_FIRST") else halves).astype("float32")

if MODE == "mirrored":
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        gan = build()
    if VARIANT == "noise":

        def draw():
            return gan._global_draw(keras.random.normal, 4, (LATENT,))

        per_replica = strategy.experimental_local_results(strategy.run(tf.function(draw)))
        np.savez(OUT, *[np.asarray(t) for t in per_replica])
        sys.exit(0)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(BATCH * STEPS)
    gan.fit(dataset, epochs=1, verbose=0)
elif MODE == "dataparallel":
    import jax

    devices = jax.devices()
    assert len(devices) == 2, devices
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    gan = build()
    gan.fit(data, batch_size=BATCH * STEPS, epochs=1, verbose=0, shuffle=False)
else:
    if VARIANT == "noise":
        gan = build()
        np.savez(OUT, np.asarray(keras.random.normal((8, LATENT), seed=gan.seed_generator)))
        sys.exit(0)
    gan = build()
    gan.fit(data, batch_size=BATCH * STEPS, epochs=1, verbose=0, shuffle=False)

np.savez(OUT, *[keras.ops.convert_to_numpy(w) for w in gan.generator.weights + gan.discriminator.weights])
