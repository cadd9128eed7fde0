"""`ganzoo generate`: a generator (preset, .onnx, .keras or run folder) -> a PNG grid.

Preset names and `.onnx` files run in onnxruntime, so this works from the
base install (`pip install keras-ganzoo`) without TensorFlow or Keras, and starts
in about a second. `.keras` files and run folders need Keras (a backend
extra); a run folder without Keras falls back to its `generator.onnx`.
"""

import os

_HUB_HELP = (
    "hub for preset names: a directory, file:// or http(s):// URL (default: $GANZOO_HUB_URL, else the shipped presets)"
)


def register(subparsers):
    """Adds the `generate` command."""
    generate = subparsers.add_parser(
        "generate",
        help="write a PNG grid of samples from a generator (preset name, .onnx, .keras file or run folder)",
        description=(
            "Sample a generator and write a PNG grid. Preset names and .onnx files run in onnxruntime "
            "(no TensorFlow needed). Example: ganzoo generate cgan_fashion_mnist -n 40 -o grid.png"
        ),
    )
    generate.add_argument(
        "source",
        metavar="PATH_OR_NAME",
        help="a preset name, an .onnx file, a generator .keras file, or a run folder holding generator.keras",
    )
    generate.add_argument("-n", "--num", type=int, default=64, help="number of samples (default 64)")
    generate.add_argument(
        "--labels",
        help="class ids for a conditional generator, e.g. 0,1,2 (cycled to n); default 0..num_classes-1 cycled",
    )
    generate.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    generate.add_argument(
        "--nrow", type=int, help="images per grid row (default: the class count for conditional, else sqrt(n))"
    )
    generate.add_argument("--hub", help=_HUB_HELP)
    generate.add_argument("-o", "--output", default="grid.png", help="PNG file (default grid.png)")
    generate.set_defaults(handler=run_generate)


def parse_labels(text):
    """Parses `--labels` "0,1,2" into a list of ints; raises ValueError otherwise."""
    try:
        labels = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(
            f"Expected --labels as comma-separated class ids, e.g. 0,1,2. Received: --labels={text!r}"
        ) from None
    return labels


def _keras_available():
    import importlib.util

    return importlib.util.find_spec("keras") is not None


def _needs_keras(what):
    from ganzoo.install_hints import missing_message

    return ImportError(
        missing_message(f"ganzoo generate {what}", ["keras"])
        + "; preset names and .onnx files work with the base install"
    )


class _KerasSampler:
    """A Keras generator behind the interface of `OnnxGenerator` that `run_generate` uses."""

    def __init__(self, generator):
        from ganzoo.models.describe import describe_generator

        self.generator = generator
        self.num_classes = describe_generator(self.generator)["num_classes"]

    def generate(self, n, labels=None, seed=None):
        from ganzoo.training.sampling import generate_images

        return generate_images(self.generator, n, labels=labels, seed=seed)  # float32 in [-1, 1]


def open_sampler(source, hub=None):
    """Returns an object with `num_classes` and `generate(n, labels, seed)` for `source`.

    Raises:
        FileNotFoundError: a path that does not exist.
        ImportError: a `.keras` file without Keras installed.
        ValueError: an unknown preset name (listing the known ones).
    """
    from ganzoo.export.runtime import OnnxGenerator

    if os.path.isdir(source):
        keras_file, onnx_file = os.path.join(source, "generator.keras"), os.path.join(source, "generator.onnx")
        if os.path.isfile(keras_file) and _keras_available():
            from ganzoo.client import presets
            from ganzoo.training import generators

            return _KerasSampler(generators.load_generator(keras_file))
        if os.path.isfile(onnx_file):
            return OnnxGenerator(onnx_file)
        if os.path.isfile(keras_file):
            raise _needs_keras(f"on {keras_file}")
        raise FileNotFoundError(
            f"Expected a run folder holding generator.keras or generator.onnx. Received: {source!r}"
        )
    if source.endswith(".onnx"):
        return OnnxGenerator(source)
    if source.endswith(".keras") or os.sep in source or "/" in source:
        if not os.path.isfile(source):
            raise FileNotFoundError(f"Expected a generator .keras or .onnx file. Received: {source!r} does not exist")
        if not _keras_available():
            raise _needs_keras(f"on {source}")
        from ganzoo.client import presets
        from ganzoo.training import generators

        return _KerasSampler(generators.load_generator(source))
    from ganzoo.client import presets
    from ganzoo.training import generators

    config = presets.load_config(source, hub)  # an unknown name fails here, listing the known ones
    if config.get("onnx") is not None:
        return OnnxGenerator.from_preset(source, hub)
    if not _keras_available():
        raise _needs_keras(f"on preset {source!r} (it has no ONNX file)")
    return _KerasSampler(generators.load_generator(source, hub))


def run_generate(args):
    """Handler of `ganzoo generate`."""
    import numpy as np

    from ganzoo.client.images import save_grid

    if args.num < 1:
        raise ValueError(f"Expected -n to be a positive int. Received: -n {args.num}")
    if args.nrow is not None and args.nrow < 1:
        raise ValueError(f"Expected --nrow to be a positive int. Received: --nrow {args.nrow}")
    if args.seed < 0:
        raise ValueError(f"Expected --seed to be a non-negative int. Received: --seed {args.seed}")
    labels = None if args.labels is None else parse_labels(args.labels)
    given = None if labels is None else len(labels)
    sampler = open_sampler(args.source, args.hub)
    num_classes = sampler.num_classes
    if labels is not None:
        if num_classes is None:
            raise ValueError(f"Expected no --labels for an unconditional generator. Received: --labels={args.labels!r}")
        labels = np.resize(np.array(labels), args.num)
    elif num_classes is not None:
        labels = np.arange(args.num) % num_classes
    images = sampler.generate(args.num, labels=labels, seed=args.seed)
    # One class per column: the default labels cycle through the classes, given ones through their list
    # (a single given label: a square grid).
    columns = None if num_classes is None else (num_classes if given is None else (given if given > 1 else None))
    nrow = args.nrow or (min(columns, args.num) if columns else None)
    save_grid(images, args.output, nrow=nrow)
    print(f"Wrote {args.num} samples to {args.output}")
    return 0
