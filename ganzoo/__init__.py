"""ganzoo: a Keras 3 GAN model zoo with ONNX export tooling.

The public API is listed in ``__all__``. Names load lazily, so that
``import ganzoo`` (and ``ganzoo list``) does not import TensorFlow.
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "GAN": "ganzoo.gan",
    "generate_images": "ganzoo.sampling",
    "losses": "ganzoo.losses",
    "models": "ganzoo.models",
    "data": "ganzoo.data",
    "list_presets": "ganzoo.zoo",
    "load_generator": "ganzoo.zoo",
    "describe_generator": "ganzoo.networks",
    "metrics": "ganzoo.metrics",
    "callbacks": "ganzoo.callbacks",
    "train": "ganzoo.train",
    "default_config": "ganzoo.config",
    "build_gan": "ganzoo.config",
    "evaluate_generator": "ganzoo.evaluate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
