"""`ganzoo evaluate`: figures against independent recomputation and a real-data scale."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import scipy.linalg

from ganzoo import data
from ganzoo.client import presets
from ganzoo.training import generators
from ganzoo.cli import main
from ganzoo.runs.evaluation import evaluate_generator, format_table, real_baseline
from ganzoo.metrics import classifier_feature_extractor
from ganzoo.models import dcgan_generator
from ganzoo.training.sampling import generate_images


@pytest.fixture(scope="module")
def extractor():
    return classifier_feature_extractor("digits")


def _fd_reference(a, b):
    """FID formula in float64 with scipy's sqrtm, written independently."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_fd_matches_independent_recomputation(extractor):
    generator = generators.load_generator("cgan_digits")
    n = 500
    figures = evaluate_generator(generator, "digits", n=n, seed=3, verbose=False, extractor=extractor)

    labels = (np.arange(n) % 10).astype("int32")
    fake_features, probabilities = extractor(generate_images(generator, n, labels=labels, seed=3))
    real_features, _ = extractor(data.load_arrays("digits", split="test")[0])
    np.testing.assert_allclose(figures["fd"], _fd_reference(real_features, fake_features), rtol=1e-3)
    accuracy = np.mean(np.argmax(probabilities, axis=1) == labels)
    assert figures["label_accuracy"] == pytest.approx(accuracy)
    assert figures["n_fake"] == n and figures["n_real"] == 360


def test_trained_generator_beats_untrained_and_baseline_beats_both(extractor):
    trained = evaluate_generator(
        generators.load_generator("dcgan_digits"), "digits", n=400, verbose=False, extractor=extractor
    )
    untrained = evaluate_generator(
        dcgan_generator((16, 16, 1), 64, filters=32), "digits", n=400, verbose=False, extractor=extractor
    )
    baseline = real_baseline("digits", n=400, verbose=False, extractor=extractor)
    assert baseline["fd"] < trained["fd"] < untrained["fd"]
    assert "label_accuracy" not in trained
    assert baseline["label_accuracy"] > 0.95  # the classifier on real train digits
    table = format_table({"a": trained, "b": baseline})
    assert table.splitlines()[0].startswith("| | fd | kid")


def test_shape_mismatch_is_a_clear_error(extractor):
    with pytest.raises(ValueError, match="digits"):
        evaluate_generator(
            dcgan_generator((28, 28, 1), 8, filters=8), "digits", n=20, verbose=False, extractor=extractor
        )
    with pytest.raises(ValueError, match="n="):
        evaluate_generator(generators.load_generator("dcgan_digits"), "digits", n=3, verbose=False, extractor=extractor)


def test_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "lsgan_digits", "-n", "200", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dataset"] == "digits"
    assert set(result["figures"]) >= {"fd", "kid", "precision", "recall", "class_entropy"}
    assert result["baseline"]["fd"] < result["figures"]["fd"]
    assert "real data (train vs test, digits)" in capsys.readouterr().out


def test_cli_path_needs_a_dataset(tmp_path, capsys):
    path = tmp_path / "g.keras"
    dcgan_generator((16, 16, 1), 8, filters=8).save(path)
    assert main(["evaluate", str(path), "-n", "50"]) == 2
    assert "--dataset" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["cgan_fashion_mnist", "dcgan_fashion_mnist", "lsgan_fashion_mnist", "wgan_gp_fashion_mnist"]
)
def test_fashion_presets_meet_the_quality_floors(name):
    """Re-measured on fresh samples with the project's Fashion-MNIST classifier (92.5 % test accuracy).

    Floors: cGAN label accuracy >= 0.80; every preset's normalised class-histogram
    entropy >= 0.90 (no mode collapse). The stored figures must meet them too.
    """
    generator = generators.load_generator(name)
    n = 2000
    labels = (np.arange(n) % 10).astype("int32") if name.startswith("cgan_") else None
    _, probabilities = classifier_feature_extractor("fashion_mnist")(
        generate_images(generator, n, labels=labels, seed=11)
    )
    predicted = np.argmax(probabilities, axis=1)
    histogram = np.bincount(predicted, minlength=10) / n
    entropy = -np.sum(histogram[histogram > 0] * np.log(histogram[histogram > 0])) / np.log(10)
    assert entropy >= 0.90
    stored = presets.load_config(name)["quality"]
    assert stored["class_entropy"] >= 0.90
    if labels is not None:
        assert np.mean(predicted == labels) >= 0.80
        assert stored["label_accuracy"] >= 0.80
