"""The gradient penalty through ganzoo.training.gan.GAN: closed forms, finite differences, interpolation weights."""

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
    Spy,
    adam,
    all_finite,
    linear_critic,
    numpy_forward,
    run_steps,
    spy_critic,
    tiny_gan,
    tiny_generator,
    weights,
    weights_changed,
)

pytestmark = pytest.mark.backends

# -- 3. gradient penalty through the GAN -----------------------------------------


def _wgan_gp(critic, d_optimizer=None, run_eagerly=True, **kwargs):
    keras.utils.set_random_seed(0)
    gan = GAN(
        tiny_generator(),
        critic,
        latent_dim=LATENT_DIM,
        loss="wasserstein",
        gradient_penalty_weight=10.0,
        seed=1,
        **kwargs,
    )
    gan.compile(d_optimizer or keras.optimizers.SGD(0.0), adam(), run_eagerly=run_eagerly)
    return gan


@pytest.mark.parametrize("norm", [0.5, 3.0])
def test_linear_critic_penalty_is_closed_form(norm):
    """D(x) = w.x + b has dD/dx = w everywhere, so the penalty is exactly (||w|| - 1)^2 and the
    critic loss mean(D(fake)) - mean(D(real)) + 10 gp, recomputed in float64 from the images
    the critic saw (Spy). D's learning rate is 0 so w is the same for every number."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=int(np.prod(IMAGE_SHAPE)))
    w *= norm / np.linalg.norm(w)
    b = 0.25
    gan = _wgan_gp(linear_critic(w, b, spy=True))
    logs = run_steps(gan, 1)
    gp = (norm - 1.0) ** 2
    np.testing.assert_allclose(logs["gp"][0], gp, rtol=1e-5)
    real, fake = gan.discriminator.get_layer("spy").seen[:2]

    def critic(x):
        return x.reshape(len(x), -1).astype("float64") @ w.astype("float32").astype("float64") + b

    d_loss = np.mean(critic(fake)) - np.mean(critic(real)) + 10.0 * gp
    np.testing.assert_allclose(logs["d_loss"][0], d_loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logs["d_real"][0], np.mean(critic(real)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm", [0.5, 3.0])
def test_the_penalty_trains_the_critic_by_its_closed_form_gradient(norm):
    """One SGD critic step on D(x) = w.x + b moves w by -lr * (mean(fake) - mean(real) + 10 * 2(||w|| - 1) w / ||w||),
    recomputed in float64 from the images the critic saw. A penalty whose gradient is stopped (its value
    still logged) would leave out the last term, which is the larger one here."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=int(np.prod(IMAGE_SHAPE)))
    w *= norm / np.linalg.norm(w)
    lr = 1e-3
    gan = _wgan_gp(linear_critic(w, 0.25, spy=True), d_optimizer=keras.optimizers.SGD(lr))
    w32 = w.astype("float32").astype("float64")
    run_steps(gan, 1)
    real, fake = (x.reshape(len(x), -1).astype("float64") for x in gan.discriminator.get_layer("spy").seen[:2])
    norm32 = np.linalg.norm(w32)
    penalty_grad = 10.0 * 2.0 * (norm32 - 1.0) * w32 / norm32
    expected = w32 - lr * (fake.mean(0) - real.mean(0) + penalty_grad)
    got = gan.discriminator.get_layer("logit").get_weights()[0][:, 0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    assert np.max(np.abs(lr * penalty_grad)) > 100 * 2e-6  # the penalty term is far above the tolerance


def _tanh_critic(dtype, spy):
    image = keras.Input(IMAGE_SHAPE, dtype=dtype, name="image")
    x = Spy(name="image_spy")(image) if spy else image
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", dtype=dtype, name="conv")(x)
    x = layers.Flatten(dtype=dtype)(x)
    logit = layers.Dense(1, dtype=dtype, name="logit")(x)
    return keras.Model(image, logit)


def test_conv_critic_penalty_matches_finite_differences():
    """The penalty the GAN logs for a conv critic equals mean_i(||dD/dx_i|| - 1)^2 at the
    interpolates it used (captured by Spy), with dD/dx from central differences of the same
    critic computed in float64 NumPy (`numpy_forward`)."""
    keras.utils.set_random_seed(5)
    critic = _tanh_critic("float32", spy=True)
    critic.set_weights([w * 3.0 for w in critic.get_weights()])  # gradient norms O(1)
    gan = _wgan_gp(critic)
    logs = run_steps(gan, 1)
    interpolates = critic.get_layer("image_spy").seen[2].astype("float64")

    h = 1e-6
    size = int(np.prod(IMAGE_SHAPE))
    steps = np.eye(size).reshape(size, *IMAGE_SHAPE) * h
    norms = []
    for x in interpolates:
        plus = numpy_forward(critic, x[None] + steps)[:, 0]
        minus = numpy_forward(critic, x[None] - steps)[:, 0]
        norms.append(np.linalg.norm((plus - minus) / (2 * h)))
    norms = np.array(norms)
    assert np.all(np.abs(norms - 1.0) > 0.05)  # an informative penalty, not ~0
    np.testing.assert_allclose(logs["gp"][0], np.mean((norms - 1.0) ** 2), rtol=1e-4)


def test_interpolation_weights_are_per_sample_uniform():
    """Recover alpha from the captured (real, fake, interpolate) triples: one alpha per sample
    (constant over pixels), inside [0, 1], and different between samples. A N(0, 1) draw
    (keras-io #415) would leave [0, 1] for 20 samples with probability > 0.99999; a per-pixel
    draw would not be constant over pixels."""
    k = 5
    gan = tiny_gan("wgan_gp", discriminator=spy_critic())
    gan.compile(adam(), adam(), run_eagerly=True)
    run_steps(gan, 1)
    seen = gan.discriminator.get_layer("image_spy").seen
    alphas = []
    for step in range(k):
        real, fake, interpolate = (seen[3 * step + i].reshape(BATCH, -1).astype("float64") for i in range(3))
        for i in range(BATCH):
            usable = np.abs(fake[i] - real[i]) > 0.1
            ratio = (interpolate[i][usable] - real[i][usable]) / (fake[i][usable] - real[i][usable])
            np.testing.assert_allclose(ratio, np.median(ratio), atol=1e-4)
            alphas.append(np.median(ratio))
    alphas = np.array(alphas)
    assert np.all((alphas >= 0.0) & (alphas <= 1.0)), alphas
    assert len(np.unique(np.round(alphas, 4))) == len(alphas)


def test_penalty_with_a_zero_critic_is_finite():
    """A critic with zero weights has dD/dx = 0, where sqrt'(0) is infinite: the penalty is
    (sqrt(eps) - 1)^2 ~ 1 and the critic update stays finite (keras-io #910)."""
    critic = linear_critic(np.zeros(int(np.prod(IMAGE_SHAPE))))
    gan = _wgan_gp(critic, d_optimizer=adam(), run_eagerly=False)
    before = weights(critic.trainable_variables)
    logs = run_steps(gan, 1)
    np.testing.assert_allclose(logs["gp"][0], 1.0, atol=1e-3)
    assert all_finite(logs.values())
    assert all_finite(weights(critic.trainable_variables))
    assert weights_changed(before, critic.trainable_variables)
