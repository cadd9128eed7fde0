"""What GAN and fit refuse, and what they add: data checked where it enters fit, the networks' own losses."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from helpers import (  # noqa: E402
    BATCH,
    IMAGE_SHAPE,
    LATENT_DIM,
    NUM_CLASSES,
    adam,
    assert_weights_equal,
    compiled_gan,
    random_images,
    run_steps,
    tensor,
    tiny_discriminator,
    tiny_gan,
    tiny_generator,
    weights,
)

pytestmark = pytest.mark.backends


# -- 11. data checked where it enters fit, on every backend -----------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: (random_images(8) * 127.5 + 127.5).astype("uint8"), "float images"),
        (lambda: random_images(8) * 127.5 + 127.5, "scaled to \\[-1, 1\\]"),
        (lambda: random_images(8) * 1.5, "scaled to \\[-1, 1\\]"),
    ],
)
def test_images_of_the_wrong_scale_are_refused(make, match):
    gan = compiled_gan("dcgan")
    before = weights(gan.generator.weights)
    with pytest.raises(ValueError, match=match):
        gan.fit(make(), batch_size=4, epochs=1, verbose=0)
    assert_weights_equal(before, gan.generator.weights)


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.eye(NUM_CLASSES, dtype="int32")[np.arange(8) % NUM_CLASSES], "one-hot"),
        (np.eye(NUM_CLASSES, dtype="float32")[np.arange(8) % NUM_CLASSES], "one-hot"),
        ((np.arange(8) % NUM_CLASSES).astype("float32"), "dtype float32"),
        ((np.arange(8) % NUM_CLASSES).astype("float32") + 0.5, "dtype float32"),
    ],
)
def test_labels_that_are_not_class_ids_are_refused(labels, match):
    gan = compiled_gan("cgan")
    with pytest.raises(ValueError, match=match):
        gan.fit((random_images(8), labels), batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "jit_compile",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                keras.backend.backend() == "torch", reason="compile refuses jit_compile=True on torch (torch.compile)"
            ),
        ),
    ],
)
def test_labels_out_of_range_in_a_dataset_fail_under_xla_too(jit_compile):
    """A tf.data pipeline is checked inside the pipeline (on the host), so the check survives
    jit_compile=True, where XLA drops in-graph assertions."""
    tf = pytest.importorskip("tensorflow")
    gan = compiled_gan("cgan", jit_compile=jit_compile)
    labels = np.zeros(8, "int32")
    labels[6] = NUM_CLASSES
    dataset = tf.data.Dataset.from_tensor_slices((random_images(8), labels)).batch(4)
    with pytest.raises(
        ValueError,
        match=r"^Expected x to hold finite images scaled to \[-1, 1\] and labels in \[0, 3\) \(num_classes=3\)\. Received a label >= num_classes\.$",
    ):
        gan.fit(dataset, epochs=1, verbose=0)


def test_labels_out_of_range_from_a_generator_are_refused():
    gan = compiled_gan("cgan")

    def batches():
        yield random_images(4), np.array([0, 1, 2, 1], "int32")
        yield random_images(4), np.array([0, 7, 2, 1], "int32")

    with pytest.raises(ValueError, match="labels in \\[0, 3\\)"):
        gan.fit(batches(), epochs=1, verbose=0)


@pytest.mark.one_backend
@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0, "10"])
def test_gradient_penalty_weight_must_be_finite(weight):
    with pytest.raises(ValueError, match="gradient_penalty_weight"):
        tiny_gan("wgan_gp", gradient_penalty_weight=weight)


def test_a_discriminator_with_more_than_one_logit_is_refused():
    image = keras.Input(IMAGE_SHAPE)
    two = keras.Model(image, layers.Dense(2)(layers.Flatten()(image)))
    with pytest.raises(ValueError, match="\\(batch, 1\\)"):
        GAN(tiny_generator(), two, latent_dim=LATENT_DIM)


# -- 13. the networks' own losses, and what fit refuses ------------------------------


def test_discriminator_regularizers_are_part_of_its_loss():
    """A zero-kernel critic outputs its bias b; with bias_regularizer L2(0.5) the logged d_loss is
    the closed form at r = f = b plus 0.5 * b^2."""
    b = 0.7
    image = keras.Input(IMAGE_SHAPE)
    dense = layers.Dense(
        1,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(b),
        bias_regularizer=keras.regularizers.L2(0.5),
    )
    critic = keras.Model(image, dense(layers.Flatten()(image)))
    keras.utils.set_random_seed(0)
    gan = GAN(tiny_generator(), critic, latent_dim=LATENT_DIM, seed=0)
    gan.compile(keras.optimizers.SGD(0.0), adam())
    logs = run_steps(gan, 1)
    expected = np.logaddexp(0, -b) + np.logaddexp(0, b) + 0.5 * b**2
    np.testing.assert_allclose(logs["d_loss"][0], expected, rtol=1e-6)


@pytest.mark.one_backend
@pytest.mark.parametrize("kwargs", [{"validation_split": 0.5}, {"validation_data": random_images(4)}])
def test_validation_is_refused(kwargs):
    gan = compiled_gan("dcgan")
    with pytest.raises(ValueError, match="Expected no validation"):
        gan.fit(random_images(8), batch_size=4, epochs=1, verbose=0, **kwargs)


def test_compile_refuses_metrics():
    with pytest.raises(ValueError, match="metrics"):
        tiny_gan("dcgan").compile(adam(), adam(), metrics=["mae"])


def test_a_conditional_generator_needs_num_classes():
    with pytest.raises(ValueError, match="Expected num_classes=3"):
        GAN(tiny_generator(NUM_CLASSES), tiny_discriminator(), latent_dim=LATENT_DIM)


def test_latent_dim_must_be_an_int():
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(tiny_generator(), tiny_discriminator(), latent_dim=float(LATENT_DIM))


def test_batch_norm_inside_a_nested_critic_is_refused_with_a_penalty():
    image = keras.Input(IMAGE_SHAPE)
    inner = keras.Sequential([layers.Flatten(), layers.Dense(4), layers.BatchNormalization()])
    critic = keras.Model(image, layers.Dense(1)(inner(image)))
    with pytest.raises(ValueError, match="BatchNormalization"):
        GAN(tiny_generator(), critic, latent_dim=LATENT_DIM, loss="wasserstein", gradient_penalty_weight=10.0)


def test_backend_tensors_are_checked_like_arrays():
    gan = compiled_gan("dcgan")
    with pytest.raises(ValueError, match="scaled to \\[-1, 1\\]"):
        gan.fit(tensor(random_images(8) * 100), batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("form", ["array", "tf.data", "generator"])
def test_non_finite_pixels_are_refused_where_data_enters_fit(bad, form):
    import tensorflow as tf

    gan = compiled_gan("dcgan")
    images = random_images(4 * BATCH)
    images[BATCH + 1, 2, 3, 0] = bad  # one pixel of the second batch
    before = gan.generator.get_weights()
    if form == "array":
        with pytest.raises(ValueError, match=r"Expected finite images .* 1 NaN or infinite pixel"):
            gan.fit(images, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    elif form == "generator":
        batches = (images[i : i + BATCH] for i in range(0, len(images), BATCH))
        with pytest.raises(ValueError, match=r"Expected finite images .* 1 NaN or infinite pixel"):
            gan.fit(batches, steps_per_epoch=4, epochs=1, verbose=0)
    else:
        dataset = tf.data.Dataset.from_tensor_slices(images).batch(BATCH)
        with pytest.raises(
            ValueError,
            match=r"^Expected x to hold finite images scaled to \[-1, 1\]\. Received images outside \[-1, 1\] or not finite\.$",
        ):
            gan.fit(dataset, epochs=1, verbose=0)
    # Nothing NaN reached the generator: its weights are finite (the first batch may have trained).
    assert all(np.all(np.isfinite(w)) for w in gan.generator.get_weights())
    assert len(before) == len(gan.generator.get_weights())


def test_an_empty_array_or_dataset_is_an_error():
    import tensorflow as tf

    gan = compiled_gan("dcgan")
    with pytest.raises(
        ValueError, match=r"Expected at least one image to train on. Received: x of shape \(0, 16, 16, 1\)"
    ):
        gan.fit(np.zeros((0, 16, 16, 1), "float32"), epochs=1, verbose=0)
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 16, 16, 1), "float32")).batch(BATCH)
    with pytest.raises(ValueError, match="Expected a tf.data.Dataset that yields batches. Received: an empty dataset"):
        gan.fit(empty, epochs=1, verbose=0)
    unknown = tf.data.Dataset.from_tensor_slices(random_images(BATCH)).filter(lambda x: False).batch(BATCH)
    with pytest.raises(ValueError, match="Expected x to yield at least one batch"):
        gan.fit(unknown, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: np.full((4, 16, 16, 1), "a"),
            r"^Expected float images scaled to \[-1, 1\]\. Received: images of dtype str",
        ),
        (
            lambda: (random_images(4), np.array(["a", "b", "c", "d"])),
            r"^Expected integer class ids in \[0, 3\)\. Received: labels of dtype str",
        ),
        (
            lambda: (random_images(4), np.array([0, 1, None, 2], dtype=object)),
            r"^Expected integer class ids in \[0, 3\)\. Received: labels of dtype object",
        ),
    ],
    ids=["string_images", "string_labels", "object_labels"],
)
def test_string_or_object_data_is_named_not_a_keras_dtype_error(make, match):
    gan = compiled_gan("cgan")
    with pytest.raises(ValueError, match=match):
        gan.fit(make(), batch_size=4, epochs=1, verbose=0)
