"""Worker for test_multiprocess.py: process PID of 2 on 127.0.0.1 trains one GAN together with the other.

    KERAS_BACKEND=jax python tests/multiprocess_worker.py PID PORT OUT.npz

`keras.distribution.initialize` (JAX's gloo collectives on CPU) and `DataParallel` over both processes'
devices. Each process fits the same tiny WGAN-GP (2 critic steps) for 2 steps on the same `tf.data`
pipeline (Keras gives each process its share of every global batch) and writes its initial and final
weights; the test checks that both processes end with the same ones, and that they trained.
"""

import os
import sys

PID, PORT, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 1)
import keras  # noqa: E402

keras.distribution.initialize(f"127.0.0.1:{PORT}", num_processes=2, process_id=PID)
devices = keras.distribution.list_devices()
assert len(devices) == 2, devices
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402

keras.utils.set_random_seed(1)


def build():
    z = keras.Input((4,), name="z")
    image = layers.Reshape((4, 4, 1))(layers.Dense(16, activation="tanh")(layers.Dense(16, activation="tanh")(z)))
    images = keras.Input((4, 4, 1))
    logit = layers.Dense(1)(layers.LeakyReLU(0.2)(layers.Dense(8)(layers.Flatten()(images))))
    gan = GAN(
        keras.Model(z, image),
        keras.Model(images, logit),
        latent_dim=4,
        loss="wasserstein",
        discriminator_steps=2,
        gradient_penalty_weight=10.0,
        seed=7,
    )
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    return gan


gan = build()
data = np.random.default_rng(0).uniform(-1, 1, (64, 4, 4, 1)).astype("float32")
dataset = tf.data.Dataset.from_tensor_slices(data).batch(32)  # global batches of 2 critic steps x 16
initial = gan.generator.weights + gan.discriminator.weights
initial = [
    np.array(keras.ops.convert_to_numpy(getattr(w.value, "addressable_data", lambda i: w.value)(0))) for w in initial
]
history = gan.fit(dataset, epochs=1, verbose=0)


def local(value):
    value = getattr(value, "value", value)
    if hasattr(value, "addressable_data"):  # a JAX array replicated over both processes
        value = value.addressable_data(0)
    return np.asarray(keras.ops.convert_to_numpy(value))


final = [local(w) for w in gan.generator.weights + gan.discriminator.weights]
np.savez(
    OUT,
    **{f"final_{i}": w for i, w in enumerate(final)},
    **{f"initial_{i}": w for i, w in enumerate(initial)},
    d_loss=np.asarray(history.history["d_loss"]),
)
print(f"process {PID}: d_loss {history.history['d_loss']}")
