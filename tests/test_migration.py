"""Tests for `ganzoo migrate`: ganzoo 0.1 presets and run folders (Keras graphs) -> builder entries.

`tests/data/cgan_digits_v0_1.json` is the shipped `cgan_digits` preset as ganzoo 0.1 wrote it; its weights
file is the unchanged `zoo_configs/cgan_digits.keras`.
"""

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.client import presets  # noqa: E402
from ganzoo.training import generators
from ganzoo.cli import main  # noqa: E402
from ganzoo.training.config import validate_config  # noqa: E402
from ganzoo.runs.migration import upgrade_config  # noqa: E402
from ganzoo.training.sampling import generate_images  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
ZOO = Path(__file__).resolve().parents[1] / "zoo_configs"
OLD = json.loads((DATA / "cgan_digits_v0_1.json").read_text())


def test_an_old_preset_upgrades_to_the_shipped_entries():
    with pytest.raises(ValueError, match="ganzoo migrate"):
        validate_config(json.loads(json.dumps(OLD)))
    upgraded = upgrade_config(OLD, source="old")
    shipped = presets.read_preset("cgan_digits")
    assert upgraded["generator"] == shipped["generator"] and upgraded["discriminator"] == shipped["discriminator"]
    assert upgraded["gan"]["fake_label_smoothing"] == 0.0
    assert "class_name" in OLD["generator"]  # the input is not modified


def test_an_old_run_folder_is_upgraded_and_then_publishes(tmp_path, capsys):
    run = tmp_path / "old_run"
    run.mkdir()
    shutil.copy(ZOO / "cgan_digits.keras", run / "generator.keras")
    config = {**OLD, "weights": {**OLD["weights"], "file": "generator.keras"}, "onnx": None}
    (run / "config.json").write_text(json.dumps(config))
    settings = {"precision": "float32", "jit": False, "fd_every": 0, "export_onnx": False, "command": "ganzoo train"}
    (run / "run.json").write_text(json.dumps({"config": OLD, "settings": settings}))
    assert main(["publish", str(run), "--name", "team_cgan", "--hub", str(tmp_path / "hub")]) == 2
    assert "ganzoo migrate" in capsys.readouterr().err
    assert main(["migrate", str(run)]) == 0
    assert "upgraded" in capsys.readouterr().out
    for name in ("config.json", "run.json"):
        payload = json.loads((run / name).read_text())
        upgraded = payload["config"] if name == "run.json" else payload
        assert upgraded["generator"]["builder"] == "dcgan_generator"
    assert main(["migrate", str(run)]) == 0
    assert "already current" in capsys.readouterr().out
    assert main(["publish", str(run), "--name", "team_cgan", "--hub", str(tmp_path / "hub")]) == 0
    ours = generate_images(
        generators.load_generator("team_cgan", hub=tmp_path / "hub"), 10, labels=list(range(10)), seed=3
    )
    shipped = generate_images(generators.load_generator("cgan_digits"), 10, labels=list(range(10)), seed=3)
    np.testing.assert_array_equal(ours, shipped)


def test_a_graph_the_builders_do_not_make_is_not_upgraded(tmp_path, capsys):
    tampered = json.loads(json.dumps(OLD))
    dense = next(layer for layer in tampered["generator"]["config"]["layers"] if layer["class_name"] == "Dense")
    dense["config"]["activation"] = "relu"
    with pytest.raises(ValueError, match="what dcgan_generator builds"):
        upgrade_config(tampered)
    path = tmp_path / "preset.json"
    path.write_text(json.dumps(tampered))
    assert main(["migrate", str(path)]) == 2
    assert "cannot be upgraded" in capsys.readouterr().err
    assert json.loads(path.read_text()) == tampered  # left as it was
    assert main(["migrate", str(tmp_path / "nothing")]) == 2
