"""Worker for test_distribution.py: one GAN train step per variant, on one device or data-parallel, weights to files.

    python tests/distributed_worker.py MODE[,MODE] OUT_DIR VARIANT [VARIANT ...]

Writes OUT_DIR/MODE_VARIANT.npz for each mode and variant, one after the other in this one process (starting a
process per run cost most of the module's time). The device count is fixed when TensorFlow or JAX starts: a
process that runs `mirrored` or `dataparallel` has 2 devices, and its `single` runs use the first (their numbers
are bit-identical to a one-device process's; checked when this worker was written). Each run builds its
networks and GAN afresh from the same seeds and sets its own dtype policy.

MODE: `single` (one device), `mirrored` (tf.distribute.MirroredStrategy over 2 logical CPUs),
`dataparallel` (JAX keras.distribution.DataParallel over 2 host devices; set XLA_FLAGS and KERAS_BACKEND=jax).
VARIANT: `dcgan` (one critic step), `wgan_gp` (2 critic steps and the gradient penalty), `bn` (a BatchNorm
discriminator), `syncbn` (synchronized BatchNorm), `fp16` (mixed_float16: a LossScaleOptimizer per network),
`overflow` (fp16 where only the second half of the batch overflows D's float16 layer), `overflow_first` (only
the first half overflows), `noise` (records each replica's noise). The networks are tiny and deterministic
given the seed.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MODES, OUT_DIR, VARIANTS = sys.argv[1].split(","), sys.argv[2], sys.argv[3:]

if "mirrored" in MODES:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    # One strategy for every variant: a second MirroredStrategy in one process clashes in its collectives.
    STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert STRATEGY.num_replicas_in_sync == 2

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402

LATENT, SHAPE, BATCH = 4, (4, 4, 1), 8
FP16 = ("fp16", "overflow", "overflow_first")


def networks(variant):
    keras.utils.set_random_seed(1)
    overflow = variant.startswith("overflow")
    z = keras.Input((LATENT,), name="z")
    x = layers.Dense(16, activation="tanh")(z)
    image = layers.Reshape(SHAPE, dtype="float32")(layers.Dense(16, activation="tanh", dtype="float32")(x))
    generator = keras.Model(z, image, name="generator")
    images = keras.Input(SHAPE)
    h = layers.Flatten()(images)
    h = layers.Dense(8, kernel_initializer="ones" if overflow else "glorot_uniform")(h)
    if overflow:  # 16 pixels of 1.0 times 5000: 80000 > 65504, inf in float16; pixels of 0: finite
        h = layers.Rescaling(5000.0)(h)
    if variant in ("bn", "syncbn"):
        h = layers.BatchNormalization(synchronized=variant == "syncbn")(h)
    h = layers.LeakyReLU(0.2)(h)
    discriminator = keras.Model(images, layers.Dense(1, dtype="float32")(h), name="discriminator")
    return generator, discriminator


def build(variant):
    generator, discriminator = networks(variant)
    options = (
        {"loss": "wasserstein", "discriminator_steps": 2, "gradient_penalty_weight": 10.0}
        if variant == "wgan_gp"
        else {}
    )
    gan = GAN(generator, discriminator, latent_dim=LATENT, seed=7, **options)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    if variant in FP16:
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    return gan


def data(variant):
    steps = 2 if variant == "wgan_gp" else 1
    images = np.random.default_rng(0).uniform(-1, 1, (BATCH * steps, *SHAPE)).astype("float32")
    if variant.startswith("overflow"):  # `overflow`: replica 0 gets the zeros, replica 1 the ones
        halves = [np.zeros((BATCH // 2, *SHAPE)), np.ones((BATCH // 2, *SHAPE))]
        images = np.concatenate(halves[::-1] if variant == "overflow_first" else halves).astype("float32")
    return images


def run(mode, variant):
    """The arrays to save: both networks' weights after one step, or the noise of each replica."""
    images = data(variant)
    if mode == "mirrored":
        import tensorflow as tf

        strategy = STRATEGY
        with strategy.scope():
            gan = build(variant)
        if variant == "noise":

            def draw():
                return gan._global_draw(keras.random.normal, 4, (LATENT,))

            return [np.asarray(t) for t in strategy.experimental_local_results(strategy.run(tf.function(draw)))]
        gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(len(images)), epochs=1, verbose=0)
    elif mode == "dataparallel":
        import jax

        devices = jax.devices()
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            gan = build(variant)
            gan.fit(images, batch_size=len(images), epochs=1, verbose=0, shuffle=False)
        finally:
            keras.distribution.set_distribution(None)
    else:
        gan = build(variant)
        if variant == "noise":
            return [np.asarray(keras.random.normal((8, LATENT), seed=gan.seed_generator))]
        gan.fit(images, batch_size=len(images), epochs=1, verbose=0, shuffle=False)
    return [keras.ops.convert_to_numpy(w) for w in gan.generator.weights + gan.discriminator.weights]


for name in VARIANTS:
    for mode in MODES:
        keras.backend.clear_session()  # also resets the dtype policy: set it after
        keras.config.set_dtype_policy("mixed_float16" if name in FP16 else "float32")
        np.savez(os.path.join(OUT_DIR, f"{mode}_{name}.npz"), *run(mode, name))
        print(f"wrote {mode}_{name}.npz", flush=True)
