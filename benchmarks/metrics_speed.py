"""Each metric's wall time against the time of its dominant linear-algebra work, measured in the same run.

Usage:
    python benchmarks/metrics_speed.py            # 10k x 10k features, d = 128 and 2048
    python benchmarks/metrics_speed.py --small    # 2k x 2k, d = 64 and 256 (a quick check)

The domain classifiers give 128-d features; InceptionV3 gives 2048-d. The
bound of each metric is the BLAS/LAPACK work that any exact implementation
does, timed on the same arrays:

- FD: the two centered Gram products `X^T X` (the covariances) and one
  `eigvalsh` of a d x d matrix.
- KID (100 subsets of 1000): the 300 kernel products `x @ y.T`.
- precision/recall (k=3): the three n x n distance products (real-real,
  fake-fake, fake-real).

Metric and bound alternate, `--reps` times each (median reported), so that
the ratio is not skewed by the load on a shared machine.

`--baseline DIR` also times FD and precision/recall as implemented in another
ganzoo checkout (e.g. `git worktree add /tmp/old ef6a2c8`), alternating with
the current code, at d = 2048.
"""

import argparse
import importlib.util
import statistics
import time

import numpy as np

from ganzoo.metrics import (
    class_histogram_entropy,
    frechet_distance,
    kernel_inception_distance,
    label_accuracy,
    precision_recall,
)


def _fd_bound(a, b):
    for x in (a, b):
        centered = x - x.mean(0)
        gram = centered.T @ centered
    np.linalg.eigvalsh(gram)


def _kid_bound(a, b, num_subsets=100, subset_size=1000):
    rng = np.random.default_rng(0)
    for _ in range(num_subsets):
        x = a[rng.choice(len(a), subset_size, replace=False)]
        y = b[rng.choice(len(b), subset_size, replace=False)]
        x @ x.T, y @ y.T, x @ y.T


def _pr_bound(a, b, batch_size=1000):
    for x, y in ((a, a), (b, b), (b, a)):
        for start in range(0, len(x), batch_size):
            x[start : start + batch_size] @ y.T


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def baseline(directory, n, reps):
    """Old vs new FD and precision/recall on the same 2048-d features, alternating."""
    old_fd = _load(f"{directory}/ganzoo/metrics/frechet.py", "old_frechet").frechet_distance
    old_pr = _load(f"{directory}/ganzoo/metrics/knn_precision_recall.py", "old_pr").precision_recall
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(n, 2048)), rng.normal(size=(n, 2048)) + 0.1
    print(f"\nbaseline {directory} vs this checkout, d = 2048, median of {reps}\n")
    print("| metric | baseline s | now s | speed-up |\n|---|---:|---:|---:|")
    for name, old, new in (
        ("frechet_distance", old_fd, frechet_distance),
        ("precision_recall", old_pr, precision_recall),
    ):
        old_times, new_times = [], []
        for _ in range(reps):
            old_times.append(_time(lambda: old(a, b)))
            new_times.append(_time(lambda: new(a, b)))
        o, m = statistics.median(old_times), statistics.median(new_times)
        print(f"| {name} | {o:.2f} | {m:.2f} | {o / m:.2f}x |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="2k samples, d = 64 and 256")
    parser.add_argument("--reps", type=int, default=3, help="alternating repetitions of metric and bound")
    parser.add_argument("--baseline", metavar="DIR", help="another ganzoo checkout to compare FD and P/R with")
    args = parser.parse_args()
    if args.baseline:
        baseline(args.baseline, 2000 if args.small else 10000, args.reps)
        return
    n, dims = (2000, (64, 256)) if args.small else (10000, (128, 2048))
    rng = np.random.default_rng(0)
    print(f"{n} x {n} features, median of {args.reps} alternating runs\n")
    print("| d | metric | metric s | bound s | ratio |\n|---:|---|---:|---:|---:|")
    for d in dims:
        # float64, as the metrics compute: the conversion is not part of either timing.
        a = rng.normal(size=(n, d))
        b = rng.normal(size=(n, d)) + 0.1
        for name, metric, bound in [
            ("frechet_distance", lambda: frechet_distance(a, b), lambda: _fd_bound(a, b)),
            (
                "kernel_inception_distance (100 x 1000)",
                lambda: kernel_inception_distance(a, b),
                lambda: _kid_bound(a, b, subset_size=min(1000, n // 2)),
            ),
            ("precision_recall (k=3)", lambda: precision_recall(a, b), lambda: _pr_bound(a, b)),
        ]:
            if name.startswith("kernel") and n < 2000:
                continue
            metric_times, bound_times = [], []
            for _ in range(args.reps):
                metric_times.append(_time(metric))
                bound_times.append(_time(bound))
            m, lo = statistics.median(metric_times), statistics.median(bound_times)
            print(f"| {d} | {name} | {m:.2f} | {lo:.2f} | {m / lo:.2f} |", flush=True)
    labels = rng.integers(0, 10, n)
    probs = rng.random((n, 10))
    seconds = _time(lambda: (label_accuracy(probs, labels), class_histogram_entropy(probs, 10)))
    print(f"| - | label_accuracy + class_histogram_entropy | {seconds:.4f} | - | - |")


if __name__ == "__main__":
    main()
