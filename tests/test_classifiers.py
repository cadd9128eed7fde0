"""Shipped domain classifiers and the feature extractor."""

import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from ganzoo import data
from ganzoo.metrics import classifiers
from ganzoo.metrics import train_classifiers
from ganzoo.metrics.features import FeatureExtractor
from ganzoo.metrics.features import classifier_feature_extractor

DATASETS = classifiers.CLASSIFIER_DATASETS
# The figures the issue asks for; the recorded ones must also be re-measured.
MIN_TEST_ACCURACY = {"digits": 0.97, "fashion_mnist": 0.90}


@pytest.fixture(scope="module")
def extractors():
    return {name: classifier_feature_extractor(name) for name in DATASETS}


@pytest.mark.parametrize("dataset", DATASETS)
def test_shipped_weights_are_recorded_small_and_load(dataset, extractors):
    record = classifiers.classifier_record(dataset)
    path = os.path.join(classifiers.WEIGHTS_DIR, record["weights"])
    assert os.path.getsize(path) == record["size_bytes"] < 1.5 * 2**20
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == record["sha256"]
    assert record["test_accuracy"] >= MIN_TEST_ACCURACY[dataset]
    assert record["command"].startswith("python -m ganzoo.metrics.train_classifiers")
    model = extractors[dataset].model
    assert tuple(model.input_shape[1:]) == data.image_shape(dataset)
    assert [tuple(s[1:]) for s in model.output_shape] == [(record["feature_dim"],), (10,)]


@pytest.mark.parametrize("dataset, count, min_accuracy", [("digits", 360, 0.95), ("fashion_mnist", 500, 0.85)])
def test_classifier_gets_most_test_images_right(dataset, count, min_accuracy, extractors):
    images, labels = data.load_arrays(dataset, split="test")
    features, probabilities = extractors[dataset](images[:count])
    assert features.shape == (count, 128) and probabilities.shape == (count, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = np.mean(np.argmax(probabilities, axis=1) == labels[:count])
    assert accuracy >= min_accuracy


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_recorded_test_accuracy_is_reproduced(dataset):
    record = classifiers.classifier_record(dataset)
    images, labels = data.load_arrays(dataset, split="test")
    assert len(labels) == record["num_test"]
    model = classifiers.load_classifier(dataset)
    accuracy, _ = train_classifiers.evaluate_accuracy(model, images, labels)
    assert abs(accuracy - record["test_accuracy"]) <= 0.002
    assert accuracy >= MIN_TEST_ACCURACY[dataset]


def test_extractor_is_batch_size_invariant_and_checks_inputs(extractors):
    images, _ = data.load_arrays("digits", split="test")
    images = images[:50]
    features, probabilities = extractors["digits"](images)
    small_batches = FeatureExtractor(extractors["digits"].model, batch_size=7)
    features_7, probabilities_7 = small_batches(images, verbose=True)
    np.testing.assert_allclose(features_7, features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(probabilities_7, probabilities, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="scaled to \\[-1, 1\\]"):
        extractors["digits"]((images + 1) * 127.5)
    with pytest.raises(ValueError, match="16, 16, 1"):
        extractors["digits"](np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match="num_images, height"):
        extractors["digits"](images[0])
    with pytest.raises(ValueError, match="batch_size"):
        FeatureExtractor(extractors["digits"].model, batch_size=0)


def test_load_classifier_checks_sha256_and_names(tmp_path):
    for name in ("digits.weights.h5", classifiers.RECORD_FILE):
        shutil.copy(os.path.join(classifiers.WEIGHTS_DIR, name), tmp_path / name)
    classifiers.load_classifier("digits", weights_dir=str(tmp_path))
    records = json.loads((tmp_path / classifiers.RECORD_FILE).read_text())
    records["digits"]["sha256"] = "0" * 64
    (tmp_path / classifiers.RECORD_FILE).write_text(json.dumps(records))
    with pytest.raises(ValueError, match="sha256"):
        classifiers.load_classifier("digits", weights_dir=str(tmp_path))
    with pytest.raises(ValueError, match="digits, fashion_mnist"):
        classifiers.load_classifier("cifar10")
    with pytest.raises(ValueError, match="image_shape"):
        classifiers.build_classifier((16, 16))


def test_train_script_writes_loadable_weights_and_record(tmp_path):
    train_classifiers.main(["--datasets", "digits", "--epochs", "1", "--weights-dir", str(tmp_path)])
    record = classifiers.classifier_record("digits", weights_dir=str(tmp_path))
    assert record["epochs"] == 1 and record["num_test"] == 360
    assert record["command"] == (
        f"python -m ganzoo.metrics.train_classifiers --datasets digits --epochs 1 --weights-dir {tmp_path}"
    )
    model = classifiers.load_classifier("digits", weights_dir=str(tmp_path))
    images, labels = data.load_arrays("digits", split="test")
    accuracy, correct = train_classifiers.evaluate_accuracy(model, images, labels)
    assert accuracy == record["test_accuracy"] and correct == record["num_test_correct"]
