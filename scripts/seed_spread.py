"""Mean and standard deviation of FD, precision and recall over runs that differ only in their seed.

The protocol of mimicry's tables: the same recipe trained with several seeds, each evaluated the same way
(`ganzoo evaluate`'s figures: 10,000 samples, seed 0, the dataset's test split). Usage:

    python scripts/seed_spread.py runs/sngan_digits_seed0 runs/sngan_digits_seed1 runs/sngan_digits_seed2

Prints one row per run and a `mean ± std` row (std with ddof=1, the sample standard deviation).
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from ganzoo.runs.evaluation import evaluate_generator, real_test_features  # noqa: E402
from ganzoo.metrics import classifier_feature_extractor  # noqa: E402
from ganzoo.training.generators import load_generator_file  # noqa: E402

KEYS = ("fd", "precision", "recall")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders (each with generator.keras and config.json)")
    parser.add_argument("-n", type=int, default=10_000)
    args = parser.parse_args(argv)
    datasets = {json.load(open(os.path.join(run, "config.json")))["recipe"]["dataset"] for run in args.runs}
    if len(datasets) != 1:
        raise SystemExit(f"Expected runs on one dataset. Received: {sorted(datasets)}")
    dataset = datasets.pop()
    extractor = classifier_feature_extractor(dataset)
    real = real_test_features(dataset, extractor, verbose=False)
    rows = []
    print("| run | seed | " + " | ".join(KEYS) + " |\n|---|---:|" + "---:|" * len(KEYS))
    for run in args.runs:
        seed = json.load(open(os.path.join(run, "config.json")))["recipe"]["seed"]
        figures = evaluate_generator(
            load_generator_file(os.path.join(run, "generator.keras")),
            dataset,
            n=args.n,
            seed=0,
            extractor=extractor,
            real_features=real,
            verbose=False,
        )
        rows.append([figures[key] for key in KEYS])
        print(f"| {run} | {seed} | " + " | ".join(f"{value:.3f}" for value in rows[-1]) + " |", flush=True)
    values = np.array(rows)
    spread = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(values.mean(0), values.std(0, ddof=1)))
    print(f"| mean ± std ({len(rows)} seeds) | | {spread} |")


if __name__ == "__main__":
    main()
