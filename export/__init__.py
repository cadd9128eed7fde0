"""Keras generator -> ONNX, and an onnxruntime-only runtime for the result.

Installed as `ganzoo.export` (the source folder is the top-level `export/`;
nothing installs a top-level `export` module). Names load lazily:
`import ganzoo.export.runtime` (or `ganzoo.export.OnnxGenerator`) imports
only numpy and onnxruntime, never TensorFlow or Keras, so an app can
run an exported generator without them. `to_onnx` and `verify` import
Keras when first used.

Example:
    >>> from ganzoo import export
    >>> export.to_onnx(generator, "generator.onnx", uint8_output=True)
    >>> images = export.OnnxGenerator("generator.onnx").generate(16, seed=0)
"""

import importlib

# public name -> module that defines it
_EXPORTS = {
    "to_onnx": "ganzoo.export.onnx_export",
    "ExportResult": "ganzoo.export.onnx_export",
    "verify": "ganzoo.export.verification",
    "VerificationError": "ganzoo.export.verification",
    "FLOAT32_ATOL": "ganzoo.export.verification",
    "FLOAT16_ATOL": "ganzoo.export.verification",
    "UINT8_ATOL": "ganzoo.export.verification",
    "FLOAT16_UINT8_ATOL": "ganzoo.export.verification",
    "OnnxGenerator": "ganzoo.export.runtime",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ganzoo.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
