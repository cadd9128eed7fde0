"""The `ganzoo` command line: `ganzoo COMMAND ...`.

Each command lives in a module of `ganzoo.commands` that exposes
`register(subparsers)`; the handler it sets imports TensorFlow only when it
runs, so `ganzoo list` and `ganzoo --help` stay fast.
"""

import argparse
import importlib
import os
import sys

import ganzoo
from ganzoo import tf_logging

COMMAND_MODULES = (
    "ganzoo.commands.train",
    "ganzoo.commands.generate",
    "ganzoo.commands.serve",
    "ganzoo.commands.presets",
    "ganzoo.commands.export",
    "ganzoo.commands.evaluate",
)


def build_parser():
    """Returns the argparse parser with every available command registered."""
    parser = argparse.ArgumentParser(prog="ganzoo", description="A Keras 3 GAN model zoo with ONNX export.")
    parser.add_argument("--version", action="version", version=f"ganzoo {ganzoo.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # a real missing dependency, not an absent command module
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv=None):
    """Entry point of the `ganzoo` console script; returns the exit status."""
    tf_logging.use_default_level()  # TensorFlow's start-up lines read as failures; a user's own level wins
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except ImportError as error:
        from ganzoo import missing_backend_message

        print(
            f"ganzoo {args.command}: error: {missing_backend_message(error, 'ganzoo ' + args.command)}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print(f"ganzoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ganzoo info NAME | head`: the reader left; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 0
    except (ValueError, TypeError, OSError, KeyError) as error:
        # Bad input, a missing file or an unreachable hub: one clear line, no stack trace.
        print(f"ganzoo {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
