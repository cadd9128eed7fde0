"""Tests for ganzoo.training.gan.GAN: update isolation, n_critic, label smoothing, conditioning, XLA."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training import gradients  # noqa: E402
from ganzoo.training.gan import GAN  # noqa: E402
from helpers import (  # noqa: E402
    BACKEND,
    BATCH,
    IMAGE_SHAPE,
    LATENT_DIM,
    NUM_CLASSES,
    Spy,
    adam,
    all_finite,
    assert_weights_equal,
    compiled_gan,
    linear_critic,
    random_images,
    random_labels,
    run_steps,
    spy_critic,
    table_noise,
    tensor,
    tiny_gan,
    tiny_generator,
    weights,
    weights_changed,
)

pytestmark = pytest.mark.backends

# -- 1. update isolation -------------------------------------------------------


def _one_real_batch(gan, seed=0):
    images = tensor(random_images(BATCH, seed))
    labels = None if gan.num_classes is None else tensor(random_labels(BATCH, seed, gan.num_classes))
    return images, labels


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "cgan"])
def test_discriminator_update_leaves_generator_weights_unchanged(variant):
    """One D update, exactly as train_step takes it (`gradients.minimize` with `gan.d_optimizer`
    over D's trainable variables on `gan._d_loss`): G's trainable weights stay bit-identical,
    D's change. G runs in training mode to make the fakes, so G's BatchNorm moving statistics
    do move (documented in the GAN docstring); they are not trainable weights."""
    gan = compiled_gan(variant)
    images, labels = _one_real_batch(gan)
    g_trainable = weights(gan.generator.trainable_variables)
    g_moving = weights(gan.generator.non_trainable_variables)
    d_trainable = weights(gan.discriminator.trainable_variables)
    gradients.minimize(gan.d_optimizer, gan.discriminator.trainable_variables, lambda: gan._d_loss(images, labels))
    assert_weights_equal(g_trainable, gan.generator.trainable_variables)
    assert weights_changed(d_trainable, gan.discriminator.trainable_variables)
    assert weights_changed(g_moving, gan.generator.non_trainable_variables)  # documented: BN stats of the run network


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "cgan"])
def test_generator_update_leaves_discriminator_weights_unchanged(variant):
    """One G update as train_step takes it (`gan.g_optimizer` on `gan._g_loss`): D's trainable
    weights stay bit-identical, G's change."""
    gan = compiled_gan(variant)
    _, labels = _one_real_batch(gan)
    d_trainable = weights(gan.discriminator.trainable_variables)
    g_trainable = weights(gan.generator.trainable_variables)
    gradients.minimize(gan.g_optimizer, gan.generator.trainable_variables, lambda: gan._g_loss(BATCH, labels))
    assert_weights_equal(d_trainable, gan.discriminator.trainable_variables)
    assert weights_changed(g_trainable, gan.generator.trainable_variables)


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "cgan"])
@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_train_step_updates_each_network_only_with_its_own_optimizer(variant, frozen):
    """Whole train steps through `fit`, with the frozen network's optimizer at learning rate 0:
    if any other update (the D steps for G, the G step for D) touched the frozen network's
    trainable weights, they would change. The other network must still learn. (Eager, to keep
    the test fast; the XLA test below shows graph execution computes the same step.)"""
    zero, live = keras.optimizers.Adam(0.0), adam()
    d_opt, g_opt = (zero, live) if frozen == "discriminator" else (live, zero)
    gan = compiled_gan(variant, d_optimizer=d_opt, g_optimizer=g_opt, run_eagerly=True)
    networks = {"generator": gan.generator, "discriminator": gan.discriminator}
    other = "generator" if frozen == "discriminator" else "discriminator"
    frozen_before = weights(networks[frozen].trainable_variables)
    other_before = weights(networks[other].trainable_variables)
    logs = run_steps(gan, 2)
    assert all_finite(logs.values())
    assert_weights_equal(frozen_before, networks[frozen].trainable_variables)
    assert weights_changed(other_before, networks[other].trainable_variables)


# -- 2. n_critic -----------------------------------------------------------------


def test_n_critic_step_counts():
    """K train steps with discriminator_steps=5: D updated 5K times, G K times."""
    gan = compiled_gan("wgan_gp")
    assert gan.discriminator_steps == 5
    steps = 2
    run_steps(gan, steps)
    assert int(gan.d_optimizer.iterations.numpy()) == 5 * steps
    assert int(gan.g_optimizer.iterations.numpy()) == steps
    assert int(gan.optimizer.iterations.numpy()) == steps


def test_each_critic_step_sees_its_own_real_batch():
    """A Spy layer records every image batch the critic is given (eager). Per critic step the
    critic sees real, fake, interpolates; then once fakes in the G step. The real batch of
    critic step s must be slice s of the fit batch: all five differ, none is reused."""
    k = 5
    gan = tiny_gan("wgan_gp", discriminator=spy_critic())
    gan.compile(adam(), adam(), run_eagerly=True)
    images = random_images(k * BATCH, seed=7)
    run_steps(gan, 1, data=images)
    seen = gan.discriminator.get_layer("image_spy").seen
    assert len(seen) == 3 * k + 1
    for step in range(k):
        np.testing.assert_array_equal(seen[3 * step], images[step * BATCH : (step + 1) * BATCH])
    # Fresh noise for every critic step and for the G step.
    fakes = [seen[3 * step + 1] for step in range(k)] + [seen[-1]]
    for a in range(len(fakes)):
        for b in range(a + 1, len(fakes)):
            assert not np.array_equal(fakes[a], fakes[b])


@pytest.mark.parametrize("total", [7, 3, 1])
def test_ragged_batches_use_every_image_and_no_empty_critic_batch(total):
    """A batch of B images with k = 5 critic steps that k does not divide (a ragged last batch,
    or B < k): every critic batch has ceil(B / k) images, taken in order with wrap-around, so
    every image is used, no critic batch is empty and nothing turns NaN (G's BatchNorm
    statistics included)."""
    k = 5
    gan = tiny_gan("wgan_gp", discriminator=spy_critic())
    gan.compile(adam(), adam(), run_eagerly=True)
    images = random_images(total, seed=3)
    logs = gan.fit(images, batch_size=total, epochs=1, verbose=0, shuffle=False).history
    assert all_finite(logs.values())
    assert all_finite(weights(gan.generator.weights) + weights(gan.discriminator.weights))
    size = -(-total // k)
    seen = gan.discriminator.get_layer("image_spy").seen
    order = np.arange(k * size) % total
    for step in range(k):
        np.testing.assert_array_equal(seen[3 * step], images[order[step * size : (step + 1) * size]])
    assert seen[-1].shape[0] == size  # the G step's batch
    assert int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)) == k


def test_ragged_last_batch_of_an_epoch_trains_every_variant():
    """fit(x, batch_size) with 13 images, batch 10 and 5 critic steps: the last batch has 3."""
    gan = compiled_gan("wgan_gp")
    logs = gan.fit(random_images(13), batch_size=10, epochs=1, verbose=0).history
    assert all_finite(logs.values())
    assert all_finite(weights(gan.generator.weights))


# -- 4 (GAN side). label smoothing reaches the loss ------------------------------


@pytest.mark.parametrize(
    "loss, formula",
    [
        ("non_saturating", lambda b: 0.9 * np.logaddexp(0, -b) + 0.1 * np.logaddexp(0, b) + np.logaddexp(0, b)),
        ("least_squares", lambda b: 0.5 * (b - 0.9) ** 2 + 0.5 * b**2),
    ],
)
def test_label_smoothing_reaches_the_discriminator_loss(loss, formula):
    """A critic with zero kernel outputs its bias b for every image, so with label_smoothing=0.1
    the logged d_loss is the one-sided formula at r = f = b (fake target 0)."""
    b = 0.7
    critic = linear_critic(np.zeros(int(np.prod(IMAGE_SHAPE))), bias=b)
    keras.utils.set_random_seed(0)
    gan = GAN(tiny_generator(), critic, latent_dim=LATENT_DIM, loss=loss, label_smoothing=0.1, seed=0)
    gan.compile(keras.optimizers.SGD(0.0), adam())
    logs = run_steps(gan, 1)
    np.testing.assert_allclose(logs["d_loss"][0], formula(b), rtol=1e-6)


@pytest.mark.parametrize(
    "loss, formula",
    [
        (
            "non_saturating",
            lambda b: (
                0.9 * np.logaddexp(0, -b)
                + 0.1 * np.logaddexp(0, b)
                + 0.1 * np.logaddexp(0, -b)
                + 0.9 * np.logaddexp(0, b)
            ),
        ),
        ("least_squares", lambda b: 0.5 * (b - 0.9) ** 2 + 0.5 * (b - 0.1) ** 2),
    ],
)
def test_two_sided_label_smoothing_reaches_the_discriminator_loss(loss, formula):
    """As above with fake_label_smoothing=0.1 too: the fake target is 0.1."""
    b = 0.7
    critic = linear_critic(np.zeros(int(np.prod(IMAGE_SHAPE))), bias=b)
    keras.utils.set_random_seed(0)
    gan = GAN(
        tiny_generator(),
        critic,
        latent_dim=LATENT_DIM,
        loss=loss,
        label_smoothing=0.1,
        fake_label_smoothing=0.1,
        seed=0,
    )
    gan.compile(keras.optimizers.SGD(0.0), adam())
    logs = run_steps(gan, 1)
    np.testing.assert_allclose(logs["d_loss"][0], formula(b), rtol=1e-6)
    assert GAN.from_config(gan.get_config()).fake_label_smoothing == 0.1


# -- 5 (GAN side). conditioning reaches both networks ----------------------------


def _spy_generator():
    z = keras.Input((LATENT_DIM,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    seen = Spy(name="label_spy")(label)
    x = layers.Concatenate()([z, layers.CategoryEncoding(NUM_CLASSES, output_mode="one_hot")(seen)])
    x = layers.Dense(int(np.prod(IMAGE_SHAPE)), activation="tanh")(x)
    image = layers.Reshape(IMAGE_SHAPE)(x)  # (batch, 16, 16, 1)
    return keras.Model([z, label], image)


def test_conditional_labels_reach_generator_and_discriminator():
    """cGAN with 2 critic steps: the critic sees each slice's own labels with its real images;
    every fake is judged with the labels it was generated from (G and D spies agree)."""
    k = 2
    keras.utils.set_random_seed(0)
    gan = GAN(
        _spy_generator(),
        spy_critic(NUM_CLASSES),
        latent_dim=LATENT_DIM,
        num_classes=NUM_CLASSES,
        discriminator_steps=k,
        seed=0,
    )
    gan.compile(adam(), adam(), run_eagerly=True)
    images, labels = random_images(k * BATCH, 3), np.array([0, 1, 2, 0, 2, 2, 1, 0], "int32")
    run_steps(gan, 1, data=(images, labels))
    d_images = gan.discriminator.get_layer("image_spy").seen
    d_labels = gan.discriminator.get_layer("label_spy").seen
    g_labels = gan.generator.get_layer("label_spy").seen
    assert len(d_labels) == 2 * k + 1 and len(g_labels) == k + 1
    for step in range(k):
        part = slice(step * BATCH, (step + 1) * BATCH)
        np.testing.assert_array_equal(d_images[2 * step], images[part])
        np.testing.assert_array_equal(d_labels[2 * step], labels[part])  # real images, their labels
        np.testing.assert_array_equal(g_labels[step], labels[part])  # fakes made for those labels
        np.testing.assert_array_equal(d_labels[2 * step + 1], g_labels[step])  # and judged with them
    np.testing.assert_array_equal(d_labels[-1], g_labels[-1])  # G step


@pytest.mark.parametrize("loss", ["minimax", "hinge"])
def test_losses_without_a_named_variant_train(loss):
    """The two losses no preset uses still train: one finite eager step that moves both networks."""
    gan = compiled_gan(
        "wgan_gp" if loss == "hinge" else "dcgan",
        loss=loss,
        gradient_penalty_weight=0.0,
        discriminator_steps=1,
        run_eagerly=True,
    )
    before = weights(gan.generator.trainable_variables) + weights(gan.discriminator.trainable_variables)
    logs = run_steps(gan, 1)
    assert all_finite(logs.values())
    assert weights_changed(before, gan.generator.trainable_variables + gan.discriminator.trainable_variables)


# -- 7. XLA matches eager ------------------------------------------------------


# XLA compilation is the cost here. Five unrolled critic steps with the penalty take the
# longest to compile, so the fast suite compiles WGAN-GP with 2 critic steps and the slow
# suite the full 5.
JIT_CASES = [
    pytest.param("dcgan", {}, id="dcgan"),
    pytest.param("lsgan", {}, id="lsgan"),
    pytest.param("cgan", {}, id="cgan"),
    pytest.param("wgan_gp", {"discriminator_steps": 2}, id="wgan_gp-2-critic-steps"),
    pytest.param("wgan_gp", {}, id="wgan_gp", marks=pytest.mark.slow),
]


@pytest.mark.skipif(BACKEND == "torch", reason="jit_compile on torch is torch.compile, which ganzoo does not support")
@pytest.mark.parametrize("variant, overrides", JIT_CASES)
def test_jit_compile_matches_eager(variant, overrides, monkeypatch):
    """Same initial weights, same noise, same data: two train steps run eagerly and under
    jit_compile=True give the same logs and weights (atol 1e-5 with rtol 1e-5; measured
    differences are ~1e-7, float32 reassociation). TF's RNG kernels draw a different stream under XLA for the same seed, so the noise
    comes from `table_noise` in both runs. SGD keeps the comparison linear in the gradients
    (Adam's first step is ~lr*sign(g), which turns round-off in a near-zero gradient into a
    full-size difference)."""
    table_noise(monkeypatch)
    results = []
    for mode in (dict(run_eagerly=True), dict(jit_compile=True)):
        gan = compiled_gan(
            variant, d_optimizer=keras.optimizers.SGD(0.05), g_optimizer=keras.optimizers.SGD(0.05), **overrides, **mode
        )
        assert gan.jit_compile == mode.get("jit_compile", False)
        logs = run_steps(gan, 2)
        results.append((logs, weights(gan.generator.weights) + weights(gan.discriminator.weights)))
    (eager_logs, eager_weights), (xla_logs, xla_weights) = results
    assert all_finite(eager_logs.values())
    for key in eager_logs:
        np.testing.assert_allclose(xla_logs[key], eager_logs[key], atol=1e-5, rtol=1e-5, err_msg=key)
    for eager, xla in zip(eager_weights, xla_weights, strict=True):
        np.testing.assert_allclose(xla, eager, atol=1e-5, rtol=1e-5)
