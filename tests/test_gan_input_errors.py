"""ganzoo.training.gan.GAN refuses bad input with errors that name the argument and the expected form."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.training.losses import LOSSES  # noqa: E402
from helpers import (  # noqa: E402
    IMAGE_SHAPE,
    LATENT_DIM,
    NUM_CLASSES,
    adam,
    assert_weights_equal,
    compiled_gan,
    random_images,
    random_labels,
    tiny_discriminator,
    tiny_gan,
    tiny_generator,
    weights,
)

pytestmark = pytest.mark.backends

# -- 10. bad input ---------------------------------------------------------------


def test_images_that_do_not_fit_the_discriminator():
    gan = compiled_gan("dcgan")
    with pytest.raises(ValueError, match="images"):
        gan.fit(np.zeros((8, 8, 8, 1), "float32"), batch_size=4, epochs=1, verbose=0)


def test_conditional_gan_without_labels():
    gan = compiled_gan("cgan")
    with pytest.raises(ValueError, match="labels"):
        gan.fit(random_images(8), batch_size=4, epochs=1, verbose=0)


def test_unconditional_gan_with_labels():
    gan = compiled_gan("dcgan")
    with pytest.raises(ValueError, match="labels"):
        gan.fit((random_images(8), random_labels(8)), batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize("bad_label, run_eagerly", [(NUM_CLASSES, False), (-1, True)])
def test_conditional_gan_with_labels_out_of_range(bad_label, run_eagerly):
    """Caught where the labels enter fit, before any step (so XLA cannot drop the check)."""
    gan = compiled_gan("cgan", run_eagerly=run_eagerly)
    labels = np.zeros(8, "int32")
    labels[5] = bad_label
    before = weights(gan.generator.weights)
    with pytest.raises(ValueError, match="labels in \\[0, 3\\)"):
        gan.fit((random_images(8), labels), batch_size=4, epochs=1, verbose=0)
    assert_weights_equal(before, gan.generator.weights)
    assert int(keras.ops.convert_to_numpy(gan.optimizer.iterations)) == 0


@pytest.mark.parametrize(
    "labels, match",
    [(NUM_CLASSES, "labels in"), ([0, 1, -1, 0], "labels in"), ([0, 1], "labels"), ([0.0, 1.0, 1.0, 0.0], "labels")],
)
def test_generate_with_bad_labels(labels, match):
    gan = tiny_gan("cgan")
    with pytest.raises(ValueError, match=match):
        gan.generate(4, labels=labels)


def test_generate_without_labels_cycles_through_the_classes_as_the_cli_does():
    gan = tiny_gan("cgan")
    cycled = np.arange(7) % NUM_CLASSES  # 0, 1, 2, 0, 1, 2, 0
    np.testing.assert_array_equal(gan.generate(7, seed=4), gan.generate(7, labels=cycled, seed=4))


@pytest.mark.one_backend
@pytest.mark.parametrize("seed", [-1, 2**32, "x", 1.5, True])
def test_generate_refuses_a_bad_seed_in_one_line(seed):
    with pytest.raises(ValueError, match=r"Expected seed to be None or an int in \[0, 2\*\*32\)\. Received: seed="):
        tiny_gan("dcgan").generate(2, seed=seed)


def test_generate():
    gan = tiny_gan("cgan")
    images = gan.generate(5, labels=[0, 1, 2, 0, 1], seed=3, batch_size=2)
    assert images.shape == (5, *IMAGE_SHAPE) and images.dtype == np.float32
    # Batch 2 and batch 256 may pick different kernels (oneDNN): equal to float round-off.
    np.testing.assert_allclose(images, gan.generate(5, labels=[0, 1, 2, 0, 1], seed=3), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="labels=None"):
        tiny_gan("dcgan").generate(2, labels=1)


def test_unknown_loss_name_lists_valid_ones():
    with pytest.raises(ValueError, match="loss") as info:
        tiny_gan("dcgan", loss="wgan")
    for name in LOSSES:
        assert name in str(info.value)


@pytest.mark.one_backend
@pytest.mark.parametrize("steps", [0, -1, 2.0, True])
def test_discriminator_steps_below_one(steps):
    with pytest.raises(ValueError, match="discriminator_steps"):
        tiny_gan("dcgan", discriminator_steps=steps)


def test_one_optimizer_for_both_networks():
    gan = tiny_gan("dcgan")
    optimizer = adam()
    with pytest.raises(ValueError, match="d_optimizer and g_optimizer"):
        gan.compile(optimizer, optimizer)
    with pytest.raises(ValueError, match="d_optimizer and g_optimizer"):
        gan.compile(keras.optimizers.LossScaleOptimizer(optimizer), optimizer)
    with pytest.raises(TypeError, match="g_optimizer"):
        gan.compile(optimizer, "adam")


def test_compile_refuses_loss_and_optimizer_arguments():
    gan = tiny_gan("dcgan")
    with pytest.raises(ValueError, match="loss"):
        gan.compile(adam(), adam(), loss="mse")


@pytest.mark.one_backend
@pytest.mark.parametrize("loss", ["wasserstein", "hinge"])
def test_label_smoothing_with_a_loss_without_targets(loss):
    with pytest.raises(ValueError, match="label_smoothing"):
        tiny_gan("wgan_gp", loss=loss, label_smoothing=0.1)


@pytest.mark.one_backend
@pytest.mark.parametrize("smoothing", [-0.1, 1.0])
def test_label_smoothing_out_of_range(smoothing):
    with pytest.raises(ValueError, match="label_smoothing"):
        tiny_gan("dcgan", label_smoothing=smoothing)
    with pytest.raises(ValueError, match="fake_label_smoothing"):
        tiny_gan("dcgan", fake_label_smoothing=smoothing)


def test_smoothed_targets_must_stay_ordered():
    with pytest.raises(ValueError, match="fake target below the real one"):
        tiny_gan("dcgan", label_smoothing=0.5, fake_label_smoothing=0.5)


def test_gradient_penalty_with_a_batch_norm_critic():
    with pytest.raises(ValueError, match="gradient_penalty_weight"):
        tiny_gan("wgan_gp", normalization="batch")


def test_generator_and_discriminator_must_agree():
    keras.utils.set_random_seed(0)
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(tiny_generator(), tiny_discriminator(), latent_dim=LATENT_DIM + 1)
    with pytest.raises(ValueError, match="num_classes"):
        GAN(tiny_generator(NUM_CLASSES), tiny_discriminator(NUM_CLASSES), latent_dim=LATENT_DIM)
    with pytest.raises(ValueError, match="discriminator"):
        GAN(tiny_generator(), tiny_discriminator(NUM_CLASSES), latent_dim=LATENT_DIM)
    with pytest.raises(ValueError, match="image input"):
        GAN(tiny_generator(), tiny_discriminator(image_shape=(32, 32, 1)), latent_dim=LATENT_DIM)
