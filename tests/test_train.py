"""Tests for ganzoo.runs.run: a preset config -> a run folder."""

import csv
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from ganzoo.runs import run as train_module  # noqa: E402
from ganzoo.training.config import default_config, validate_config  # noqa: E402
from ganzoo.models import describe_generator  # noqa: E402
from ganzoo.runs import checkpoint, run_folder  # noqa: E402
from ganzoo.runs.run import resume, train  # noqa: E402
from ganzoo.runs.run_phases import Run  # noqa: E402


def tiny_config(variant="dcgan", **kwargs):
    return default_config(variant, latent_dim=8, filters=8, batch_size=64, **kwargs)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return train(tiny_config(epochs=2), out, verbose=0, export_onnx=False, fd_every=2)


def _load(path):
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def test_run_folder_holds_every_artefact(run):
    out = run["out_dir"]
    assert sorted(os.listdir(os.path.join(out, "samples"))) == ["epoch_001.png", "epoch_002.png"]
    with Image.open(os.path.join(out, "samples", "epoch_002.png")) as png:
        assert png.size == (8 * 66 + 2, 8 * 66 + 2)
    for name in ("metrics.csv", "metrics.png", "generator.keras", "generator_best.keras", "config.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    assert run["nan_guard"] is None
    assert keras.config.dtype_policy().name == "float32"


def test_metrics_csv_has_one_row_per_epoch_with_fd(run):
    with open(os.path.join(run["out_dir"], "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    np.testing.assert_allclose([float(r["g_loss"]) for r in rows], run["history"]["g_loss"], rtol=1e-6)
    assert rows[0]["fd"] == "" and float(rows[1]["fd"]) > 0  # fd_every=2


def test_saved_generator_loads_safely_and_config_json_is_a_preset(run):
    out = run["out_dir"]
    generator = _load(os.path.join(out, "generator.keras"))
    assert describe_generator(generator) == {"latent_dim": 8, "num_classes": None, "image_shape": (16, 16, 1)}
    config = json.load(open(os.path.join(out, "config.json")))
    validate_config(config)
    assert config["recipe"]["epochs"] == 2
    with open(os.path.join(out, "generator.keras"), "rb") as f:
        data = f.read()
    assert config["weights"] == {
        "file": "generator.keras",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
    }
    assert config["training"]["seconds"] > 0 and config["training"]["ganzoo_version"]
    assert config["quality"] is None
    best = _load(os.path.join(out, "generator_best.keras"))
    assert [w.shape for w in best.get_weights()] == [w.shape for w in generator.get_weights()]


@pytest.mark.slow
def test_training_is_reproducible_from_the_seed(run, tmp_path):
    again = train(tiny_config(epochs=1), tmp_path, verbose=0, export_onnx=False, fd_every=0)
    np.testing.assert_allclose(again["history"]["d_loss"][0], run["history"]["d_loss"][0], rtol=1e-5)
    with (
        Image.open(tmp_path / "samples" / "epoch_001.png") as a,
        Image.open(os.path.join(run["out_dir"], "samples", "epoch_001.png")) as b,
    ):
        assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max() <= 1
    assert not os.path.exists(tmp_path / "generator_best.keras")  # fd_every=0: no FD


@pytest.mark.slow
def test_mixed_precision_saves_a_float32_generator_and_restores_the_policy(tmp_path):
    config = tiny_config("cgan", epochs=1, ema_decay=0.9)
    result = train(config, tmp_path, verbose=0, export_onnx=False, fd_every=0, precision="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    generator = _load(tmp_path / "generator.keras")
    assert {
        layer.dtype_policy.name for layer in generator.layers if not isinstance(layer, keras.layers.InputLayer)
    } == {"float32"}
    assert describe_generator(generator)["num_classes"] == 10
    assert result["config"]["recipe"]["ema_decay"] == 0.9


def test_an_ema_longer_than_the_run_is_named(tmp_path):
    """decay 0.999 averages over ~1000 steps; one digits epoch has 22: the EMA would be mostly the initial weights."""
    with pytest.warns(
        UserWarning,
        match=r"ema_decay=0.999 averages over about 1000 generator steps, but the run has "
        r"22: the saved EMA generator keeps 98% of the untrained weights",
    ):
        train(tiny_config("dcgan", epochs=1, ema_decay=0.999), tmp_path, verbose=0, export_onnx=False, fd_every=0)


def test_bad_arguments_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="precision"):
        train(tiny_config(), tmp_path, precision="float16")
    with pytest.raises(ValueError, match="epochs"):
        train(tiny_config(), tmp_path, epochs=0)
    config = tiny_config()
    config["recipe"]["lr"] = 1
    with pytest.raises(ValueError, match=r"recipe\.lr"):
        train(config, tmp_path)
    assert keras.config.dtype_policy().name == "float32"


def test_export_is_skipped_with_a_warning_without_the_exporter(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "ganzoo.export.onnx_export", raising=False)
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    with pytest.warns(UserWarning, match="ONNX export skipped"):
        assert train_module._export(object(), str(tmp_path / "g.onnx")) is None


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["lsgan", "wgan_gp"])
def test_other_variants_train_with_xla(variant, tmp_path):
    result = train(tiny_config(variant, epochs=1), tmp_path, verbose=0, export_onnx=False, fd_every=0, jit=True)
    assert all(np.isfinite(v[0]) for v in result["history"].values())
    assert (tmp_path / "generator.keras").is_file()


def test_nan_run_stops_and_saves_the_last_good_generator(monkeypatch, tmp_path):
    import tensorflow as tf

    def poisoned_load(name, *, batch_size, **kwargs):
        images = np.random.default_rng(0).uniform(-1, 1, (4 * batch_size, 16, 16, 1)).astype("float32")
        images[2 * batch_size : 3 * batch_size] = np.nan  # the 3rd batch of every epoch
        return tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True).repeat(), 4

    monkeypatch.setattr(train_module.data, "load_epochs", poisoned_load)
    # NaN pixels are refused where data enters fit; without that check they stand for a numerical fault.
    monkeypatch.setattr("ganzoo.training.inputs._check_dataset", lambda dataset, *args: dataset)
    with pytest.warns(RuntimeWarning, match=r"NaNGuard: d_loss is nan at epoch 1, batch 3"):
        result = train(tiny_config(epochs=3), tmp_path, verbose=0, export_onnx=False, fd_every=0)
    assert result["nan_guard"]["epoch"] == 1 and result["nan_guard"]["metric"] == "d_loss"
    assert len(result["history"]["d_loss"]) == 1
    generator = _load(tmp_path / "generator.keras")
    assert all(np.all(np.isfinite(w)) for w in generator.get_weights())
    assert os.listdir(tmp_path / "samples") == ["epoch_001.png"]  # drawn from the restored generator


def test_an_image_size_the_networks_do_not_fit_is_named(tmp_path):
    config = tiny_config()
    config["recipe"]["image_size"] = 28  # the networks are 16x16
    # The preset schema names it before anything is built: the networks' arguments say 16x16.
    with pytest.raises(
        ValueError,
        match=r"recipe\.image_size to be the networks' image side \(\[16, 16\]\)\. "
        r"Received: recipe\.image_size=28",
    ):
        train(config, tmp_path, verbose=0, export_onnx=False)


# -- a run in phases (issue 20, item 5) --

QUIET = {"verbose": 0, "export_onnx": False, "fd_every": 0}


class FailAtEpoch(keras.callbacks.Callback):
    """Fails (an error, not Ctrl-C) as (1-based) epoch `epoch` begins, inside `model.fit`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise RuntimeError(f"failed in epoch {self.epoch}")


def _listing(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_the_phases_of_a_run_are_called_in_order(tmp_path, monkeypatch):
    called = []
    phases = ["prepare", "build", "restore", "fit", "save_generators", "close", "write_preset", "finish"]
    for name in phases:

        def spy(self, *args, _phase=getattr(Run, name), _name=name, **kwargs):
            called.append(_name)
            return _phase(self, *args, **kwargs)

        monkeypatch.setattr(Run, name, spy)
    result = train(tiny_config(epochs=1), tmp_path / "run", **QUIET)
    assert called == phases
    assert result["resumed_from"] == 0 and len(result["history"]["d_loss"]) == 1


def test_a_failure_in_fit_before_a_checkpoint_leaves_the_folder_as_it_was(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    before = _listing(tmp_path)
    with pytest.raises(RuntimeError, match="failed in epoch 1"):
        train(tiny_config(epochs=2), tmp_path, callbacks=[FailAtEpoch(1)], precision="mixed_bfloat16", **QUIET)
    assert _listing(tmp_path) == before  # no run.json, no samples/, no .lock: a corrected run may use the folder
    assert keras.config.dtype_policy().name == "float32"  # the precision ended with the run
    run_folder.check_free(tmp_path)  # the lock is released


def test_a_failure_in_fit_after_a_checkpoint_keeps_the_run_to_resume(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="failed in epoch 2"):
        train(tiny_config(epochs=2), out, callbacks=[FailAtEpoch(2)], **QUIET)
    assert (out / "run.json").is_file() and not (out / "generator.keras").exists()
    assert checkpoint.latest(out) == (1, out / "checkpoints" / "epoch_0001")
    assert ".lock" not in os.listdir(out) and keras.config.dtype_policy().name == "float32"
    result = resume(out, verbose=0)
    assert result["resumed_from"] == 1 and (out / "generator.keras").is_file()
