"""Tests for ganzoo.training.callbacks under plain `model.fit` with tiny GANs."""

import csv
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from ganzoo.training import inputs  # noqa: E402
from ganzoo.training.callbacks import FrechetDistanceMonitor, GeneratorEMA, MetricsLog, NaNGuard, SampleGrid  # noqa: E402
from ganzoo.training.sampling import generate_images  # noqa: E402
from helpers import BATCH, NUM_CLASSES, compiled_gan, random_images, random_labels  # noqa: E402


def images_dataset(n_batches, batch=BATCH, poison_batch=None, seed=0):
    """Unshuffled batches of random images; batch `poison_batch` (0-based) is all NaN."""
    images = random_images(n_batches * batch, seed=seed)
    if poison_batch is not None:
        images[poison_batch * batch : (poison_batch + 1) * batch] = np.nan
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)


class WeightRecorder(keras.callbacks.Callback):
    """Records the generator weights at the start and after every batch."""

    def on_train_begin(self, logs=None):
        self.start = self.model.generator.get_weights()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(self.model.generator.get_weights())


def _png_shape(path):
    with Image.open(path) as png:
        return png.size, png.mode


# -- SampleGrid and MetricsLog ----------------------------------------------------------


def test_sample_grid_and_metrics_log_write_their_files(tmp_path):
    gan = compiled_gan("dcgan")
    grid = SampleGrid(tmp_path / "samples", every=2, n=9)
    log = MetricsLog(tmp_path / "metrics.csv", tmp_path / "metrics.png")
    history = gan.fit(images_dataset(3), epochs=3, verbose=0, shuffle=False, callbacks=[grid, log])

    # every=2 over 3 epochs: epoch 2, plus the last epoch at the end.
    assert sorted(os.listdir(tmp_path / "samples")) == ["epoch_002.png", "epoch_003.png"]
    assert _png_shape(tmp_path / "samples" / "epoch_002.png") == ((3 * 66 + 2, 3 * 66 + 2), "L")
    # Fixed noise: the saved grid is the generator's output on seed 0.
    with Image.open(tmp_path / "samples" / "epoch_003.png") as png:
        cell = np.asarray(png)[2:66:4, 2:66:4]
    expected = generate_images(gan.generator, 1, seed=0)[0, ..., 0]
    np.testing.assert_array_equal(cell, np.clip(np.round((expected.astype(np.float64) + 1) * 127.5), 0, 255))

    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "d_loss", "g_loss", "d_real", "d_fake", "epoch_seconds"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose([float(r[key]) for r in rows], history.history[key], rtol=1e-6)
    assert all(float(r["epoch_seconds"]) > 0 for r in rows)
    assert _png_shape(tmp_path / "metrics.png")[1] in ("RGBA", "RGB")


def test_conditional_grid_has_one_column_per_class(tmp_path):
    gan = compiled_gan("cgan")
    grid = SampleGrid(tmp_path, n=7)
    grid.set_model(gan)
    path = grid.save(0)
    # labels 0,1,2,0,1,2,0 in rows of NUM_CLASSES=3: 3 columns, 3 rows.
    assert _png_shape(path)[0] == (3 * 66 + 2, 3 * 66 + 2)
    with Image.open(path) as png:
        pixels = np.asarray(png)
    labels = np.arange(7) % NUM_CLASSES
    expected = generate_images(gan.generator, 7, labels=labels, seed=0)
    np.testing.assert_array_equal(
        pixels[68:132:4, 68:132:4], np.round((expected[4, ..., 0].astype(np.float64) + 1) * 127.5)
    )


def test_metrics_log_keeps_sparse_columns(tmp_path):
    log = MetricsLog(tmp_path / "m.csv")
    for epoch, logs in enumerate([{"d_loss": 1.0}, {"d_loss": 2.0, "fd": 5.0, "zeta": 1.0}]):
        log.on_epoch_begin(epoch)
        log.on_epoch_end(epoch, logs)
    with open(tmp_path / "m.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "d_loss", "fd", "zeta", "epoch_seconds"]
    assert rows[0]["fd"] == "" and rows[1]["fd"] == "5.0"


# -- GeneratorEMA -------------------------------------------------------------------------


def test_ema_matches_a_numpy_reference_over_three_steps():
    decay = 0.6
    gan = compiled_gan("dcgan")
    ema, recorder = GeneratorEMA(decay), WeightRecorder()
    gan.fit(images_dataset(3), epochs=1, verbose=0, shuffle=False, callbacks=[recorder, ema])
    assert len(recorder.batches) == 3

    generator = gan.generator
    trainable = [i for i, v in enumerate(generator.weights) if v.trainable]
    reference = [np.asarray(w, np.float64) for w in recorder.start]
    for weights in recorder.batches:
        reference = [decay * r + (1 - decay) * np.asarray(w, np.float64) for r, w in zip(reference, weights)]
    ema_weights = ema.ema_generator.get_weights()
    for i in trainable:
        np.testing.assert_allclose(ema_weights[i], reference[i], rtol=1e-5, atol=1e-7)
    # The weights moved, so the average differs from the final weights...
    assert any(not np.allclose(ema_weights[i], recorder.batches[-1][i]) for i in trainable)
    # ...while BatchNorm moving statistics are copied, not averaged.
    for i in (i for i in range(len(ema_weights)) if i not in trainable):
        np.testing.assert_array_equal(ema_weights[i], recorder.batches[-1][i])
    assert ema.ema_generator is not generator


def test_ema_skips_batches_with_nonfinite_logs():
    gan = compiled_gan("dcgan")
    ema = GeneratorEMA(0.5)
    ema.set_model(gan)
    ema.on_train_begin()
    before = ema.ema_generator.get_weights()
    gan.generator.set_weights([w + 1.0 for w in gan.generator.get_weights()])
    ema.on_train_batch_end(0, {"d_loss": float("nan"), "g_loss": 1.0})
    assert ema.skipped_batches == 1
    for a, b in zip(ema.ema_generator.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_sampling_callbacks_use_the_ema_generator(tmp_path):
    gan = compiled_gan("dcgan")
    ema = GeneratorEMA(0.5)
    ema.set_model(gan)
    ema.on_train_begin()
    gan.generator.set_weights([w * 3.0 for w in gan.generator.get_weights()])
    grid = SampleGrid(tmp_path, n=1, ema=ema)
    grid.set_model(gan)
    with Image.open(grid.save(0)) as png:
        cell = np.asarray(png)[2:66:4, 2:66:4]
    expected = generate_images(ema.ema_generator, 1, seed=0)[0, ..., 0]
    np.testing.assert_array_equal(cell, np.round((expected.astype(np.float64) + 1) * 127.5))


def test_ema_rejects_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        GeneratorEMA(1.0)


# -- NaNGuard -----------------------------------------------------------------------------


@pytest.mark.parametrize("snapshot", ["epoch", "batch"])
def test_nan_guard_stops_names_the_metric_and_restores_the_snapshot(snapshot, monkeypatch):
    # NaN pixels are refused where data enters fit; switching that check off here stands for a
    # numerical fault inside the step, which is what NaNGuard is for.
    monkeypatch.setattr(inputs, "_check_dataset", lambda dataset, *args: dataset)
    gan = compiled_gan("dcgan")
    guard, recorder = NaNGuard(snapshot=snapshot), WeightRecorder()
    d_start = gan.discriminator.get_weights()
    with pytest.warns(RuntimeWarning, match=r"d_loss is nan at epoch 1, batch 3"):
        history = gan.fit(
            images_dataset(5, poison_batch=2), epochs=3, verbose=0, shuffle=False, callbacks=[recorder, guard]
        )

    assert gan.stop_training
    assert len(history.history["d_loss"]) == 1  # stopped in the first epoch
    assert len(recorder.batches) == 3  # and right after the poisoned batch
    assert math.isnan(history.history["d_loss"][0])
    # Without the guard the generator would now hold NaN weights.
    assert not all(np.all(np.isfinite(w)) for w in recorder.batches[2])
    assert guard.tripped["metric"] == "d_loss" and guard.tripped["epoch"] == 1 and guard.tripped["batch"] == 3
    expected = recorder.start if snapshot == "epoch" else recorder.batches[1]
    assert guard.tripped["restored_from"] == (
        "the start of training" if snapshot == "epoch" else "the end of epoch 1, batch 2"
    )
    for restored, good in zip(gan.generator.get_weights(), expected):
        np.testing.assert_array_equal(restored, good)
    if snapshot == "epoch":
        for restored, good in zip(gan.discriminator.get_weights(), d_start):
            np.testing.assert_array_equal(restored, good)
    assert all(np.all(np.isfinite(w)) for w in gan.discriminator.get_weights())
    # The optimizer state (Adam moments went NaN with the gradients) is restored too.
    assert all(np.all(np.isfinite(np.array(v))) for v in gan.optimizer.variables)
    assert int(gan.optimizer.iterations) == (0 if snapshot == "epoch" else 2)


def test_nan_guard_checks_epoch_logs_too():
    gan = compiled_gan("dcgan")
    guard = NaNGuard()
    guard.set_model(gan)
    guard.on_train_begin()
    good = gan.generator.get_weights()
    guard.on_epoch_end(0, {"d_loss": 1.0})
    gan.generator.set_weights([w * 0 for w in good])
    with pytest.warns(RuntimeWarning, match=r"fd is inf at epoch 2\. .*end of epoch 1"):
        guard.on_epoch_end(1, {"d_loss": 1.0, "fd": float("inf")})
    assert guard.tripped["batch"] is None
    for restored, expected in zip(gan.generator.get_weights(), good):
        np.testing.assert_array_equal(restored, expected)


def test_clean_training_does_not_trip_the_guard():
    gan = compiled_gan("cgan")
    guard = NaNGuard()
    images, labels = random_images(2 * BATCH), random_labels(2 * BATCH)
    gan.fit(
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH),
        epochs=2,
        verbose=0,
        shuffle=False,
        callbacks=[guard],
    )
    assert guard.tripped is None and not gan.stop_training


# -- FrechetDistanceMonitor ------------------------------------------------------------


class EpochWeights(keras.callbacks.Callback):
    """Records the generator weights at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.generator.get_weights())


def test_fd_monitor_logs_fd_and_keeps_the_best(tmp_path):
    from ganzoo import data, metrics

    gan = compiled_gan("dcgan")
    monitor = FrechetDistanceMonitor("digits", every=1, n=50)
    log = MetricsLog(tmp_path / "m.csv")
    seen = EpochWeights()
    history = gan.fit(images_dataset(2), epochs=3, verbose=0, shuffle=False, callbacks=[monitor, log, seen])

    assert [epoch for epoch, _ in monitor.history] == [1, 2, 3]
    np.testing.assert_allclose(history.history["fd"], [fd for _, fd in monitor.history])
    # The logged value is the FD of 50 generated images against the first 50 test images.
    extractor = metrics.classifier_feature_extractor("digits")
    real, _ = data.load_arrays("digits", split="test")
    fake = generate_images(gan.generator, 50, seed=0)
    expected = metrics.frechet_distance(extractor(real[:50])[0], extractor(fake)[0])
    np.testing.assert_allclose(monitor.history[-1][1], expected, rtol=1e-4)
    best_epoch = 1 + int(np.argmin([fd for _, fd in monitor.history]))
    assert monitor.best_epoch == best_epoch and monitor.best_fd == min(fd for _, fd in monitor.history)
    # The kept weights are the generator's at the end of the best epoch, and they give the best FD.
    for kept, then in zip(monitor.best_weights, seen.weights[best_epoch - 1], strict=True):
        np.testing.assert_array_equal(kept, then)
    gan.generator.set_weights(monitor.best_weights)
    again = metrics.frechet_distance(extractor(real[:50])[0], extractor(generate_images(gan.generator, 50, seed=0))[0])
    np.testing.assert_allclose(again, monitor.best_fd, rtol=1e-4)
    with open(tmp_path / "m.csv", newline="") as f:
        assert "fd" in next(csv.DictReader(f))


def test_fd_monitor_refuses_a_generator_of_the_wrong_size():
    gan = compiled_gan("dcgan")
    monitor = FrechetDistanceMonitor("fashion_mnist")
    monitor.set_model(gan)
    with pytest.raises(ValueError, match="shape"):
        monitor.on_train_begin()


def test_sample_grid_skips_nan_samples_with_a_warning(tmp_path):
    gan = compiled_gan("dcgan")
    gan.generator.set_weights([np.full_like(w, np.nan) for w in gan.generator.get_weights()])
    grid = SampleGrid(tmp_path, n=4)
    grid.set_model(gan)
    with pytest.warns(RuntimeWarning, match="epoch 1"):
        assert grid.save(0) is None
    assert os.listdir(tmp_path) == []
