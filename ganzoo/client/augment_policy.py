"""The DiffAugment policy names (standard library only: the preset schema checks them without Keras)."""

from ganzoo.client.schema_checks import FLOAT, STR, check_range

POLICIES = ("color", "translation", "cutout")
# A preset's augmentation keys under `gan` ({key: (type, nullable)}) and the values of presets that predate them.
PRESET_KEYS = {
    "augment": (STR, True),
    "augment_probability": (FLOAT, False),
    "ada_target": (FLOAT, True),
    "ada_kimg": (FLOAT, False),
}
PRESET_DEFAULTS = {"augment": None, "augment_probability": 1.0, "ada_target": None, "ada_kimg": 100.0}


def check_policy(policy, argument="augment"):
    """Returns the policy as a tuple of transform names (empty for None or "").

    Raises:
        ValueError: an unknown transform, a repeated one, or not a string.
    """
    if policy is None or policy == "":
        return ()
    if not isinstance(policy, str):
        raise ValueError(
            f"Expected {argument} to be None or a comma-separated string of {', '.join(POLICIES)}. "
            f"Received: {argument}={policy!r}"
        )
    names = tuple(name.strip() for name in policy.split(","))
    unknown = [name for name in names if name not in POLICIES]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"Expected {argument} to name each of {', '.join(POLICIES)} at most once, separated by commas. "
            f"Received: {argument}={policy!r}"
        )
    return tuple(name for name in POLICIES if name in names)  # the paper's order: color, translation, cutout


def check_preset_augment(gan, source):
    """A preset's `gan.augment` (a policy or null) and `gan.augment_probability` (in [0, 1])."""
    try:
        check_policy(gan["augment"], "gan.augment")
    except ValueError as error:
        raise ValueError(f"{error} (in {source})") from None
    p = gan["augment_probability"]
    check_range(0 <= p <= 1, "gan.augment_probability", "to be in [0, 1]", p, source)
    target = gan["ada_target"]
    check_range(target is None or 0 < target < 1, "gan.ada_target", "to be null or in (0, 1)", target, source)
    check_range(gan["ada_kimg"] > 0, "gan.ada_kimg", "to be > 0", gan["ada_kimg"], source)
