"""`ganzoo export NAME_OR_PATH -o out.onnx [--fp16] [--uint8] [--opset 17]`."""

import sys

from ganzoo import tf_logging


def register(subparsers):
    """Adds the `export` command to the `ganzoo` CLI."""
    parser = subparsers.add_parser(
        "export",
        help="export a generator (preset name or .keras file) to ONNX, and verify it",
        description=(
            "Export a generator to ONNX (inputs z and label, output image, dynamic batch), "
            "write <out>.json with its metadata, and check it against Keras in onnxruntime."
        ),
    )
    parser.add_argument(
        "model",
        metavar="NAME_OR_PATH",
        help="a preset name, a .keras generator file, or a run folder holding generator.keras",
    )
    parser.add_argument("-o", "--output", required=True, help="the ONNX file to write (ending in .onnx)")
    parser.add_argument("--hub", help="hub for preset names (default: $GANZOO_HUB_URL, else the shipped presets)")
    parser.add_argument("--fp16", action="store_true", help="float16 weights and compute (I/O stay float32)")
    parser.add_argument("--uint8", action="store_true", help="output uint8 pixels in [0, 255] instead of [-1, 1]")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-Keras check")
    parser.set_defaults(handler=run_export)
    return parser


def run_export(args):
    """Handler of `ganzoo export`; returns the exit status."""
    import os

    if not args.output.endswith(".onnx") or os.path.isdir(args.output):
        raise ValueError(f"Expected -o to be a file path ending in .onnx. Received: -o {args.output!r}")
    model = args.model
    if os.path.isdir(model):
        if not os.path.isfile(os.path.join(model, "generator.keras")):
            raise FileNotFoundError(f"Expected a run folder holding generator.keras. Received: {model!r}")
        model = os.path.join(model, "generator.keras")
    from ganzoo.install_hints import require

    require("ganzoo export", "keras", "tensorflow", "tf2onnx", "onnx")
    tf_logging.import_tensorflow_quietly()
    from ganzoo import export  # lazily: imports Keras and TensorFlow
    from ganzoo.export.verification import VerificationError

    try:
        result = export.to_onnx(
            model,
            args.output,
            hub=args.hub,
            opset=args.opset,
            fp16=args.fp16,
            uint8_output=args.uint8,
            verify=not args.no_verify,
        )
    except VerificationError as error:
        print(f"ganzoo export: verification failed: {error}", file=sys.stderr)
        return 1
    meta = result.metadata
    print(
        f"wrote {result.path} ({meta['precision']}, output {meta['output_dtype']} "
        f"{tuple(meta['image_shape'])}, opset {meta['opset']})"
    )
    print(f"wrote {result.sidecar}")
    if result.differences is None:
        print("verification skipped")
    else:
        unit = " levels" if meta["output_dtype"] == "uint8" else ""
        diffs = ", ".join(f"batch {b}: {d:.3g}{unit}" for b, d in result.differences.items())
        print(f"verified against Keras (max abs difference <= {result.atol}{unit}): {diffs}")
    return 0
