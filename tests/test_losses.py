"""Tests for ganzoo.training.losses: every loss and the gradient penalty against float64 NumPy."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training import gradients  # noqa: E402
from ganzoo.training import losses
from helpers import numpy_forward  # noqa: E402

pytestmark = pytest.mark.backends


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


# Fixed logits, from confident-fake to confident-real, in float64.
REAL = np.array([[-20.0], [-3.0], [-0.5], [0.0], [0.7], [2.5], [9.0], [20.0]])
FAKE = np.array([[-15.0], [-4.0], [-1.0], [0.0], [0.3], [1.5], [6.0], [25.0]])


def _log_sigmoid(x):
    # log(sigmoid(x)) = -log(1 + exp(-x)); written as a probability formula, not softplus.
    return -np.log1p(np.exp(-x))


def _bce(logits, target):
    """Cross-entropy of sigmoid(logits) against `target`, float64, from probabilities.

    Uses log(1 - sigmoid(x)) = log(sigmoid(-x)), exact in real arithmetic.
    """
    return -(target * _log_sigmoid(logits) + (1.0 - target) * _log_sigmoid(-logits))


# name -> (d_loss(real, fake, real_target), g_loss(fake)), float64 NumPy, from the papers' formulas
REFERENCE = {
    "non_saturating": (
        lambda r, f, t: np.mean(_bce(r, t)) + np.mean(_bce(f, 0.0)),
        lambda f: np.mean(-_log_sigmoid(f)),  # -log D(G(z))
    ),
    "minimax": (
        lambda r, f, t: np.mean(_bce(r, t)) + np.mean(_bce(f, 0.0)),
        lambda f: np.mean(_log_sigmoid(-f)),  # log(1 - D(G(z)))
    ),
    "least_squares": (
        lambda r, f, t: 0.5 * np.mean((r - t) ** 2) + 0.5 * np.mean(f**2),  # a=0, b=t
        lambda f: 0.5 * np.mean((f - 1.0) ** 2),  # c=1
    ),
    "wasserstein": (
        lambda r, f, t: np.mean(f) - np.mean(r),
        lambda f: -np.mean(f),
    ),
    "hinge": (
        lambda r, f, t: np.mean(np.maximum(0.0, 1.0 - r)) + np.mean(np.maximum(0.0, 1.0 + f)),
        lambda f: -np.mean(f),
    ),
}


def test_reference_covers_every_loss():
    assert sorted(REFERENCE) == sorted(losses.LOSSES)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_loss_matches_formula(name):
    loss = losses.get_loss(name)
    d_ref, g_ref = REFERENCE[name]
    d = loss.discriminator_loss(REAL.astype("float32"), FAKE.astype("float32"))
    g = loss.generator_loss(FAKE.astype("float32"))
    assert _dtype(d) == "float32" and _dtype(g) == "float32"
    np.testing.assert_allclose(float(d), d_ref(REAL, FAKE, 1.0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(g), g_ref(FAKE), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_loss_is_float32_for_float16_logits(name):
    loss = losses.get_loss(name)
    d_ref, g_ref = REFERENCE[name]
    real16, fake16 = REAL.astype("float16"), FAKE.astype("float16")
    d = loss.discriminator_loss(real16, fake16)
    g = loss.generator_loss(fake16)
    assert _dtype(d) == "float32" and _dtype(g) == "float32"
    # The reference sees the same float16-rounded logits.
    np.testing.assert_allclose(
        float(d), d_ref(real16.astype("float64"), fake16.astype("float64"), 1.0), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(float(g), g_ref(fake16.astype("float64")), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["non_saturating", "minimax", "least_squares"])
def test_one_sided_label_smoothing_matches_formula(name):
    """Real target 0.9, fake target still 0 (Salimans et al., 2016)."""
    loss = losses.get_loss(name)
    d = loss.discriminator_loss(REAL.astype("float32"), FAKE.astype("float32"), 0.9)
    np.testing.assert_allclose(float(d), REFERENCE[name][0](REAL, FAKE, 0.9), rtol=1e-6, atol=1e-6)
    if name != "least_squares":
        # Spelled out: only the real term changes; the fake term is the unsmoothed one.
        expected = np.mean(-0.9 * _log_sigmoid(REAL) - 0.1 * _log_sigmoid(-REAL)) + np.mean(-_log_sigmoid(-FAKE))
        np.testing.assert_allclose(float(d), expected, rtol=1e-6)
        # Two-sided smoothing (keras BinaryCrossentropy(label_smoothing=0.2)) would give fake target 0.1.
        two_sided = np.mean(_bce(REAL, 0.9)) + np.mean(_bce(FAKE, 0.1))
        assert abs(float(d) - two_sided) > 1e-2


def test_smoothable_flags():
    assert {name for name, loss in losses.LOSSES.items() if loss.smoothable} == {
        "non_saturating",
        "minimax",
        "least_squares",
    }


def _g_loss_gradient(name, logit):
    x = keras.ops.convert_to_tensor(np.array([[logit]], "float32"))
    gradient = gradients.input_gradients(losses.get_loss(name).generator_loss, x)
    return float(keras.ops.convert_to_numpy(gradient)[0, 0])


@pytest.mark.parametrize("name, expected", [("non_saturating", -1.0), ("minimax", 0.0)])
def test_generator_loss_gradient_when_d_rejects_fakes(name, expected):
    """At logit -10 (D sure the fake is fake) the non-saturating loss still pushes with slope ~-1;
    the minimax loss saturates (slope ~0). Checked against central differences of the float64 formula."""
    gradient = _g_loss_gradient(name, -10.0)
    g_ref = REFERENCE[name][1]
    h = 1e-5
    finite_difference = (g_ref(np.array([[-10.0 + h]])) - g_ref(np.array([[-10.0 - h]]))) / (2 * h)
    np.testing.assert_allclose(gradient, finite_difference, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(gradient, expected, atol=1e-4)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="loss") as info:
        losses.get_loss("wgan")
    for name in losses.LOSSES:
        assert name in str(info.value)
    assert "'wgan'" in str(info.value)


# -- gradient penalty ---------------------------------------------------------


def _gp_reference(grads):
    g = np.asarray(grads, dtype="float64").reshape(len(grads), -1)
    return np.mean((np.sqrt(np.sum(g**2, axis=1)) - 1.0) ** 2)


def test_gradient_penalty_matches_numpy():
    rng = np.random.default_rng(0)
    # Per-sample norms from ~0.3 to ~3: the norm is over every non-batch axis (H, W, C).
    grads = rng.normal(size=(5, 6, 6, 2)) * np.array([0.03, 0.1, 0.2, 0.3, 0.5])[:, None, None, None]
    gp = losses.gradient_penalty_from_gradients(grads.astype("float32"))
    assert _dtype(gp) == "float32"
    np.testing.assert_allclose(float(gp), _gp_reference(grads), rtol=1e-5)
    # A per-pixel (or per-channel) norm would give a different number.
    per_channel = np.mean((np.sqrt(np.sum(grads**2, axis=(1, 2))) - 1.0) ** 2)
    assert abs(float(gp) - per_channel) > 1e-2


def test_gradient_penalty_of_unit_norm_gradients_is_zero():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(4, 3, 3, 1))
    grads /= np.linalg.norm(grads.reshape(4, -1), axis=1)[:, None, None, None]
    np.testing.assert_allclose(float(losses.gradient_penalty_from_gradients(grads.astype("float32"))), 0.0, atol=1e-6)


def test_gradient_penalty_at_zero_gradient_is_finite_with_finite_gradient():
    """sqrt'(0) is infinite; the epsilon inside the sqrt keeps the penalty's gradient finite."""
    g = keras.ops.convert_to_tensor(np.zeros((3, 4, 4, 1), "float32"))
    gp = losses.gradient_penalty_from_gradients(g)
    grad = gradients.input_gradients(losses.gradient_penalty_from_gradients, g)
    np.testing.assert_allclose(float(gp), 1.0, atol=1e-5)  # (sqrt(eps) - 1)^2
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(grad)))


def _smooth_critic(dtype):
    image = keras.Input((8, 8, 2), dtype=dtype)
    x = layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh", dtype=dtype, name="conv")(image)
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", dtype=dtype, name="conv2")(x)
    x = layers.Flatten(dtype=dtype)(x)
    logit = layers.Dense(1, dtype=dtype, name="logit")(x)
    return keras.Model(image, logit)


def _central_difference_input_gradients(critic, x, h=1e-6):
    """dD/dx for each sample by central differences, in float64: one batched call per sample."""
    grads = np.empty_like(x)
    size = x[0].size
    for i, sample in enumerate(x):
        steps = np.eye(size).reshape(size, *sample.shape) * h
        plus = numpy_forward(critic, sample[None] + steps)[:, 0]
        minus = numpy_forward(critic, sample[None] - steps)[:, 0]
        grads[i] = ((plus - minus) / (2 * h)).reshape(sample.shape)
    return grads


def test_input_gradients_and_penalty_match_finite_differences():
    """A small conv critic: `gradients.input_gradients` in float32 vs central differences of
    the same critic computed in float64 NumPy (`numpy_forward`), and the penalty from both."""
    keras.utils.set_random_seed(3)
    critic32 = _smooth_critic("float32")
    # Scale the weights up so the per-sample gradient norms are O(1), where the penalty is informative.
    critic32.set_weights([w * 4.0 for w in critic32.get_weights()])
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 2))

    grads = keras.ops.convert_to_numpy(
        gradients.input_gradients(
            lambda v: critic32(v, training=True), keras.ops.convert_to_tensor(x.astype("float32"))
        )
    )
    reference = _central_difference_input_gradients(critic32, x)
    np.testing.assert_allclose(grads, reference, rtol=1e-4, atol=1e-6)
    norms = np.linalg.norm(reference.reshape(3, -1), axis=1)
    assert np.all(norms > 0.1)
    gp = losses.gradient_penalty_from_gradients(grads)
    np.testing.assert_allclose(float(gp), _gp_reference(reference), rtol=1e-4)


@pytest.mark.parametrize("name", ["non_saturating", "minimax", "least_squares"])
def test_two_sided_label_smoothing_matches_formula(name):
    """Real target 0.9 and fake target 0.1: cross-entropy (or squared error) against both targets."""
    loss = losses.get_loss(name)
    d = loss.discriminator_loss(REAL.astype("float32"), FAKE.astype("float32"), 0.9, 0.1)
    if name == "least_squares":
        expected = 0.5 * np.mean((REAL - 0.9) ** 2) + 0.5 * np.mean((FAKE - 0.1) ** 2)
    else:
        expected = np.mean(_bce(REAL, 0.9)) + np.mean(_bce(FAKE, 0.1))
    np.testing.assert_allclose(float(d), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["wasserstein", "hinge"])
def test_targets_do_not_change_the_losses_without_labels(name):
    loss = losses.get_loss(name)
    plain = loss.discriminator_loss(REAL.astype("float32"), FAKE.astype("float32"))
    targeted = loss.discriminator_loss(REAL.astype("float32"), FAKE.astype("float32"), 0.9, 0.1)
    assert float(plain) == float(targeted)
