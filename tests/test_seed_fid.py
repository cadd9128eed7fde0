"""`scripts/seed_fid.py`: the Inception FID of a preset over seeds, as mean ± sample std."""

import json

import numpy as np
import pytest

from helpers import load_script

PROTOCOL = {"protocol": "ganzoo-fid-v1", "n_fake": 10000, "n_real": 10000, "reference": "fashion_mnist test split"}


def preset(fid=25.0):
    return {"recipe": {"seed": 0}, "quality": {"fd": 70.0, "inception": {"fid": fid, **PROTOCOL, "baseline": None}}}


def evaluation(seed, fid, **changes):
    return {"features": "inception", "seed": seed, "figures": {"fid": fid, **PROTOCOL, **changes}}


def test_spread_is_the_mean_and_sample_std():
    script = load_script("seed_fid")
    rows = script.seed_figures(preset(25.06), [evaluation(1, 27.5), evaluation(2, 24.0)])
    result = script.spread(rows)
    assert result["seeds"] == [0, 1, 2]
    fids = [25.06, 27.5, 24.0]
    assert result["mean"] == pytest.approx(sum(fids) / 3, rel=1e-12)
    sample_var = sum((f - sum(fids) / 3) ** 2 for f in fids) / 2  # ddof=1, written out
    assert result["std"] == pytest.approx(np.sqrt(sample_var), rel=1e-12)


@pytest.mark.parametrize("key, value", [("n_fake", 2000), ("protocol", "other"), ("reference", "train split")])
def test_figures_of_another_protocol_are_refused(key, value):
    with pytest.raises(ValueError, match=f"Expected {key}=.*for seed 1"):
        load_script("seed_fid").seed_figures(preset(), [evaluation(1, 20.0, **{key: value})])


def test_two_figures_for_one_seed_are_refused():
    with pytest.raises(ValueError, match=r"one figure per seed. Received seeds \[0, 1, 1\]"):
        load_script("seed_fid").seed_figures(preset(), [evaluation(1, 20.0), evaluation(1, 21.0)])


def test_classifier_figures_are_refused():
    with pytest.raises(ValueError, match="Expected Inception figures"):
        load_script("seed_fid").seed_figures(preset(), [{**evaluation(1, 20.0), "features": None}])


def test_read_evaluation_takes_the_seed_from_the_run(tmp_path):
    run = tmp_path / "run_s2"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"recipe": {"seed": 2}}))
    path = tmp_path / "fid.json"
    path.write_text(json.dumps({"model": str(run), "features": "inception", "figures": {"fid": 1.0, **PROTOCOL}}))
    assert load_script("seed_fid").read_evaluation(path)["seed"] == 2
