"""`ganzoo train`: a variant or preset -> a run folder.

Handlers import TensorFlow only when they run, so `ganzoo --help` stays fast.
"""

import os
import shlex
import sys

from ganzoo import tf_logging
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


def register(subparsers):
    """Adds the `train` command."""
    train = subparsers.add_parser(
        "train",
        help="train a GAN variant or preset; writes samples, metrics, generator.keras/.onnx",
        description=(
            "Train a GAN with model.fit and write a run folder: samples/epoch_NNN.png, metrics.csv, "
            "metrics.png, generator.keras, config.json and generator.onnx, with a checkpoint after every epoch. "
            "Example: ganzoo train dcgan --out runs/dcgan; after a crash or Ctrl-C: ganzoo train --resume runs/dcgan"
        ),
    )
    train.add_argument(
        "name",
        nargs="?",
        metavar="VARIANT_OR_PRESET",
        help=f"one of {', '.join(VARIANTS)} (default dcgan, on digits), a preset name, or a preset JSON file",
    )
    train.add_argument(
        "--dataset", help="dataset of a variant: digits (default), fashion_mnist, mnist, cifar10, folder:PATH"
    )
    train.add_argument("--image-size", type=int, help="square image side of a variant (default: the dataset's)")
    train.add_argument("--latent-dim", type=int, help="size of z, for a variant")
    train.add_argument("--filters", type=int, help="network width, for a variant")
    train.add_argument(
        "--architecture",
        choices=("dcgan", "resnet"),
        help="networks of a variant: dcgan (default) or resnet (the residual networks of the WGAN-GP/SNGAN papers)",
    )
    train.add_argument(
        "--conditional",
        action="store_const",
        const=True,
        help="condition a variant on the dataset's classes (any loss; cgan always is)",
    )
    train.add_argument(
        "--label-smoothing",
        type=float,
        metavar="S",
        help="real target 1 - S for the cross-entropy and least-squares losses (one-sided smoothing, e.g. 0.1)",
    )
    train.add_argument(
        "--fake-label-smoothing",
        type=float,
        metavar="S",
        help="fake target S (with --label-smoothing: two-sided smoothing; default 0)",
    )
    train.add_argument("--epochs", type=int, help="override the recipe's epochs")
    train.add_argument("--batch-size", type=int, help="override the recipe's batch size (per critic step)")
    train.add_argument("--seed", type=int, help="override the recipe's seed (default 0)")
    train.add_argument(
        "--ema-decay", type=float, help="keep an EMA of the generator weights (e.g. 0.999); 0 turns it off"
    )
    train.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        help="dtype policy while training (default float32; auto: bf16 where the device has bf16 arithmetic, "
        "float16 on older NVIDIA GPUs, else float32); the saved generator is float32",
    )
    train.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    train.add_argument(
        "--distribute",
        nargs="?",
        const="all",
        metavar="N",
        help="data-parallel training: on every local GPU (no N), on N GPUs, or on N host devices of a machine "
        "without one (for testing); TensorFlow MirroredStrategy or JAX DataParallel. The recipe's batch size is the "
        "global batch and the learning rates stay as they are",
    )
    train.add_argument("--fd-every", type=int, help="epochs between FD evaluations (0: off; default about 5 per run)")
    train.add_argument("--out", help="run folder (default runs/<name>); one that holds another run is refused")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the interrupted run in RUN_DIR from its last end-of-epoch checkpoint, with its recorded settings",
    )
    train.add_argument(
        "--overwrite", action="store_true", help="replace the run already in --out (its files are removed)"
    )
    train.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    train.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="1 progress bar (default), 2 one line per epoch, 0 silent",
    )
    train.set_defaults(handler=run_train)


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
    if args.ema_decay is not None:
        config["recipe"]["ema_decay"] = None if args.ema_decay == 0 else args.ema_decay
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
    return name, config_module.validate_config(config, source=name)


def _command_line(args):
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


def _check_resume_alone(args):
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


def _configured_backend():
    """The Keras backend this process will use, read as Keras reads it (before Keras is imported)."""
    import json

    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _distribute_setting(args):
    """`--distribute` as `train(distribute=...)` takes it; sets JAX's host device count before JAX starts."""
    if args.distribute is None:
        return None
    if args.distribute == "all":
        replicas = "all"
    else:
        try:
            replicas = int(args.distribute)
        except ValueError:
            replicas = 0
        if replicas < 1:
            raise ValueError(
                f"Expected --distribute N with an int N >= 1 (or no N: every GPU; put a bare --distribute after the "
                f"variant or preset name). Received: {args.distribute!r}"
            )
    backend = _configured_backend()
    if args.jit and backend == "tensorflow":
        raise ValueError(
            "Expected --jit or --distribute, not both, on TensorFlow: Keras cannot compile a tf.distribute step with "
            "XLA. Received: --jit --distribute. JAX compiles every step with XLA (KERAS_BACKEND=jax)"
        )
    return replicas


def _prepare_host_devices(replicas):
    """Splits the host into `replicas` devices where there is no GPU, before the backend starts (it cannot after)."""
    if replicas == "all":
        return
    backend = _configured_backend()
    if backend == "jax" and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        # Only the CPU platform reads it, so GPUs are unaffected.
        os.environ["XLA_FLAGS"] = (
            f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={replicas}".strip()
        )
    elif backend == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)


def run_train(args):
    """Handler of `ganzoo train`."""
    import signal

    from ganzoo.runs import run_folder

    # Argument errors first: they must not wait for TensorFlow to import.
    distribute = _distribute_setting(args)
    if args.resume is not None:
        _check_resume_alone(args)
        out_dir = args.resume
        run_folder.claim(out_dir, resume=True)
        run_folder.read_record(out_dir)
    else:
        if args.out is not None and not args.out.strip():
            raise ValueError(f"Expected --out to be a folder path. Received: --out {args.out!r}")
        # runs/<name>, where name is what resolve_config returns: the preset or variant, or a JSON file's stem.
        stem = os.path.splitext(os.path.basename(args.name or "dcgan"))[0]
        out_dir = os.path.join("runs", stem) if args.out is None else args.out
        if not args.overwrite and run_folder.existing_artefacts(out_dir):
            run_folder.claim(out_dir)  # raises, naming --resume/--overwrite, before TensorFlow loads
    tf_logging.import_tensorflow_quietly()  # the argument checks above must not wait for it
    if distribute is None and args.resume is not None:
        distribute = run_folder.read_record(out_dir)[1].get("distribute")
    if distribute is not None:
        _prepare_host_devices(distribute)
    if args.resume is None:
        name, config = resolve_config(args)
    from ganzoo.runs import run as train_module

    def stop(signum, frame):  # SIGTERM stops like Ctrl-C: the last checkpoint stays, the process exits
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (main() called from a thread): SIGTERM keeps its default
        previous = None
    try:
        if args.resume is not None:
            result = train_module.resume(out_dir, verbose=args.verbose)
        else:
            result = train_module.train(
                config,
                out_dir,
                verbose=args.verbose,
                export_onnx=not args.no_export,
                precision=args.precision or "float32",
                jit=args.jit,
                fd_every=args.fd_every,
                command=_command_line(args),
                overwrite=args.overwrite,
                distribute=distribute,
            )
    except train_module.TrainingInterrupted as error:
        print(f"ganzoo train: {error}", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    files = result["files"]
    print(result["summary"])
    if result["nan_guard"] is not None:
        print(result["nan_guard"]["message"])
    if files.get("samples"):
        print(f"  {'samples:':<16} {files['samples'][-1]}")
    for key in ("generator", "generator_best", "onnx", "metrics_csv", "metrics_png", "config"):
        if files.get(key):
            print(f"  {key + ':':<16} {files[key]}")
    return 1 if result["nan_guard"] is not None else 0


def load_generator(source):
    """Loads a generator: a `.keras` file (safe mode), a run folder holding `generator.keras`, or a preset name."""
    from ganzoo.training import generators

    if os.path.isdir(source):
        source = os.path.join(source, "generator.keras")
    if source.endswith(".keras") and not os.path.isfile(source):
        raise FileNotFoundError(f"Expected a generator .keras file. Received: {source!r} does not exist")
    return generators.load_generator(source)
