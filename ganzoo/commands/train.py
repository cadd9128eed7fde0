"""`ganzoo train`: a variant or preset -> a run folder.

This module adds the command's arguments; `ganzoo.commands.train_config`
turns them into the config it trains and `ganzoo.commands.train_handler`
runs it. Handlers import TensorFlow only when they run, so `ganzoo --help`
stays fast.
"""

import os

from ganzoo.client.builder_docs import bounded_int, shared_bounds
from ganzoo.client.network_args import MAX_SIDE
from ganzoo.commands import flag_types

from ganzoo.commands.train_config import resolve_config  # noqa: F401 - part of this module's API
from ganzoo.commands.train_handler import run_train
from ganzoo.training.config import VARIANTS


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
    _add_variant_arguments(train)
    _add_recipe_arguments(train)
    _add_run_arguments(train)
    train.set_defaults(handler=run_train)


def _add_variant_arguments(train):
    """The variant or preset, and the options that build a variant's networks (a preset fixes them)."""
    train.add_argument(
        "name",
        nargs="?",
        metavar="VARIANT_OR_PRESET",
        help=f"one of {', '.join(VARIANTS)} (default dcgan, on digits), a preset name, or a preset JSON file",
    )
    train.add_argument(
        "--dataset",
        type=flag_types.dataset_name,
        help="dataset of a variant: digits (default), fashion_mnist, mnist, cifar10, folder:PATH",
    )
    # Bounds as the builders declare them (ganzoo.client.network_args), refused while parsing.
    latent, filters = shared_bounds("latent_dim"), shared_bounds("filters")
    train.add_argument(
        "--image-size",
        type=bounded_int("--image-size", 1, MAX_SIDE),
        help=f"square image side of a variant, an int in [1, {MAX_SIDE}] (default: the dataset's)",
    )
    train.add_argument(
        "--latent-dim",
        type=bounded_int("--latent-dim", *latent),
        help=f"size of z, for a variant: an int in [{latent[0]}, {latent[1]}]",
    )
    train.add_argument(
        "--filters",
        type=bounded_int("--filters", *filters),
        help=f"network width, for a variant: an int in [{filters[0]}, {filters[1]}]",
    )
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


def _add_recipe_arguments(train):
    """Options that change the loss targets and the recipe (of a variant or a preset)."""
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
    train.add_argument("--epochs", type=flag_types.int_at_least("--epochs", 1), help="override the recipe's epochs")
    train.add_argument(
        "--batch-size",
        type=flag_types.int_at_least("--batch-size", 1),
        help="override the recipe's batch size (per critic step)",
    )
    train.add_argument(
        "--seed", type=bounded_int("--seed", 0, 2**32 - 1), help="override the recipe's seed (default 0)"
    )
    train.add_argument(
        "--ema-decay", type=float, help="keep an EMA of the generator weights (e.g. 0.999); 0 turns it off"
    )
    _add_stabiliser_arguments(train)


def _add_stabiliser_arguments(train):
    """DiffAugment, ADA and R1: options of any variant or preset, stored in the run's config under `gan`."""
    train.add_argument(
        "--augment",
        type=flag_types.augment_policy,
        metavar="POLICY",
        help="DiffAugment wherever D sees images, real and fake alike: comma-separated transforms of "
        "color, translation, cutout (e.g. translation,cutout); none turns a preset's off (and its ADA)",
    )
    train.add_argument(
        "--augment-probability",
        type=flag_types.float_in("--augment-probability", 0, 1),
        metavar="P",
        help="chance of each transform per sample (default 1); with --ada-target the adaptive one's start",
    )
    train.add_argument(
        "--ada-target",
        type=flag_types.float_in("--ada-target", 0, 1, open_low=True, open_high=True, off=True),
        metavar="T",
        help="adapt the augmentation probability (ADA): up while mean(sign(D(real))) > T (the paper: 0.6); "
        "none turns a preset's off",
    )
    train.add_argument(
        "--r1-weight",
        type=flag_types.float_in("--r1-weight", 0),
        metavar="GAMMA",
        help="R1 penalty (GAMMA/2) E||dD/dx_real||^2 on the discriminator (e.g. 10; 0 turns a preset's off)",
    )
    train.add_argument(
        "--r1-interval",
        type=flag_types.int_at_least("--r1-interval", 1),
        metavar="K",
        help="lazy R1: the penalty (times K) every K-th step only (default 1)",
    )


def _add_run_arguments(train):
    """How the run trains (precision, XLA, devices, FD) and where it writes (or which run it continues)."""
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


def load_generator(source):
    """Loads a generator: a `.keras` file (safe mode), a run folder holding `generator.keras`, or a preset name."""
    from ganzoo.training import generators

    if os.path.isdir(source):
        source = os.path.join(source, "generator.keras")
    if source.endswith(".keras") and not os.path.isfile(source):
        raise FileNotFoundError(f"Expected a generator .keras file. Received: {source!r} does not exist")
    return generators.load_generator(source)
