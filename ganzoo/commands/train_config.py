"""`ganzoo train`'s arguments -> the preset config it trains, and the command line config.json records."""

import os
import shlex

from ganzoo.training.config import VARIANTS

# Options that only make sense when the networks are built here (a variant);
# a preset fixes them in its network specs.
_VARIANT_ONLY = (
    ("dataset", "--dataset"),
    ("image_size", "--image-size"),
    ("latent_dim", "--latent-dim"),
    ("filters", "--filters"),
    ("architecture", "--architecture"),
    ("conditional", "--conditional"),
)


# Flags stored as they are under the config's `gan` (DiffAugment, ADA, R1), for a variant or a preset.
STABILISERS = ("augment", "augment_probability", "ada_target", "r1_weight", "r1_interval")


def _flag(attr):
    return "--" + attr.replace("_", "-")


def resolve_config(args):
    """Returns `(name, config)` for `ganzoo train`'s arguments."""
    from ganzoo.training import config as config_module

    name = args.name = args.name or "dcgan"
    if os.path.isdir(name) and not name.endswith(".json"):
        raise ValueError(
            f"Expected a variant ({', '.join(VARIANTS)}), a preset name or a preset JSON file. Received: {name!r}, a "
            f"folder. Train again from a run's preset with `ganzoo train {os.path.join(name, 'config.json')}`, or "
            f"continue an interrupted run with `ganzoo train --resume {name}`"
        )
    if name in VARIANTS:
        config = config_module.default_config(
            name,
            dataset=args.dataset or "digits",
            image_size=args.image_size,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=0 if args.seed is None else args.seed,
            latent_dim=args.latent_dim,
            filters=args.filters,
            architecture=args.architecture or "dcgan",
            conditional=args.conditional,
        )
    else:
        name, config = _preset_config(name, args)
    if args.ema_decay is not None:
        config["recipe"]["ema_decay"] = None if args.ema_decay == 0 else args.ema_decay
    _set_label_smoothing(config, args, name)
    _set_stabilisers(config, args)
    return name, config_module.validate_config(config, source=name)


def command_line(args):
    """The `ganzoo train` command line of `args`, as config.json records it (`training.command`)."""
    parts = ["ganzoo", "train", args.name]
    for attr in (
        "dataset",
        "image_size",
        "latent_dim",
        "filters",
        "architecture",
        "epochs",
        "batch_size",
        "seed",
        "ema_decay",
        "label_smoothing",
        "fake_label_smoothing",
        *STABILISERS,
        "fd_every",
        "out",
    ):
        value = getattr(args, attr)
        if value is not None:
            parts += ["--" + attr.replace("_", "-"), str(value)]
    parts += ["--conditional"] if args.conditional else []
    if args.precision not in (None, "float32"):
        parts += ["--precision", args.precision]
    parts += ["--jit"] if args.jit else []
    parts += (
        [] if args.distribute is None else ["--distribute"] + ([] if args.distribute == "all" else [args.distribute])
    )
    parts += ["--no-export"] if args.no_export else []
    return shlex.join(parts)


def check_resume_alone(args):
    """Refuses every option but --verbose beside --resume: the run continues with its recorded settings."""
    given = [
        flag
        for flag, value in (
            ("VARIANT_OR_PRESET", args.name),
            ("--dataset", args.dataset),
            ("--image-size", args.image_size),
            ("--latent-dim", args.latent_dim),
            ("--filters", args.filters),
            ("--architecture", args.architecture),
            ("--conditional", args.conditional),
            ("--label-smoothing", args.label_smoothing),
            ("--fake-label-smoothing", args.fake_label_smoothing),
            *((_flag(attr), getattr(args, attr)) for attr in STABILISERS),
            ("--epochs", args.epochs),
            ("--batch-size", args.batch_size),
            ("--seed", args.seed),
            ("--ema-decay", args.ema_decay),
            ("--precision", args.precision),
            ("--jit", args.jit or None),
            ("--fd-every", args.fd_every),
            ("--distribute", args.distribute),
            ("--out", args.out),
            ("--no-export", args.no_export or None),
            ("--overwrite", args.overwrite or None),
        )
        if value is not None
    ]
    if given:
        raise ValueError(
            f"Expected --resume RUN_DIR alone (and --verbose): the run continues with the settings recorded in "
            f"RUN_DIR/run.json. Received: {', '.join(given)}"
        )


def _preset_config(name, args):
    """`(name, config)` of a preset name or JSON file (its stem is the name), with the recipe options applied."""
    from ganzoo.training import config as config_module

    given = [flag for attr, flag in _VARIANT_ONLY if getattr(args, attr) is not None]
    if given:
        raise ValueError(
            f"Expected {', '.join(given)} only with a variant ({', '.join(VARIANTS)}): a preset fixes its networks "
            f"and dataset. Received: {name!r}"
        )
    if name.endswith(".json") or os.path.isfile(name):
        config = config_module.load_config_file(name)
        name = os.path.splitext(os.path.basename(name))[0]
    else:
        from ganzoo.client import presets

        try:
            config = presets.load_config(name)  # validated
        except ValueError as error:
            if not str(error).startswith("Expected a known preset name"):
                raise
            raise ValueError(
                f"Expected a variant ({', '.join(VARIANTS)}), a preset JSON file or a preset name. {error}"
            ) from None
    recipe = config["recipe"]
    for attr in ("epochs", "batch_size", "seed"):
        if getattr(args, attr) is not None:
            recipe[attr] = getattr(args, attr)
    return name, config


def _set_label_smoothing(config, args, name):
    """Sets `--label-smoothing`/`--fake-label-smoothing` in `config["gan"]`, for a loss that has targets."""
    for attr, flag in (("label_smoothing", "--label-smoothing"), ("fake_label_smoothing", "--fake-label-smoothing")):
        value = getattr(args, attr)
        if value is None:
            continue
        if not 0 <= value < 0.5:  # math.isnan-safe: NaN fails the comparison
            raise ValueError(f"Expected {flag} in [0, 0.5), e.g. 0.1. Received: {flag} {value}")
        if config["gan"]["loss"] not in ("non_saturating", "minimax", "least_squares"):
            raise ValueError(
                f"Expected {flag} only with a loss that has targets (non_saturating, minimax, least_squares). "
                f"Received: {flag} {value} for {name!r}, whose loss is {config['gan']['loss']!r}"
            )
        config["gan"][attr] = value


def _set_stabilisers(config, args):
    """Sets --augment/--augment-probability/--ada-target/--r1-weight/--r1-interval in `config["gan"]`.

    Their ranges are checked while parsing; how they combine (ADA needs a
    policy) is checked here, naming the flags rather than the config keys.
    """
    gan = config["gan"]  # validated: a preset written before these keys has them filled in
    for attr in STABILISERS:
        value = getattr(args, attr)
        if value is not None:
            gan[attr] = None if value == "none" else value
    if args.augment == "none" and args.ada_target is None:
        gan["ada_target"] = None  # no augmentation, nothing to adapt
    if gan["ada_target"] is not None and not gan["augment"]:
        raise ValueError(
            f"Expected --augment POLICY while the ADA controller is on (ada_target={gan['ada_target']}): it adapts "
            "the probability of a policy's transforms. Received: no augment policy"
        )
