"""Bring your own networks: plain-Keras generators and discriminators train as ganzoo GANs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.models.describe import describe_generator  # noqa: E402
from helpers import all_finite, random_images, random_labels, weights, weights_changed  # noqa: E402
from own_networks import embedding_discriminator, embedding_generator  # noqa: E402

pytestmark = pytest.mark.backends


def _users_gan(**kwargs):
    keras.utils.set_random_seed(0)
    gan = GAN(embedding_generator(8, 3), embedding_discriminator(3), latent_dim=8, num_classes=3, seed=0, **kwargs)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    return gan


def test_num_classes_is_read_off_an_embedding():
    assert describe_generator(embedding_generator(8, 3)) == {
        "latent_dim": 8,
        "num_classes": 3,
        "image_shape": (16, 16, 1),
    }
    with pytest.raises(ValueError, match="num_classes"):
        describe_generator(embedding_generator(8, 3), num_classes=4)


@pytest.mark.parametrize(
    "overrides", [{}, {"discriminator_steps": 2, "loss": "least_squares"}], ids=["cgan", "lsgan-2"]
)
def test_embedding_conditioned_networks_train(overrides):
    gan = _users_gan(**overrides)
    before = weights(gan.generator.trainable_variables) + weights(gan.discriminator.trainable_variables)
    per_step = 4 * gan.discriminator_steps
    logs = gan.fit(
        (random_images(3 * per_step), random_labels(3 * per_step)), batch_size=per_step, epochs=1, verbose=0
    ).history
    assert all_finite(logs.values())
    assert weights_changed(before, gan.generator.trainable_variables + gan.discriminator.trainable_variables)
    images = gan.generate(6, labels=[0, 1, 2, 0, 1, 2], seed=0)
    assert images.shape == (6, 16, 16, 1) and np.all(np.abs(images) <= 1)


def test_a_conditional_generator_without_a_readable_class_count_needs_num_classes():
    """A label path the GAN cannot read (here integer arithmetic, no encoder layer) needs num_classes."""
    z = keras.Input((8,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    scaled = layers.Reshape((1,))(layers.Rescaling(0.5)(label))
    x = layers.Dense(256, activation="tanh")(layers.Concatenate()([z, scaled]))
    generator = keras.Model([z, label], layers.Reshape((16, 16, 1))(x))
    with pytest.raises(ValueError, match="Expected num_classes"):
        describe_generator(generator)
    assert describe_generator(generator, num_classes=5)["num_classes"] == 5
    gan = GAN(generator, embedding_discriminator(5), latent_dim=8, num_classes=5)
    assert gan.num_classes == 5


def test_an_unconditional_sequential_free_functional_pair_trains():
    """Unconditional networks of arbitrary layers (no BatchNorm, a Dropout, a pooling head)."""
    z = keras.Input((8,), name="z")
    x = layers.Dense(8 * 8 * 4, activation="relu")(z)
    x = layers.Reshape((8, 8, 4))(x)
    x = layers.UpSampling2D()(x)
    generator = keras.Model(z, layers.Conv2D(1, 3, padding="same", activation="tanh")(x))
    image = keras.Input((16, 16, 1))
    y = layers.Dropout(0.1)(layers.Conv2D(8, 3, strides=2, activation="relu")(image))
    discriminator = keras.Model(image, layers.Dense(1)(layers.GlobalAveragePooling2D()(y)))
    gan = GAN(generator, discriminator, latent_dim=8, loss="hinge")
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    logs = gan.fit(random_images(16), batch_size=8, epochs=1, verbose=0).history
    assert all_finite(logs.values())
