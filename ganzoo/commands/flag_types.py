"""argparse `type`s of `ganzoo train`'s flags (the stabilisers, the dataset): each error names the flag and the expected form."""

import argparse
import math

from ganzoo.client.augment_policy import POLICIES, check_policy
from ganzoo.client.datasets import parse_name

OFF = "none"


def float_in(flag, low, high=math.inf, *, open_low=False, open_high=False, off=False):
    """An argparse `type` that reads a float in the interval `low..high` (closed unless `open_*`), or `none` with `off`."""
    suffix = f", or {OFF!r}" if off else ""
    if high == math.inf:
        interval = f"{'>' if open_low else '>='} {low}"
    else:
        interval = f"in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (low < value if open_low else low <= value) and (value < high if open_high else value <= high)
        if not (inside and math.isfinite(value)):  # NaN fails every comparison
            raise argparse.ArgumentTypeError(
                f"Expected {flag} to be a finite float {interval}{suffix}. Received: {text!r}"
            )
        return value

    return or_off(parse) if off else parse


def _augment_policy(text):
    try:
        names = check_policy(text.lower(), "--augment")
    except ValueError:
        names = ()
    if not names:
        raise argparse.ArgumentTypeError(
            f"Expected --augment to name each of {', '.join(POLICIES)} at most once, comma-separated (e.g. "
            f"translation,cutout), or {OFF!r}. Received: {text!r}"
        )
    return ",".join(names)


def augment_policy(text):
    """`--augment`: DiffAugment transforms, comma-separated, in the paper's order; `none` turns a preset's off."""
    return or_off(_augment_policy)(text)


def or_off(parse):
    """Wraps an argparse `type` so that it also accepts `none` (turning a preset's setting off)."""

    def parse_or_off(text):
        return OFF if text.strip().lower() == OFF else parse(text)

    return parse_or_off


def int_at_least(flag, low):
    """An argparse `type` that reads an int >= `low`."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"Expected {flag} to be an int >= {low}. Received: {text!r}")
        return value

    return parse


def dataset_name(text):
    """`--dataset`: a dataset's name or folder:PATH, checked while parsing (the folder itself is read later)."""
    try:
        parse_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).replace("Received: name=", "Received: --dataset ")) from None
    return text
