"""Saving: `.keras` round trips of the GAN and the generator, configs, resumed training."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.training.optimizer import GANOptimizer  # noqa: E402
from helpers import (  # noqa: E402
    LATENT_DIM,
    VARIANTS,
    all_finite,
    compiled_gan,
    random_images,
    run_steps,
    tiny_gan,
    tiny_generator,
    weights,
    weights_changed,
)


pytestmark = pytest.mark.backends


def _json(config):
    """A config as the .keras file stores it (JSON turns tuples into lists)."""
    return json.loads(json.dumps(config))


def _generator_inputs(num_classes, n=5):
    z = np.random.default_rng(42).standard_normal((n, LATENT_DIM)).astype("float32")
    return z if num_classes is None else [z, (np.arange(n) % num_classes).astype("int32")]


def _discriminator_inputs(num_classes, n=5):
    images = random_images(n, seed=43)
    return images if num_classes is None else [images, (np.arange(n) % num_classes).astype("int32")]


def _outputs(gan):
    return (
        keras.ops.convert_to_numpy(gan.generator(_generator_inputs(gan.num_classes), training=False)),
        keras.ops.convert_to_numpy(gan.discriminator(_discriminator_inputs(gan.num_classes), training=False)),
    )


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "cgan"])
def test_gan_keras_file_round_trip_and_resume(variant, tmp_path):
    """A compiled GAN after a train step, saved and loaded with safe_mode=True: same config,
    bit-identical G and D outputs on fixed inputs, the two optimizers restored as distinct
    objects with their hyperparameters, step counts and Adam slots; training continues."""
    gan = compiled_gan(variant, run_eagerly=True)
    run_steps(gan, 1)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)

    assert isinstance(loaded, GAN)
    assert _json(loaded.get_config()) == _json(gan.get_config())
    for new, old in zip(_outputs(loaded), _outputs(gan), strict=True):
        np.testing.assert_array_equal(new, old)

    assert isinstance(loaded.optimizer, GANOptimizer)
    assert loaded.d_optimizer is not loaded.g_optimizer
    for name in ("d_optimizer", "g_optimizer"):
        assert getattr(loaded, name).get_config() == getattr(gan, name).get_config()
    assert len(loaded.optimizer.variables) == len(gan.optimizer.variables)
    for new, old in zip(weights(loaded.optimizer.variables), weights(gan.optimizer.variables), strict=True):
        np.testing.assert_array_equal(new, old)  # step counts and Adam moments
    assert int(loaded.d_optimizer.iterations.numpy()) == gan.discriminator_steps

    before = weights(loaded.generator.trainable_variables)
    logs = run_steps(loaded, 1, seed=1)
    assert all_finite(logs.values())
    assert weights_changed(before, loaded.generator.trainable_variables)
    assert int(loaded.d_optimizer.iterations.numpy()) == 2 * gan.discriminator_steps
    assert int(loaded.g_optimizer.iterations.numpy()) == 2


def test_mixed_float16_gan_round_trip(tmp_path):
    """Loss-scale optimizers (and their current scale) survive a save under mixed_float16."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = compiled_gan("lsgan", run_eagerly=True)
        run_steps(gan, 1)
        path = str(tmp_path / "gan.keras")
        gan.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        for name in ("d_optimizer", "g_optimizer"):
            optimizer = getattr(loaded, name)
            assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
            assert not isinstance(optimizer.inner_optimizer, keras.optimizers.LossScaleOptimizer)
            assert float(optimizer.dynamic_scale.numpy()) == float(getattr(gan, name).dynamic_scale.numpy())
        for new, old in zip(_outputs(loaded), _outputs(gan), strict=True):
            np.testing.assert_array_equal(new, old)
        assert all_finite(run_steps(loaded, 1, seed=1).values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("num_classes", [None, 3])
def test_generator_keras_file_round_trip(num_classes, tmp_path):
    keras.utils.set_random_seed(0)
    generator = tiny_generator(num_classes)
    path = str(tmp_path / "generator.keras")
    generator.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    inputs = _generator_inputs(num_classes)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(inputs, training=False)),
        keras.ops.convert_to_numpy(generator(inputs, training=False)),
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_gan_config_round_trip(variant):
    """from_config(get_config()) rebuilds every constructor argument; with the weights copied
    the rebuilt networks compute the same outputs."""
    gan = tiny_gan(variant, label_smoothing=0.1) if variant in ("dcgan", "lsgan") else tiny_gan(variant)
    config = gan.get_config()
    for key in (
        "latent_dim",
        "loss",
        "discriminator_steps",
        "gradient_penalty_weight",
        "label_smoothing",
        "num_classes",
        "seed",
    ):
        assert key in config
    clone = GAN.from_config(config)
    assert clone.get_config() == config == gan.get_config()  # config not consumed by from_config
    assert clone.label_smoothing == gan.label_smoothing and clone.discriminator_steps == gan.discriminator_steps
    clone.generator.set_weights(gan.generator.get_weights())
    clone.discriminator.set_weights(gan.discriminator.get_weights())
    for new, old in zip(_outputs(clone), _outputs(gan), strict=True):
        np.testing.assert_array_equal(new, old)


def test_gan_optimizer_config_round_trip():
    optimizer = GANOptimizer(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.SGD(0.1))
    config = optimizer.get_config()
    clone = GANOptimizer.from_config(config)
    assert clone.get_config() == config == optimizer.get_config()
    assert clone.d_optimizer.get_config() == optimizer.d_optimizer.get_config()
