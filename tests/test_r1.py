"""The R1 penalty (lazy, every k steps) against closed forms and float64 finite differences."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from helpers import IMAGE_SHAPE, LATENT_DIM, Spy, adam, linear_critic, numpy_forward, run_steps, tiny_generator  # noqa: E402

pytestmark = pytest.mark.backends


def _gan(critic, d_optimizer=None, **kwargs):
    keras.utils.set_random_seed(0)
    gan = GAN(tiny_generator(), critic, latent_dim=LATENT_DIM, loss="wasserstein", seed=1, **kwargs)
    gan.compile(d_optimizer or keras.optimizers.SGD(0.0), adam(), run_eagerly=True)
    return gan


def test_lazy_r1_trains_the_critic_by_its_closed_form_gradient_every_kth_step():
    """D(x) = w.x + b has dD/dx = w: R1 = ||w||^2. With gamma and interval k, an SGD critic step moves w by
    -lr * (mean(fake) - mean(real) + gamma * k * w) on steps 0, k, 2k, ... and without the last term between;
    recomputed in float64 from the images the critic saw."""
    rng = np.random.default_rng(2)
    w = rng.normal(size=int(np.prod(IMAGE_SHAPE))) * 0.2
    lr, gamma, k = 1e-3, 5.0, 2
    gan = _gan(linear_critic(w, 0.1, spy=True), keras.optimizers.SGD(lr), r1_weight=gamma, r1_interval=k)
    current = w.astype("float32").astype("float64")
    spy = gan.discriminator.get_layer("spy")
    for step in range(3):
        spy.seen.clear()
        logs = run_steps(gan, 1, seed=step)
        real, fake = (x.reshape(len(x), -1).astype("float64") for x in spy.seen[:2])
        due = step % k == 0
        np.testing.assert_allclose(logs["r1"][0], np.sum(current**2) if due else 0.0, rtol=1e-5)
        expected = current - lr * (fake.mean(0) - real.mean(0) + (gamma * k * current if due else 0.0))
        got = gan.discriminator.get_layer("logit").get_weights()[0][:, 0].astype("float64")
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
        assert not due or np.max(np.abs(lr * gamma * k * current)) > 100 * 2e-6  # the penalty term is visible
        current = got


def test_r1_of_a_conv_critic_matches_finite_differences():
    """R1 = mean_i ||dD/dx(real_i)||^2 at the real images the critic saw, dD/dx by central differences of
    the same critic in float64 NumPy."""
    keras.utils.set_random_seed(5)
    image = keras.Input(IMAGE_SHAPE, name="image")
    x = Spy(name="image_spy")(image)
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", name="conv")(x)
    logit = layers.Dense(1, name="logit")(layers.Flatten()(x))
    critic = keras.Model(image, logit)
    gan = _gan(critic, r1_weight=10.0)
    logs = run_steps(gan, 1)
    real = critic.get_layer("image_spy").seen[0].astype("float64")
    h = 1e-6
    size = int(np.prod(IMAGE_SHAPE))
    steps = np.eye(size).reshape(size, *IMAGE_SHAPE) * h
    squared = []
    for x in real:
        plus = numpy_forward(critic, x[None] + steps)[:, 0]
        minus = numpy_forward(critic, x[None] - steps)[:, 0]
        squared.append(np.sum(((plus - minus) / (2 * h)) ** 2))
    assert np.mean(squared) > 1e-2  # an informative penalty
    np.testing.assert_allclose(logs["r1"][0], np.mean(squared), rtol=1e-4)


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(r1_weight=-1.0), r"^Expected r1_weight to be a finite float >= 0\. Received: r1_weight=-1\.0$"),
        (dict(r1_weight=float("nan")), r"^Expected r1_weight to be a finite float >= 0\."),
        (dict(r1_weight=1.0, r1_interval=0), r"^Expected r1_interval to be an int >= 1\. Received: r1_interval=0$"),
        (dict(r1_weight=1.0, r1_interval=2.5), r"^Expected r1_interval to be an int >= 1\."),
    ],
)
def test_bad_r1_settings_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GAN(tiny_generator(), linear_critic(np.zeros(int(np.prod(IMAGE_SHAPE)))), latent_dim=LATENT_DIM, **kwargs)


def test_r1_settings_round_trip_and_reach_presets():
    from ganzoo.client.preset_schema import validate_config
    from ganzoo.training.config import default_config

    gan = _gan(linear_critic(np.zeros(int(np.prod(IMAGE_SHAPE)))), r1_weight=0.5, r1_interval=16)
    again = GAN.from_config(gan.get_config())
    assert (again.r1_weight, again.r1_interval) == (0.5, 16)
    config = default_config("dcgan", epochs=1)
    assert (config["gan"]["r1_weight"], config["gan"]["r1_interval"]) == (0.0, 1)
    config["gan"]["r1_interval"] = 0
    with pytest.raises(ValueError, match=r"gan\.r1_interval"):
        validate_config(config)


def test_lazy_r1_runs_in_the_compiled_step():
    """tf.function / jax.jit / torch: the every-k branch traces and trains (values checked eagerly above)."""
    keras.utils.set_random_seed(0)
    critic = linear_critic(np.random.default_rng(0).normal(size=int(np.prod(IMAGE_SHAPE))) * 0.2)
    gan = GAN(tiny_generator(), critic, latent_dim=LATENT_DIM, loss="wasserstein", seed=1, r1_weight=1.0, r1_interval=2)
    gan.compile(keras.optimizers.SGD(1e-3), adam())
    logs = run_steps(gan, 4)
    assert np.isfinite(logs["d_loss"][0]) and logs["r1"][0] > 0
