"""Tests for ganzoo.models.SpectralNorm: sigma, outputs and gradients against float64 NumPy, and the GAN step.

Marked `backends`: the same numbers must come out on TensorFlow, JAX and PyTorch.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.training import gradients  # noqa: E402
from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.models import SpectralNorm, dcgan_discriminator, dcgan_generator  # noqa: E402
from ganzoo.models.resnet import resnet_discriminator  # noqa: E402

pytestmark = pytest.mark.backends


def _np(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


def _dense(seed=0, units=7, fan_in=5):
    rng = np.random.default_rng(seed)
    layer = SpectralNorm(keras.layers.Dense(units))
    layer.build((None, fan_in))
    layer.layer.kernel.assign(rng.standard_normal((fan_in, units)).astype("float32"))
    layer.layer.bias.assign(rng.standard_normal(units).astype("float32"))
    return layer, rng.standard_normal((4, fan_in)).astype("float32")


def _largest_singular_value(kernel):
    kernel = _np(kernel)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def test_sigma_converges_to_the_largest_singular_value():
    layer, x = _dense()
    for _ in range(60):  # one power iteration per training call
        layer(x, training=True)
    _, sigma, _ = layer.normalized_kernel()
    np.testing.assert_allclose(float(_np(sigma)), _largest_singular_value(layer.layer.kernel), rtol=1e-5)

    conv = SpectralNorm(keras.layers.Conv2D(6, 3, padding="same"), power_iterations=3)
    images = np.random.default_rng(1).standard_normal((2, 5, 5, 4)).astype("float32")
    for _ in range(30):
        conv(images, training=True)
    _, sigma, _ = conv.normalized_kernel()
    np.testing.assert_allclose(float(_np(sigma)), _largest_singular_value(conv.layer.kernel), rtol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_under_mixed_precision_the_power_iteration_stays_float32(policy):
    """In a model built under a mixed policy the layer computes in half precision, but sigma and u come
    from the float32 kernel in float32: sigma equals the float64 largest singular value to float32
    accuracy (a half-precision power iteration is off by about 1e-3), and u is stored in float32.

    (Called on its own, outside a model, Keras 3.15 reads a mixed layer's variables through an autocast
    scope even with autocast=False, and on PyTorch the update of u is then lost; in a model, which is
    how discriminators use it, the layer clears that scope.)"""
    keras.mixed_precision.set_global_policy(policy)
    try:
        image = keras.Input((24,))
        layer = SpectralNorm(keras.layers.Dense(16))
        model = keras.Model(image, layer(image))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(3)
    layer.layer.kernel.assign(rng.standard_normal((24, 16)).astype("float32"))
    x = rng.standard_normal((4, 24)).astype("float32")
    assert layer.compute_dtype != "float32" and layer.vector_u.dtype == "float32"
    for _ in range(150):
        out = model(x, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == layer.compute_dtype
    _, sigma, _ = layer.normalized_kernel()
    assert keras.backend.standardize_dtype(sigma.dtype) == "float32"
    np.testing.assert_allclose(float(_np(sigma)), _largest_singular_value(layer.layer.kernel), rtol=1e-5)


def test_outputs_use_the_normalized_kernel():
    layer, x = _dense()
    for _ in range(60):
        layer(x, training=True)
    sigma = _largest_singular_value(layer.layer.kernel)
    expected = x.astype("float64") @ (_np(layer.layer.kernel) / sigma) + _np(layer.layer.bias)
    np.testing.assert_allclose(_np(layer(x, training=False)), expected, rtol=1e-5, atol=1e-6)

    conv = SpectralNorm(keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu"))
    images = np.random.default_rng(2).standard_normal((2, 8, 8, 4)).astype("float32")
    for _ in range(60):
        conv(images, training=True)
    plain = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")
    plain.build(images.shape)
    plain.set_weights([_np(conv.layer.kernel) / _largest_singular_value(conv.layer.kernel), _np(conv.layer.bias)])
    np.testing.assert_allclose(_np(conv(images)), _np(plain(images)), rtol=1e-4, atol=1e-5)


def test_inference_calls_leave_the_state_alone():
    layer, x = _dense()
    u = _np(layer.vector_u)
    first = _np(layer(x))
    np.testing.assert_array_equal(_np(layer(x)), first)
    np.testing.assert_array_equal(_np(layer.vector_u), u)
    layer(x, training=True)
    assert not np.array_equal(_np(layer.vector_u), u)


def test_kernel_gradient_matches_finite_differences_of_the_float64_formula():
    """d/dW of sum(c * (x @ (W / |W u|) + b)) for the stored u, as in Miyato et al. (u, v held constant)."""
    layer, x = _dense(seed=3, units=4, fan_in=3)
    layer(x, training=True)  # advance u once, then keep it
    u = _np(layer.vector_u)
    u /= np.linalg.norm(u)
    weights = np.random.default_rng(4).standard_normal((4, 4))
    kernel0 = _np(layer.layer.kernel)

    def reference(kernel):
        sigma = np.linalg.norm(kernel @ u)
        return float(np.sum(weights * (x.astype("float64") @ (kernel / sigma) + _np(layer.layer.bias))))

    h, numeric = 1e-6, np.zeros_like(kernel0)
    for index in np.ndindex(kernel0.shape):
        step = np.zeros_like(kernel0)
        step[index] = h
        numeric[index] = (reference(kernel0 + step) - reference(kernel0 - step)) / (2 * h)

    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    optimizer.build([layer.layer.kernel])
    weights_t = keras.ops.convert_to_tensor(weights.astype("float32"))
    gradients.minimize(
        optimizer, [layer.layer.kernel], lambda: (keras.ops.sum(weights_t * layer(x, training=False)), ())
    )
    autodiff = kernel0 - _np(layer.layer.kernel)  # SGD(1): W_new = W - grad
    np.testing.assert_allclose(autodiff, numeric, rtol=2e-3, atol=2e-5)


def _sn_gan(discriminator):
    generator = dcgan_generator((16, 16, 1), 8, filters=8)
    gan = GAN(generator, discriminator, latent_dim=8, loss="hinge", seed=0)
    # The discriminator's learning rate is 0: any change to its kernels can only come from elsewhere.
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.Adam(1e-3))
    return gan


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_the_gan_step_never_writes_the_discriminator_kernels(family):
    """Keras' SpectralNormalization writes W / sigma into the kernel on every training call, the generator
    step included; ganzoo's keeps W and advances only the power-iteration vector u."""
    build = dcgan_discriminator if family == "dcgan" else resnet_discriminator
    discriminator = build((16, 16, 1), filters=8, normalization=None, spectral_norm=True)
    gan = _sn_gan(discriminator)
    wrapped = [layer for layer in discriminator.layers if isinstance(layer, SpectralNorm)]
    assert len(wrapped) >= 3
    kernels = [_np(layer.layer.kernel) for layer in wrapped]
    vectors = [_np(layer.vector_u) for layer in wrapped]
    g_before = [_np(w) for w in gan.generator.trainable_weights]
    images = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    logs = gan.train_on_batch(images, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    for layer, kernel, u in zip(wrapped, kernels, vectors):
        np.testing.assert_array_equal(_np(layer.layer.kernel), kernel)
        assert not np.array_equal(_np(layer.vector_u), u), f"{layer.name}: u did not advance"
    assert any(not np.array_equal(_np(w), b) for w, b in zip(gan.generator.trainable_weights, g_before))


def test_spectral_norm_discriminator_saves_and_loads(tmp_path):
    discriminator = dcgan_discriminator((16, 16, 1), filters=8, normalization=None, spectral_norm=True)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    for _ in range(3):
        discriminator(images, training=True)
    discriminator.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras", safe_mode=True)
    np.testing.assert_allclose(_np(loaded(images)), _np(discriminator(images)), rtol=1e-6, atol=1e-6)


@pytest.mark.one_backend
def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="Dense or Conv2D"):
        SpectralNorm(keras.layers.Conv2DTranspose(4, 3))
    with pytest.raises(ValueError, match="power_iterations"):
        SpectralNorm(keras.layers.Dense(3), power_iterations=0)
    with pytest.raises(ValueError, match="spectral_norm"):
        dcgan_discriminator((16, 16, 1), spectral_norm="yes")
