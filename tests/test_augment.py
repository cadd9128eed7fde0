"""DiffAugment (ganzoo.training.augment) against float64 NumPy loops, its gradients, and its place in the step."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.training import augment, gradients  # noqa: E402

RNG = np.random.default_rng(0)


def np_translate(images, shift_y, shift_x):
    out = np.zeros_like(images, dtype="float64")
    batch, height, width, _ = images.shape
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                si, sj = i - shift_y[b], j - shift_x[b]
                if 0 <= si < height and 0 <= sj < width:
                    out[b, i, j] = images[b, si, sj]
    return out


def np_cutout(images, top, left, size_y, size_x):
    out = images.astype("float64").copy()
    for b in range(images.shape[0]):
        out[b, max(top[b], 0) : max(top[b] + size_y, 0), max(left[b], 0) : max(left[b] + size_x, 0)] = 0.0
    return out


def np_color(images, brightness, saturation, contrast):
    x = images.astype("float64") + (brightness[:, None, None, None] - 0.5)
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * (2 * saturation[:, None, None, None]) + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (contrast[:, None, None, None] + 0.5) + mean


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.backends  # tests/test_backends.py reruns it on JAX and PyTorch
def test_translation_equals_a_pixel_loop():
    images = RNG.uniform(-1, 1, (5, 9, 7, 2)).astype("float32")
    shift_y, shift_x = np.array([0, 1, -2, 3, -9]), np.array([2, -1, 0, -3, 1])
    got = augment.translate(keras.ops.convert_to_tensor(images), shift_y, shift_x)
    np.testing.assert_allclose(numpy(got), np_translate(images, shift_y, shift_x), atol=1e-6)


@pytest.mark.backends  # tests/test_backends.py reruns it on JAX and PyTorch
def test_cutout_equals_a_slice_assignment():
    images = RNG.uniform(-1, 1, (4, 8, 6, 3)).astype("float32")
    top, left = np.array([-2, 0, 5, 3]), np.array([1, -3, 4, 0])
    got = augment.cutout(keras.ops.convert_to_tensor(images), top, left, 4, 3)
    np.testing.assert_allclose(numpy(got), np_cutout(images, top, left, 4, 3), atol=0)


@pytest.mark.backends  # tests/test_backends.py reruns it on JAX and PyTorch
def test_color_equals_the_paper_formulas():
    images = RNG.uniform(-1, 1, (3, 5, 5, 3)).astype("float32")
    factors = [RNG.uniform(0, 1, 3).astype("float32") for _ in range(3)]
    got = augment.color(keras.ops.convert_to_tensor(images), *factors)
    np.testing.assert_allclose(numpy(got), np_color(images, *factors), atol=1e-5)


@pytest.mark.backends  # tests/test_backends.py reruns it on JAX and PyTorch
def test_gradients_flow_through_the_transforms():
    """d sum(w * T(x)) / dx is the transpose of T applied to w: shifted back for translation, masked for cutout."""
    images = keras.ops.convert_to_tensor(RNG.uniform(-1, 1, (3, 6, 6, 1)).astype("float32"))
    weights = RNG.uniform(-1, 1, images.shape).astype("float32")
    shift_y, shift_x = np.array([1, -2, 0]), np.array([0, 3, -1])
    w = keras.ops.convert_to_tensor(weights)
    grad = gradients.input_gradients(lambda x: w * augment.translate(x, shift_y, shift_x), images)
    np.testing.assert_allclose(numpy(grad), np_translate(weights, -shift_y, -shift_x), atol=1e-6)
    top, left = np.array([0, 2, 4]), np.array([1, 0, 3])
    grad = gradients.input_gradients(lambda x: w * augment.cutout(x, top, left, 3, 3), images)
    np.testing.assert_allclose(numpy(grad), np_cutout(weights, top, left, 3, 3), atol=1e-6)


@pytest.mark.backends  # tests/test_backends.py reruns it on JAX and PyTorch
def test_drawn_parameters_stay_in_the_papers_ranges():
    seed = keras.random.SeedGenerator(3)
    parameters = augment.draw_parameters(
        lambda shape: keras.random.uniform(shape, seed=seed),
        lambda shape, low, high: keras.random.randint(shape, low, high, seed=seed),
        512,
        (28, 28, 1),
        ("color", "translation", "cutout"),
    )
    shift_y, shift_x = (numpy(p) for p in parameters["translation"])
    assert shift_y.min() == -4 and shift_y.max() == 4 and shift_x.min() == -4 and shift_x.max() == 4  # round(28/8)
    top, left, size_y, size_x = parameters["cutout"]
    assert (size_y, size_x) == (14, 14)
    assert numpy(top).min() == -7 and numpy(top).max() == 28 - 7  # centres 0..28: DiffAugment adds a row for even sizes
    for factor in parameters["color"]:
        assert 0 <= numpy(factor).min() and numpy(factor).max() < 1


def test_probability_applies_each_transform_to_the_chosen_samples_only():
    images = RNG.uniform(-1, 1, (4, 6, 6, 1)).astype("float32")
    top, left = np.zeros(4, "int32"), np.zeros(4, "int32")
    parameters = {"cutout": [top, left, 6, 6], "apply": np.array([[0.9, 0.9, 0.1], [0.9, 0.9, 0.7]] * 2, "float32")}
    got = numpy(augment.augment(keras.ops.convert_to_tensor(images), ("cutout",), parameters, probability=0.5))
    np.testing.assert_array_equal(got[0::2], 0.0)  # apply draw 0.1 < 0.5: the whole image cut out
    np.testing.assert_array_equal(got[1::2], images[1::2])  # 0.7: unchanged


@pytest.mark.parametrize("policy", ["flip", "translation,translation", 3, ["cutout"]])
def test_a_bad_policy_names_the_argument(policy):
    with pytest.raises(ValueError, match=r"^Expected augment to .* Received: augment="):
        augment.check_policy(policy)


def test_policy_keeps_the_papers_order():
    assert augment.check_policy("cutout, translation") == ("translation", "cutout")
    assert augment.check_policy(None) == () == augment.check_policy("")


def _gan(run_eagerly=True, **kwargs):
    from ganzoo.models import dcgan_discriminator, dcgan_generator
    from ganzoo.training.gan import GAN

    generator = dcgan_generator((8, 8, 1), 4, filters=4)
    discriminator = dcgan_discriminator((8, 8, 1), filters=4, normalization=None)
    gan = GAN(generator, discriminator, latent_dim=4, seed=0, **kwargs)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), run_eagerly=run_eagerly)
    return gan


@pytest.mark.parametrize("policy, calls", [("translation,cutout", 3), (None, 0)])
def test_the_discriminator_sees_augmented_images_in_every_pass(monkeypatch, policy, calls):
    """Real and fake in the critic's update, fake in the generator's: one policy, three calls per step."""
    seen = []
    original = augment.augment

    def spy(images, policy, parameters, probability=1.0):
        seen.append((tuple(images.shape), policy, probability))
        return original(images, policy, parameters, probability)

    monkeypatch.setattr(augment, "augment", spy)
    gan = _gan(augment=policy, augment_probability=0.5)
    history = gan.fit(RNG.uniform(-1, 1, (8, 8, 8, 1)).astype("float32"), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0]) and np.isfinite(history.history["g_loss"][0])
    assert seen == [((8, 8, 8, 1), ("translation", "cutout"), 0.5)] * calls


def test_augment_settings_round_trip_and_are_checked():
    from ganzoo.training.gan import GAN

    gan = _gan(augment="cutout,translation", augment_probability=0.25)
    config = gan.get_config()
    assert (config["augment"], config["augment_probability"]) == ("cutout,translation", 0.25)
    again = GAN.from_config(config)
    assert (again.augment_policy, again.augment_probability) == (("translation", "cutout"), 0.25)
    with pytest.raises(ValueError, match=r"^Expected augment_probability to be a float in \[0, 1\]\. Received: "):
        _gan(augment="cutout", augment_probability=1.5)
    with pytest.raises(ValueError, match=r"Received: augment='rotate'"):
        _gan(augment="rotate")


def test_a_preset_may_augment_and_a_bad_policy_names_the_key():
    from ganzoo.client.preset_schema import validate_config
    from ganzoo.training.config import default_config

    config = default_config("dcgan", epochs=1)
    assert (config["gan"]["augment"], config["gan"]["augment_probability"]) == (None, 1.0)
    config["gan"]["augment"] = "translation,cutout"
    validate_config(config)
    config["gan"]["augment"] = "flip"
    with pytest.raises(ValueError, match=r"Expected gan\.augment to name each of"):
        validate_config(config)
    config["gan"]["augment"], config["gan"]["augment_probability"] = None, -0.1
    with pytest.raises(ValueError, match=r"gan\.augment_probability"):
        validate_config(config)


def test_augmented_training_runs_compiled_with_every_transform():
    """The traced step (tf.function, jax.jit) draws the parameters and trains; the penalty sees augmented inputs."""
    gan = _gan(
        run_eagerly=False,
        augment="color,translation,cutout",
        augment_probability=0.6,
        loss="wasserstein",
        gradient_penalty_weight=10.0,
    )
    images = RNG.uniform(-1, 1, (16, 8, 8, 1)).astype("float32")
    before = [w.copy() for w in gan.generator.get_weights()]
    history = gan.fit(images, batch_size=8, epochs=2, verbose=0)
    assert all(np.isfinite(history.history[key]).all() for key in ("d_loss", "g_loss", "gp"))
    assert any(not np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights(), strict=True))
