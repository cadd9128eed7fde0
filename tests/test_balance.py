"""Tests for the balance diagnostics: the saturation warning and the equilibrium line."""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo import data  # noqa: E402
from ganzoo.training.balance import BalanceMonitor, DiscriminatorSaturationWarning  # noqa: E402
from ganzoo.training.callbacks import MetricsLog  # noqa: E402
from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.models import dcgan_discriminator, dcgan_generator  # noqa: E402


class _Model:
    def __init__(self, loss_name):
        self.loss_name = loss_name


def _monitor(loss_name):
    monitor = BalanceMonitor()
    monitor.set_model(_Model(loss_name))
    return monitor


def test_warns_only_when_a_probability_d_fake_stays_below_the_threshold(capsys):
    monitor = _monitor("non_saturating")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.on_epoch_end(0, {"d_fake": 0.3, "d_real": 0.7})
        monitor.on_epoch_end(1, {"d_fake": 0.0101})
    with pytest.warns(DiscriminatorSaturationWarning, match="epoch 3.*0.0040"):
        monitor.on_epoch_end(2, {"d_fake": 0.004})
    assert monitor.saturated_epochs == [3]
    assert "ganzoo: warning: epoch 3" in capsys.readouterr().err
    # A critic's d_fake is a raw score, not a probability: nothing to say.
    critic = _monitor("wasserstein")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        critic.on_epoch_end(0, {"d_fake": -50.0})
    assert critic.saturated_epochs == []
    with pytest.raises(ValueError, match="threshold"):
        BalanceMonitor(threshold=0.5)


def test_a_discriminator_that_wins_is_reported_during_fit():
    """The generator cannot learn (learning rate 0) while a fast discriminator learns to reject its fakes."""
    keras.utils.set_random_seed(0)
    gan = GAN(
        dcgan_generator((16, 16, 1), 8, filters=8), dcgan_discriminator((16, 16, 1), filters=8), latent_dim=8, seed=0
    )
    gan.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(0.0))
    monitor = BalanceMonitor()
    with pytest.warns(DiscriminatorSaturationWarning):
        history = gan.fit(data.load("digits", batch_size=32), epochs=3, verbose=0, callbacks=[monitor])
    assert monitor.saturated_epochs, history.history["d_fake"]
    assert all(history.history["d_fake"][epoch - 1] < 0.01 for epoch in monitor.saturated_epochs)


def _discriminator_axes(loss_name, tmp_path):
    log = MetricsLog(tmp_path / "m.csv", tmp_path / "m.png")
    log.set_model(_Model(loss_name))
    for epoch in range(3):
        log.on_epoch_begin(epoch)
        log.on_epoch_end(epoch, {"d_loss": 1.0, "g_loss": 1.0, "d_real": 0.6, "d_fake": 0.4})
    figure = log.figure()
    axes = next(ax for ax in figure.axes if ax.get_title() == "discriminator output")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return axes


def test_the_plot_marks_the_equilibrium_for_cross_entropy_losses_only(tmp_path):
    axes = _discriminator_axes("non_saturating", tmp_path)
    lines = {line.get_label(): np.asarray(line.get_ydata(), float) for line in axes.get_lines()}
    assert set(lines) == {"d_real", "d_fake", "equilibrium D(x) = 0.5"}
    np.testing.assert_array_equal(lines["equilibrium D(x) = 0.5"], [0.5, 0.5])
    axes = _discriminator_axes("least_squares", tmp_path)
    assert {line.get_label() for line in axes.get_lines()} == {"d_real", "d_fake"}
