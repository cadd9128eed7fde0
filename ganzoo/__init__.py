"""ganzoo: a Keras 3 GAN model zoo with ONNX export tooling.

The public API is listed in ``__all__``. Names load lazily, so that
``import ganzoo`` (and ``ganzoo list``) does not import TensorFlow.
"""

import importlib

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "GAN": "ganzoo.training.gan",
    "generate_images": "ganzoo.training.sampling",
    "losses": "ganzoo.training.losses",
    "models": "ganzoo.models",
    "data": "ganzoo.data",
    "list_presets": "ganzoo.client.presets",
    "load_generator": "ganzoo.training.generators",
    "describe_generator": "ganzoo.models.describe",
    "metrics": "ganzoo.metrics",
    "callbacks": "ganzoo.training.callbacks",
    "balance": "ganzoo.training.balance",
    "train": "ganzoo.runs.run",
    "default_config": "ganzoo.training.config",
    "build_gan": "ganzoo.training.config",
    "evaluate_generator": "ganzoo.runs.evaluation",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(missing_backend_message(error, f"ganzoo.{name}")) from error
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def missing_backend_message(error, what):
    """The message for a missing training dependency: what is missing and which extra brings it."""
    from ganzoo.install_hints import training_import_error

    return str(training_import_error(what, error))


def __dir__():
    return sorted(__all__)
