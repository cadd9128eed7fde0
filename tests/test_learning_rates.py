"""Keras learning-rate callbacks and schedules reach the two real optimizers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import (  # noqa: E402
    compiled_gan,
    random_images,
    run_steps,
)

pytestmark = pytest.mark.backends


# -- 12. learning-rate callbacks reach the real optimizers ------------------------


def test_learning_rate_scheduler_sets_both_optimizers():
    gan = compiled_gan("dcgan")
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3 * 0.5**epoch)
    run = gan.fit(random_images(8), batch_size=4, epochs=3, verbose=0, callbacks=[schedule])
    assert len(run.history["d_loss"]) == 3
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        np.testing.assert_allclose(float(keras.ops.convert_to_numpy(optimizer.learning_rate)), 2.5e-4, rtol=1e-6)


def test_reduce_lr_on_plateau_reaches_the_real_optimizers():
    gan = compiled_gan("dcgan", d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.01))
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="d_loss", factor=0.5, patience=0, min_delta=1e9, mode="min")
    gan.fit(random_images(8), batch_size=4, epochs=3, verbose=0, callbacks=[plateau])
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        np.testing.assert_allclose(float(keras.ops.convert_to_numpy(optimizer.learning_rate)), 0.01 * 0.5**2, rtol=1e-6)


def test_a_scheduler_keeps_the_ratio_of_two_rates():
    """Two-timescale rates (4e-4 / 1e-4): the scheduler reads D's rate and halving it halves both."""
    gan = compiled_gan("dcgan", d_optimizer=keras.optimizers.Adam(4e-4), g_optimizer=keras.optimizers.Adam(1e-4))
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    gan.fit(random_images(8), batch_size=4, epochs=2, verbose=0, callbacks=[schedule])
    assert float(keras.ops.convert_to_numpy(gan.d_optimizer.learning_rate)) == pytest.approx(1e-4)
    assert float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate)) == pytest.approx(2.5e-5)


def test_a_scheduler_on_a_scheduled_member_is_refused_clearly():
    rate = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.5)
    gan = compiled_gan("dcgan", d_optimizer=keras.optimizers.Adam(rate), g_optimizer=keras.optimizers.Adam(1e-4))
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    with pytest.raises(ValueError, match="d_optimizer to have a constant learning rate"):
        gan.fit(random_images(8), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])


def test_reading_the_rate_of_two_rates_gives_the_discriminators():
    """What TensorBoard and ReduceLROnPlateau read: never an error, D's rate."""
    gan = compiled_gan("dcgan", d_optimizer=keras.optimizers.Adam(4e-4), g_optimizer=keras.optimizers.Adam(1e-4))
    assert float(keras.ops.convert_to_numpy(gan.optimizer.learning_rate)) == pytest.approx(4e-4)


def test_optimizer_ema_is_written_back_to_each_network():
    """Adam(use_ema=True) on G: at the end of fit G's weights are its EMA (finalize_variable_values)."""
    gan = compiled_gan("dcgan", g_optimizer=keras.optimizers.Adam(1e-2, use_ema=True, ema_momentum=0.5))
    run_steps(gan, 3)
    averages = [np.array(keras.ops.convert_to_numpy(v)) for v in gan.g_optimizer._model_variables_moving_average]
    for variable, average in zip(gan.generator.trainable_variables, averages, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), average)


def test_per_network_schedules_work_through_the_optimizers():
    """A LearningRateSchedule per optimizer is the per-network schedule: D's decays with its
    own step count (k critic steps per train step)."""
    d_rate = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1, decay_rate=0.5)
    gan = compiled_gan("wgan_gp", d_optimizer=keras.optimizers.Adam(d_rate), g_optimizer=keras.optimizers.Adam(1e-4))
    run_steps(gan, 1)
    np.testing.assert_allclose(
        float(keras.ops.convert_to_numpy(gan.d_optimizer.learning_rate)), 1e-3 * 0.5**5, rtol=1e-5
    )
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate)), 1e-4, rtol=1e-6)
