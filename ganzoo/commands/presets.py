"""`ganzoo list`, `info NAME`, `download NAME` and `publish RUN_DIR`: the preset zoo.

`list`, `info` and `download` read preset JSON files and fetch files with the
standard library: they never import TensorFlow. `publish` does (Keras saves,
and the ONNX export).
"""

import json
import sys

_HUB_HELP = (
    "hub: a directory, file:// or http(s):// URL (default: $GANZOO_HUB_URL, else the presets shipped in the package)"
)


def register(subparsers):
    """Adds the zoo commands to the `ganzoo` CLI."""
    parser = subparsers.add_parser("list", help="list the presets", description="List the named presets in a table.")
    parser.add_argument("--hub", help=_HUB_HELP)
    parser.set_defaults(handler=run_list)

    parser = subparsers.add_parser("info", help="show one preset", description="Show a preset's facts, or its JSON.")
    parser.add_argument("name", metavar="NAME", help="a preset name (see `ganzoo list`)")
    parser.add_argument("--hub", help=_HUB_HELP)
    parser.add_argument("--json", action="store_true", help="print the whole preset JSON")
    parser.set_defaults(handler=run_info)

    parser = subparsers.add_parser(
        "download",
        help="download and verify a preset's generator files (.keras and .onnx) into the cache",
        description="Fetch a preset's generator files (.keras, and .onnx where published) from the hub, verify "
        "their sha256, and print their local paths. Needs no Keras.",
    )
    parser.add_argument("names", metavar="NAME", nargs="*", help="preset names (see `ganzoo list`)")
    parser.add_argument("--all", action="store_true", help="every preset the hub holds")
    parser.add_argument("--hub", help=_HUB_HELP)
    parser.set_defaults(handler=run_download)

    parser = subparsers.add_parser(
        "migrate",
        help="upgrade ganzoo 0.1 presets and run folders to this version's preset format",
        description="Rewrite preset JSON files and run folders (config.json, run.json) written by ganzoo 0.1, whose "
        "networks are serialized Keras graphs, as builder names and arguments. Only graphs that the DCGAN builders "
        "rebuild exactly are upgraded, and the weights must give the same images. Every argument is an input, "
        "rewritten in place (there is no destination argument). Example: ganzoo migrate runs/old_run old_hub/my_preset.json",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PRESET_JSON_OR_RUN_DIR",
        help="preset JSON files and run folders, each rewritten in place",
    )
    parser.set_defaults(handler=run_migrate)

    parser = subparsers.add_parser(
        "publish",
        help="publish a `ganzoo train` run into a hub directory",
        description=(
            "Write RUN_DIR's generator as <hub>/NAME.keras and <hub>/NAME.onnx (uint8 pixels, with its "
            "<hub>/NAME.onnx.json sidecar), the preset with their sha256 as <hub>/NAME.json, and add NAME to "
            "<hub>/index.txt. Serve the directory with any static file server."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a `ganzoo train` output folder")
    parser.add_argument("--name", required=True, help="the preset name")
    parser.add_argument("--hub", required=True, help="the hub directory to write into")
    parser.add_argument("--description", help="replace the preset's description")
    parser.add_argument("--overwrite", action="store_true", help="replace a preset of that name already on the hub")
    parser.set_defaults(handler=run_publish)


def _cell(value, spec=""):
    return "-" if value is None else format(value, spec)


def _quality_value(quality, key):
    value = (quality or {}).get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _row(name, hub):
    from ganzoo.client import presets

    config = presets.read_preset(name, hub)
    shape = presets.image_shape(config)
    parameters = presets.count_parameters(config["generator"])
    quality = config.get("quality")
    return [
        name,
        config.get("variant", "?"),
        config.get("recipe", {}).get("dataset", "?"),
        "x".join(map(str, shape)) if shape else "?",
        _cell(parameters, ","),
        _cell(_quality_value((quality or {}).get("inception"), "fid"), ".2f"),
        _cell(_quality_value(quality, "fd"), ".2f"),
        _cell(_quality_value(quality, "kid"), ".2f"),
        _cell(_quality_value(quality, "precision"), ".2f"),
        _cell(_quality_value(quality, "recall"), ".2f"),
        _cell(_quality_value(quality, "label_accuracy"), ".3f"),
        _cell(_quality_value(quality, "class_entropy"), ".3f"),
    ]


def _table(header, rows):
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def run_list(args):
    """Handler of `ganzoo list`."""
    from ganzoo.client import presets

    hub = presets.hub_lib.Hub(args.hub)
    if hub.is_default:
        names = presets.list_presets()
    else:
        # Only what that hub holds, so that every name listed works with `generate NAME --hub` too.
        if hub.local is not None and not hub.local.is_dir():
            raise FileNotFoundError(
                f"Expected --hub to be a hub folder or URL. Received: {hub.url}, which does not exist"
            )
        try:
            names = presets.hub_lib.list_names(hub)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"Expected the hub {hub.url} to list its presets in index.txt (as `ganzoo publish` writes it). "
                "Received: no index.txt"
            ) from None
        print(f"Presets of the hub {hub.url} (without --hub or $GANZOO_HUB_URL: the shipped ones)", file=sys.stderr)
    header = [
        "NAME",
        "VARIANT",
        "DATASET",
        "IMAGE",
        "G PARAMS",
        "FID",
        "FD",
        "KID",
        "PREC",
        "RECALL",
        "LABEL ACC",
        "CLASS ENTROPY",
    ]
    rows = []
    for name in names:
        try:
            rows.append(_row(name, args.hub))
        except (ValueError, OSError, KeyError, TypeError, AttributeError) as error:  # one bad preset: list the rest
            print(f"ganzoo list: warning: skipped {name}: {error}", file=sys.stderr)
    print(_table(header, rows))
    return 0


def run_migrate(args):
    """Handler of `ganzoo migrate`."""
    from ganzoo.runs.migration import migrate_path

    for path in args.paths:
        changed = migrate_path(path)
        print(f"{path}: " + (", ".join(str(p) for p in changed) + " upgraded" if changed else "already current"))
    return 0


def _builder_call(entry):
    args = ", ".join(f"{key}={value!r}" for key, value in entry["args"].items())
    return f"{entry['builder']}({args})"


def run_info(args):
    """Handler of `ganzoo info NAME`."""
    from ganzoo.client import presets

    config = presets.read_preset(args.name, args.hub)
    if args.json:
        print(json.dumps(config, indent=2))
        return 0
    config = presets.load_config(args.name, args.hub)
    gan, recipe, weights = config["gan"], config["recipe"], config["weights"]
    facts = [
        ("name", args.name),
        ("source", presets.preset_source(args.name, args.hub)),
        ("variant", config["variant"]),
        ("description", config["description"]),
        ("image shape", presets.image_shape(config)),
        ("latent_dim", gan["latent_dim"]),
        ("num_classes", gan["num_classes"]),
        ("loss", gan["loss"]),
        ("discriminator_steps", gan["discriminator_steps"]),
        ("gradient_penalty_weight", gan["gradient_penalty_weight"]),
        ("label targets", f"real {1 - gan['label_smoothing']:g}, fake {gan['fake_label_smoothing']:g}"),
        ("generator", _builder_call(config["generator"])),
        ("discriminator", _builder_call(config["discriminator"])),
        ("generator parameters", _cell(presets.count_parameters(config["generator"]), ",")),
        ("discriminator parameters", _cell(presets.count_parameters(config["discriminator"]), ",")),
        (
            "recipe",
            f"{recipe['dataset']} {recipe['image_size']}px, batch {recipe['batch_size']}, "
            f"{recipe['epochs']} epochs, seed {recipe['seed']}, ema_decay {recipe['ema_decay']}",
        ),
        ("weights", f"{weights['file']} ({_cell(weights['size_bytes'], ',')} bytes), sha256 {weights['sha256']}"),
        (
            "onnx",
            "-"
            if config.get("onnx") is None
            else f"{config['onnx']['file']} ({config['onnx']['size_bytes']:,} bytes, uint8 pixels), sha256 {config['onnx']['sha256']}",
        ),
        (
            "training",
            "-"
            if config["training"] is None
            else f"{config['training']['seconds']:.0f} s: {config['training']['command']} (ganzoo {config['training']['ganzoo_version']})",
        ),
        ("quality", "-" if config["quality"] is None else json.dumps(config["quality"])),
    ]
    width = max(len(key) for key, _ in facts)
    for key, value in facts:
        print(f"{key.ljust(width)}  {value}")
    return 0


def run_download(args):
    """Handler of `ganzoo download NAME ...`."""
    from ganzoo.client import presets

    if args.all:  # what the hub holds: a `ganzoo publish` folder lacks the shipped presets' files
        hub = presets.hub_lib.Hub(args.hub)
        names = presets.hub_lib.list_names(hub)
        if not names:
            raise ValueError(f"Expected the hub {hub.url} to hold presets (NAME.json files). Received: none")
    else:
        names = args.names
    if not names:
        raise ValueError("Expected at least one preset NAME, or --all. Received: none")
    for name in names:
        try:
            config = presets.load_config(name, args.hub)
            paths = []
            if config["weights"]["file"] is not None or config.get("onnx") is None:
                paths.append(presets.weights_path(name, args.hub, config))  # names the problem if neither exists
            if config.get("onnx") is not None:
                paths.append(presets.onnx_path(name, args.hub, config))
        except ConnectionError as error:  # the CLI reports only bad-input errors itself
            print(f"ganzoo download: error: {error}", file=sys.stderr)
            return 1
        print(f"{name}: {' '.join(str(path) for path in paths)}")
    return 0


def run_publish(args):
    """Handler of `ganzoo publish RUN_DIR --name NAME --hub DIR`."""
    from ganzoo import tf_logging

    tf_logging.import_tensorflow_quietly()  # publish saves with Keras: no oneDNN/cuInit start-up lines
    from ganzoo.runs.publish import publish

    try:
        path = publish(args.run_dir, args.name, args.hub, description=args.description, overwrite=args.overwrite)
    except RuntimeError as error:  # the ONNX export failed or disagrees with Keras; the hub is unchanged
        print(f"ganzoo publish: error: {error}. Nothing on the hub {args.hub} was changed.", file=sys.stderr)
        return 1
    preset = json.loads(path.read_text(encoding="utf-8"))
    print(f"Published {args.name}: {path}")
    for key in ("weights", "onnx"):
        entry = preset[key]
        print(f"  {path.parent / entry['file']} (sha256 {entry['sha256']}, {entry['size_bytes']:,} bytes)")
    return 0
