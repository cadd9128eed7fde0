"""Trains the domain classifiers and writes the shipped weights.

Run `python -m ganzoo.metrics.train_classifiers` (both datasets) or add
`--datasets fashion_mnist`. Weights go to `ganzoo/metrics/weights/` with a
`classifiers.json` entry per dataset: sha256, test accuracy on the test
split and the command line. Training is seeded, but bit-exact results
depend on the machine and library versions; the shipped figures are those
measured on the shipped weights.
"""

import argparse
import json
import os
import shlex
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from ganzoo import data
from ganzoo.client.files import sha256_file
from ganzoo.metrics import classifiers

# Per-dataset training settings (flags override epochs and seed only).
TRAIN_SETTINGS = {
    "digits": {"epochs": 40, "batch_size": 32, "learning_rate": 1e-3},
    "fashion_mnist": {"epochs": 12, "batch_size": 128, "learning_rate": 1e-3},
}


def evaluate_accuracy(model, images, labels, *, batch_size=256):
    """Returns `(accuracy, num_correct)` of a classifier on a labelled set."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    correct = int(np.sum(np.argmax(probabilities, axis=1) == labels))
    return correct / len(labels), correct


def train_classifier(dataset, *, epochs=None, seed=0, data_dir=None, verbose=2):
    """Trains one dataset's classifier on its train split.

    Args:
        dataset: one of `classifiers.CLASSIFIER_DATASETS`.
        epochs: number of epochs; `None` for `TRAIN_SETTINGS[dataset]`.
        seed: seed for weights initialisation, dropout and shuffling.
        data_dir: passed to `ganzoo.data.load_arrays` (fashion_mnist only).
        verbose: `keras.Model.fit` verbosity.

    Returns:
        A tuple `(model, facts)`: the trained `keras.Model` and a dict of
        training facts (settings, seconds, test accuracy).
    """
    settings = dict(TRAIN_SETTINGS[dataset])
    if epochs is not None:
        settings["epochs"] = epochs
    keras.utils.set_random_seed(seed)
    kwargs = {"data_dir": data_dir} if data_dir is not None and dataset == "fashion_mnist" else {}
    x_train, y_train = data.load_arrays(dataset, split="train", **kwargs)
    x_test, y_test = data.load_arrays(dataset, split="test", **kwargs)

    model = classifiers.build_dataset_classifier(dataset)
    model.compile(
        optimizer=keras.optimizers.Adam(settings["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        x_train, y_train, batch_size=settings["batch_size"], epochs=settings["epochs"], shuffle=True, verbose=verbose
    )
    seconds = time.perf_counter() - start
    accuracy, correct = evaluate_accuracy(model, x_test, y_test)
    facts = {
        **settings,
        "seed": seed,
        "num_train": int(len(y_train)),
        "num_test": int(len(y_test)),
        "num_test_correct": correct,
        "test_accuracy": accuracy,
        "train_seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
    }
    return model, facts


def save_classifier(model, dataset, facts, *, weights_dir, command):
    """Saves weights and merges the dataset's entry into `classifiers.json`."""
    os.makedirs(weights_dir, exist_ok=True)
    filename = classifiers.weights_filename(dataset)
    path = os.path.join(weights_dir, filename)
    # A fresh, uncompiled copy: save_weights would also store the Adam
    # moments (3x the size), which inference never needs.
    inference_model = classifiers.build_dataset_classifier(dataset)
    inference_model.set_weights(model.get_weights())
    inference_model.save_weights(path)
    config = classifiers.CLASSIFIER_CONFIGS[dataset]
    record = {
        "weights": filename,
        "sha256": sha256_file(path),
        "size_bytes": os.path.getsize(path),
        "image_shape": list(config["image_shape"]),
        "num_classes": config["num_classes"],
        "feature_layer": classifiers.FEATURE_LAYER,
        "feature_dim": config["feature_dim"],
        **facts,
        "split": "test",
        "command": command,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
    }
    record_path = os.path.join(weights_dir, classifiers.RECORD_FILE)
    records = {}
    if os.path.isfile(record_path):
        with open(record_path, encoding="utf-8") as f:
            records = json.load(f)
    records[dataset] = record
    with open(record_path, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(records.items())), f, indent=2)
        f.write("\n")
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ganzoo.metrics.train_classifiers",
        description="Train the domain classifiers used by ganzoo.metrics.",
    )
    parser.add_argument(
        "--datasets", nargs="+", default=list(classifiers.CLASSIFIER_DATASETS), choices=classifiers.CLASSIFIER_DATASETS
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the per-dataset epochs in TRAIN_SETTINGS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights-dir", default=classifiers.WEIGHTS_DIR)
    parser.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST IDX files")
    args = parser.parse_args(argv)
    command = shlex.join(
        ["python", "-m", "ganzoo.metrics.train_classifiers", *(sys.argv[1:] if argv is None else argv)]
    )
    for dataset in args.datasets:
        print(f"Training the {dataset} classifier", flush=True)
        model, facts = train_classifier(dataset, epochs=args.epochs, seed=args.seed, data_dir=args.data_dir)
        record = save_classifier(model, dataset, facts, weights_dir=args.weights_dir, command=command)
        print(
            f"{dataset}: test accuracy {record['test_accuracy']:.4f} "
            f"({record['num_test_correct']}/{record['num_test']}), "
            f"{record['size_bytes'] / 1024:.0f} KiB, {record['train_seconds']} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
