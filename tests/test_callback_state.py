"""The callback state protocol: `get_state`/`set_state`, saved by `RunCheckpoint` and given back by `restore`.

Any callback with both methods resumes, a user's own plain Keras callback
included; each ganzoo callback's state round-trips through a checkpoint's
JSON and arrays into a fresh instance.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo import data  # noqa: E402
from ganzoo.runs import checkpoint  # noqa: E402
from ganzoo.training.callbacks import FrechetDistanceMonitor, GeneratorEMA, MetricsLog, NaNGuard, SampleGrid  # noqa: E402
from ganzoo.training.callbacks import state as callback_state  # noqa: E402
from helpers import compiled_gan  # noqa: E402

BATCH = 8


class BatchCounter(keras.callbacks.Callback):
    """A user's own callback, not from ganzoo: it counts the train batches across runs."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def get_state(self):
        return {"batches": self.batches}

    def set_state(self, state):
        self.batches = state["batches"]


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise RuntimeError("simulated crash after epoch 1")


def digits(n=4 * BATCH):
    images, _ = data.load_arrays("digits", split="test", image_size=(16, 16))
    return images[:n]


def through_a_checkpoint(name, state):
    """`state` as `restore` gives it back: its JSON part through text, its arrays apart."""
    arrays = {}
    encoded = json.loads(json.dumps(callback_state.encode(name, state, arrays)))
    return callback_state.decode(encoded, arrays)


def test_a_user_callback_and_the_ema_resume_from_a_run_checkpoint(tmp_path):
    x = digits()
    reference, reference_ema = BatchCounter(), GeneratorEMA(0.9)
    compiled_gan("dcgan").fit(
        x, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[reference, reference_ema]
    )
    assert reference.batches == 8

    counter, ema = BatchCounter(), GeneratorEMA(0.9)
    saver = checkpoint.RunCheckpoint(tmp_path, callbacks=[counter, ema])
    with pytest.raises(RuntimeError, match="simulated"):
        compiled_gan("dcgan").fit(
            x, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[counter, ema, saver, Crash()]
        )
    assert sorted(saver.stateful) == ["BatchCounter", "GeneratorEMA"]

    resumed, resumed_ema = BatchCounter(), GeneratorEMA(0.9)
    gan = compiled_gan("dcgan")
    epochs_done, folder, _ = checkpoint.find(tmp_path)
    assert checkpoint.restore(folder, gan, callbacks=[resumed, resumed_ema]) == 1
    assert resumed.batches == 4  # the user's callback got its state back before fit
    saver = checkpoint.RunCheckpoint(tmp_path, callbacks=[resumed, resumed_ema])
    gan.fit(
        x,
        batch_size=BATCH,
        epochs=2,
        initial_epoch=epochs_done,
        shuffle=False,
        verbose=0,
        callbacks=[resumed, resumed_ema, saver],
    )
    assert resumed.batches == reference.batches
    for a, b in zip(reference_ema.ema_generator.get_weights(), resumed_ema.ema_generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    saved = json.loads((checkpoint.find(tmp_path)[1] / "state.json").read_text())
    assert saved["callbacks"]["BatchCounter"] == {"batches": 8}


def test_every_ganzoo_callback_round_trips_its_state_into_a_fresh_one(tmp_path):
    gan = compiled_gan("dcgan")
    ema = GeneratorEMA(0.5)
    monitor = FrechetDistanceMonitor("digits", every=1, n=20, ema=ema)
    grid = SampleGrid(tmp_path / "samples", n=4, ema=ema)
    log = MetricsLog(tmp_path / "metrics.csv")
    gan.fit(
        digits(2 * BATCH), batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[ema, monitor, grid, log]
    )
    assert len(monitor.history) == 2 and len(grid.paths) == 2 and len(log.rows) == 2

    fresh = {
        "GeneratorEMA": GeneratorEMA(0.5),
        "FrechetDistanceMonitor": FrechetDistanceMonitor("digits", every=1, n=20),
        "SampleGrid": SampleGrid(tmp_path / "samples", n=4),
        "MetricsLog": MetricsLog(tmp_path / "metrics.csv"),
    }
    for trained in (ema, monitor, grid, log):
        name = type(trained).__name__
        state = trained.get_state()
        fresh[name].set_state(through_a_checkpoint(name, state))
        np.testing.assert_equal(fresh[name].get_state(), state)
    np.testing.assert_equal(fresh["SampleGrid"].paths, grid.paths)
    np.testing.assert_equal(fresh["FrechetDistanceMonitor"].history, monitor.history)
    np.testing.assert_equal(fresh["FrechetDistanceMonitor"].best_weights, monitor.best_weights)
    np.testing.assert_equal(fresh["MetricsLog"].rows, log.rows)
    # The averaged weights go into a clone of the model's generator when training starts.
    restored = fresh["GeneratorEMA"]
    restored.set_model(gan)
    restored.on_train_begin()
    for a, b in zip(restored.ema_generator.get_weights(), ema.ema_generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert restored.ema_generator is not ema.ema_generator and restored.skipped_batches == ema.skipped_batches


def test_callbacks_are_named_by_class_and_order():
    first, second, ema = BatchCounter(), BatchCounter(), GeneratorEMA()
    named = callback_state.stateful([None, first, NaNGuard(), ema, second, first])
    assert named == {"BatchCounter": first, "GeneratorEMA": ema, "BatchCounter#2": second}


def test_a_state_that_is_not_json_and_arrays_is_named():
    with pytest.raises(TypeError, match="get_state\\(\\) of callback Mine to return JSON values"):
        callback_state.encode("Mine", {"when": object()}, {})
    with pytest.raises(TypeError, match="callback Mine to return a dict"):
        callback_state.encode("Mine", [1, 2], {})


def test_a_checkpoint_written_before_the_protocol_still_restores(tmp_path):
    gan = compiled_gan("dcgan")
    folder = tmp_path / "checkpoints" / "epoch_0001"
    folder.mkdir(parents=True)
    gan.save_weights(folder / "model.weights.h5")
    weights = gan.generator.get_weights()
    arrays = {f"ema_{i:04d}": w + 1 for i, w in enumerate(weights)}
    arrays.update({f"fd_best_{i:04d}": w + 2 for i, w in enumerate(weights)})
    np.savez(folder / "arrays.npz", **arrays)
    row = {"epoch": 1, "d_loss": 0.5, "fd": 7.0, "epoch_seconds": 1.0}
    legacy = {
        "epochs_done": 1,
        "ema_skipped_batches": 2,
        "fd": {"history": [[1, 7.0]], "best_fd": 7.0, "best_epoch": 1},
        "metrics_rows": [row],
        "sample_paths": ["samples/epoch_001.png"],
    }
    (folder / "state.json").write_text(json.dumps(legacy))

    ema, monitor = GeneratorEMA(), FrechetDistanceMonitor("digits")
    grid, log = SampleGrid(tmp_path / "samples"), MetricsLog(tmp_path / "metrics.csv")
    assert checkpoint.restore(folder, gan, ema=ema, fd_monitor=monitor, metrics_log=log, sample_grid=grid) == 1
    assert ema.skipped_batches == 2
    np.testing.assert_equal(ema.get_state()["weights"], [w + 1 for w in weights])
    np.testing.assert_equal(monitor.best_weights, [w + 2 for w in weights])
    assert monitor.history == [(1, 7.0)] and monitor.best_fd == 7.0 and monitor.best_epoch == 1
    assert log.rows == [row]
    assert grid.paths == [os.path.join(tmp_path, "samples", "epoch_001.png")]


def test_a_state_a_callback_refuses_is_named_with_the_file(tmp_path):
    gan = compiled_gan("dcgan")
    counter = BatchCounter()
    saver = checkpoint.RunCheckpoint(tmp_path, callbacks=[counter])
    saver.set_model(gan)
    saver.write(1)
    folder = checkpoint.find(tmp_path)[1]

    class Refusing(BatchCounter):
        def set_state(self, state):
            self.batches = state["total"]  # not what was saved

    Refusing.__name__ = "BatchCounter"
    with pytest.raises(ValueError, match=r"state\.json to hold a state that callback BatchCounter takes"):
        checkpoint.restore(folder, gan, callbacks=[Refusing()])
    # No state saved under a callback's name: it is left as it is.
    untouched = SampleGrid(tmp_path / "samples")
    checkpoint.restore(folder, gan, callbacks=[untouched])
    assert untouched.paths == []


class Interrupt(keras.callbacks.Callback):
    """Ctrl-C as epoch 2 begins, after the checkpoint of epoch 1."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_a_user_callback_resumes_with_train_and_resume(tmp_path):
    from ganzoo.runs.run import resume, train
    from ganzoo.training.config import default_config

    config = default_config("dcgan", epochs=2, latent_dim=4, filters=4, batch_size=256)
    counter = BatchCounter()
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, verbose=0, export_onnx=False, fd_every=0, callbacks=[counter, Interrupt()])
    per_epoch = counter.batches
    resumed = BatchCounter()
    resume(tmp_path, verbose=0, callbacks=[resumed])
    assert resumed.batches == 2 * per_epoch
