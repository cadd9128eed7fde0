"""Wall time of each metric on 10k x 10k random features (d = 128 and 2048).

Usage:
    python benchmarks/metrics_speed.py

The domain classifiers give 128-d features; InceptionV3 gives 2048-d.
"""

import time

import numpy as np

from ganzoo.metrics import (
    class_histogram_entropy,
    frechet_distance,
    kernel_inception_distance,
    label_accuracy,
    precision_recall,
)


def main():
    rng = np.random.default_rng(0)
    print("| d | metric | seconds |\n|---:|---|---:|")
    for d in (128, 2048):
        a = rng.normal(size=(10000, d)).astype("float32")
        b = (rng.normal(size=(10000, d)) + 0.1).astype("float32")
        for name, fn in [
            ("frechet_distance", lambda: frechet_distance(a, b)),
            ("kernel_inception_distance (100 x 1000)", lambda: kernel_inception_distance(a, b)),
            ("precision_recall (k=3)", lambda: precision_recall(a, b)),
        ]:
            start = time.perf_counter()
            fn()
            print(f"| {d} | {name} | {time.perf_counter() - start:.2f} |", flush=True)
    labels = rng.integers(0, 10, 10000)
    probs = rng.random((10000, 10))
    start = time.perf_counter()
    label_accuracy(probs, labels)
    class_histogram_entropy(probs, 10)
    print(f"| - | label_accuracy + class_histogram_entropy | {time.perf_counter() - start:.4f} |")


if __name__ == "__main__":
    main()
