"""Inception FID over seeds: a preset's shipped run and retrains that differ only in their seed.

The mimicry protocol for the README table: the same recipe trained with several seeds, each evaluated the
same way (`ganzoo evaluate RUN --features inception -n 10000`), reported as mean ± std (ddof=1).

    ganzoo train dcgan_fashion_mnist --seed 1 --out runs/dcgan_s1 ...   # the recipe's own settings
    ganzoo evaluate runs/dcgan_s1 --features inception -n 10000 --no-baseline --json runs/dcgan_s1/fid.json
    python scripts/seed_fid.py dcgan_fashion_mnist runs/dcgan_s1/fid.json runs/dcgan_s2/fid.json [--write-preset]

The preset's own `quality.inception` figure is the first seed (its recipe's seed). Each JSON names its run
folder (`model`), whose config.json gives the seed. Figures measured with another protocol, sample count or
reference are refused, as are two figures for one seed.
"""

import argparse
import json
import os

import numpy as np

from ganzoo.client import presets

SAME = ("protocol", "n_fake", "n_real", "reference")


def seed_figures(preset, evaluations):
    """`[(seed, figures), ...]`: the preset's own Inception figures, then each evaluation's, checked alike.

    Args:
        preset: a preset dict (its `quality.inception` and `recipe.seed`).
        evaluations: `ganzoo evaluate --features inception --json` dicts, each with the `seed` of its run.
    """
    own = (preset.get("quality") or {}).get("inception")
    if not own or own.get("fid") is None:
        raise ValueError("Expected a preset whose quality.inception holds a fid. Received one without it")
    rows = [(preset["recipe"]["seed"], {k: own[k] for k in ("fid", *SAME)})]
    for evaluation in evaluations:
        if evaluation.get("features") != "inception":
            raise ValueError(f"Expected Inception figures. Received: features={evaluation.get('features')!r}")
        rows.append((evaluation["seed"], evaluation["figures"]))
    for seed, figures in rows[1:]:
        for key in SAME:
            if figures.get(key) != rows[0][1][key]:
                raise ValueError(
                    f"Expected {key}={rows[0][1][key]!r} as in the preset's figure. Received: {key}={figures.get(key)!r} "
                    f"for seed {seed}"
                )
    seeds = [seed for seed, _ in rows]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"Expected one figure per seed. Received seeds {seeds}")
    return rows


def spread(rows):
    """`{"seeds", "fid", "mean", "std"}` of `seed_figures` rows (std with ddof=1, the sample standard deviation)."""
    fids = np.array([figures["fid"] for _, figures in rows], dtype=np.float64)
    if len(fids) < 2:
        raise ValueError(f"Expected at least 2 seeds for a spread. Received {len(fids)}")
    return {
        "seeds": [int(seed) for seed, _ in rows],
        "fid": [float(f) for f in fids],
        "mean": float(fids.mean()),
        "std": float(fids.std(ddof=1)),
    }


def read_evaluation(path):
    with open(path, encoding="utf-8") as f:
        evaluation = json.load(f)
    with open(os.path.join(evaluation["model"], "config.json"), encoding="utf-8") as f:
        evaluation["seed"] = json.load(f)["recipe"]["seed"]
    return evaluation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", help="a shipped preset name")
    parser.add_argument("evaluations", nargs="+", help="`ganzoo evaluate --features inception --json` files")
    parser.add_argument("--write-preset", action="store_true", help="store the spread as quality.inception.seeds")
    args = parser.parse_args(argv)
    preset = presets.load_config(args.preset)
    rows = seed_figures(preset, [read_evaluation(path) for path in args.evaluations])
    result = spread(rows)
    print("| seed | Inception FID |\n|---:|---:|")
    for seed, fid in zip(result["seeds"], result["fid"], strict=True):
        print(f"| {seed} | {fid:.2f} |")
    print(f"| mean ± std ({len(rows)} seeds) | {result['mean']:.2f} ± {result['std']:.2f} |")
    if args.write_preset:
        quality = dict(preset["quality"])
        quality["inception"] = {**quality["inception"], "seeds": result}
        presets.write_quality(args.preset, quality)
        print(f"Stored the spread in preset {args.preset!r} (quality.inception.seeds)")


if __name__ == "__main__":
    main()
