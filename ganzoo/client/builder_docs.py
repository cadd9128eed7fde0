"""The builders' declared arguments in words: the `ganzoo train` flags' bounds and help, and the README's table.

Everything here is read off `ganzoo.client.network_args.BUILDERS`, so the
command line and the documentation say what the preset schema enforces.

Example:
    >>> shared_bounds("filters")
    (1, 1024)
    >>> rule_text(BUILDERS["dcgan_discriminator"].args["spectral_norm"])
    'true or false'
"""

import argparse
import json

from ganzoo.client.network_args import BUILDERS, MAX_CHANNELS, MAX_SIDE, NORMALIZATIONS, REQUIRED


def rule_text(spec):
    """An argument's declared type and bounds in words: `an int in [1, 1024]`, `true or false`, ..."""
    if spec.kind == "shape":
        return f"[height, width, channels]: sides in [1, {MAX_SIDE}], channels in [1, {MAX_CHANNELS}]"
    if spec.kind in ("int", "classes"):
        return f"{'null or ' if spec.kind == 'classes' else ''}an int in [{spec.low}, {spec.high}]"
    if spec.kind == "bool":
        return "true or false"
    return "one of " + ", ".join("null" if name is None else f'"{name}"' for name in NORMALIZATIONS)


def shared_bounds(arg):
    """`(low, high)` of an int argument that every builder taking it declares alike (`filters`, `latent_dim`).

    Raises:
        ValueError: no builder declares `arg` as an int, or two declare different bounds.
    """
    specs = [spec for builder in BUILDERS.values() for name, spec in builder.args.items() if name == arg]
    bounds = {(spec.low, spec.high) for spec in specs}
    if not specs or {spec.kind for spec in specs} != {"int"} or len(bounds) != 1:
        raise ValueError(f"Expected {arg!r} to be an int argument that every builder declares alike")
    return bounds.pop()


def bounded_int(flag, low, high):
    """An argparse `type` that reads an int in `[low, high]`, naming `flag` and the bounds when it is not one."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"Expected {flag} to be an int in [{low}, {high}]. Received: {text!r}")
        return value

    return parse


def _default_text(default):
    return "required" if default == REQUIRED else json.dumps(default)


def markdown_table():
    """The README's table of every builder's arguments: type and bounds, and default."""
    lines = ["| builder | argument | type and bounds | default |", "|---|---|---|---|"]
    for name, builder in BUILDERS.items():
        for arg, spec in builder.args.items():
            lines.append(f"| `{name}` | `{arg}` | {rule_text(spec)} | {_default_text(spec.default)} |")
    return "\n".join(lines)
