"""Serialized Keras objects that may be read without running code: a `.keras` file's config, a preset's optimizers.

Keras' `safe_mode=True` refuses serialized lambdas, but
`keras.config.enable_unsafe_deserialization()` turns that off for the whole
process; these checks read the serialized dicts themselves and do not depend
on that setting. Standard library only: nothing here imports Keras.
"""

import math
import numbers

from ganzoo.client.schema_checks import check_range, where

OPTIMIZERS = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "SGD", "Lion", "Adagrad", "Adadelta", "Adafactor", "Ftrl")
LEARNING_RATE_SCHEDULES = (
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
)
# Layers whose config carries Python code; never built, whatever Keras' safe-mode setting.
_UNSAFE_CLASSES = ("Lambda", "__lambda__", "TorchModuleWrapper")


def _walk(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def refuse_code(spec, source):
    """Refuses a serialized Keras object (a `.keras` file's config, an optimizer) that would run code on load.

    Raises:
        ValueError: a `Lambda` (or other code-carrying) layer.

    Example:
        >>> refuse_code({"class_name": "Dense", "config": {"units": 1}}, "a config")
    """
    for item in _walk(spec):
        kind = item.get("class_name")
        config = item.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        if kind in _UNSAFE_CLASSES:
            raise ValueError(
                f"Refusing to load {source}: it holds a {kind} layer{f' {name!r}' if name else ''}, whose Python "
                "code would run on load. Expected Keras and ganzoo layers only."
            )


def _keras_only(spec, source):
    """Refuses any object in `spec` named from a module outside the `keras` package, or by a registered name."""
    for item in _walk(spec):
        registered = item.get("registered_name")
        if registered is not None and registered != item.get("class_name"):
            raise ValueError(
                f"Expected only Keras classes in {source}. Received: registered_name={registered!r} for "
                f"{item.get('class_name')!r}"
            )
        module = item.get("module")
        if (
            isinstance(item.get("class_name"), str)
            and module is not None
            and not (isinstance(module, str) and (module == "keras" or module.startswith("keras.")))
        ):
            raise ValueError(
                f"Expected only Keras classes in {source}. Received: {item['class_name']} from the module {module!r}"
            )


def _check_learning_rate(rate, path, source):
    """A positive number, None (Keras' default) or a serialized schedule of Keras' own."""
    if isinstance(rate, dict):
        check_range(
            rate.get("class_name") in LEARNING_RATE_SCHEDULES,
            f"{path}.class_name",
            f"to be one of {LEARNING_RATE_SCHEDULES}",
            rate.get("class_name"),
            source,
        )
    ok = (
        rate is None
        or isinstance(rate, dict)
        or (isinstance(rate, numbers.Real) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0)
    )
    check_range(ok, path, "to be a positive number or a serialized schedule", rate, source)


def check_optimizer(spec, path, source):
    """Checks a serialized Keras optimizer: one of `OPTIMIZERS`, Keras classes only, no code, a sane learning rate.

    Raises:
        ValueError: naming the key path, e.g. `recipe.d_optimizer.class_name`.

    Example:
        >>> check_optimizer({"class_name": "Adam", "config": {"learning_rate": 2e-4}}, "recipe.d_optimizer", None)
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(
            f"Expected {where(source, path)} to be a serialized Keras optimizer (an object with 'class_name' and "
            f"'config'). Received: {path}={str(spec)[:200]}"
        )
    check_range(
        spec.get("class_name") in OPTIMIZERS,
        f"{path}.class_name",
        f"to be one of {OPTIMIZERS}",
        spec.get("class_name"),
        source,
    )
    refuse_code(spec, where(source, path))
    _keras_only(spec, where(source, path))
    _check_learning_rate(spec["config"].get("learning_rate"), f"{path}.config.learning_rate", source)
