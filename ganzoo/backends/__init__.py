"""One driver per Keras backend, picked once, when this package is imported, as Keras picks its own.

Everything that differs per backend sits in one module per backend:
`ganzoo.backends.tensorflow`, `.jax`, `.torch` (and `.unsupported` for the
backends ganzoo cannot train on). `driver` is the one for
`keras.backend.backend()`; the rest of ganzoo calls it and never asks which
backend runs. Each driver defines:

- `NAME`: the Keras backend name; `onnx_export_in_process()`: whether
  ganzoo's ONNX exporter (tf2onnx) can run in this process.
- gradients: `minimize`, `input_gradients`, `train_step` (Keras' method,
  with the JAX trainer's state on JAX), `state_kept_on_error`,
  `checked_labels` (see `ganzoo.training.gradients`).
- distribution hooks: `replica_context`, `gather`, `hides_batch_size`,
  `check_compile`, `data_parallel` (see `ganzoo.training.distribution`).
- precision probe: `accelerator` (see `ganzoo.training.mixed_precision`).

The private Keras access these need sits in `ganzoo.backends.keras_private`.

Example:
    >>> from ganzoo.backends import driver
    >>> driver.NAME == keras.backend.backend()
    True
"""

import keras

from ganzoo.backends import unsupported
from ganzoo.backends.unsupported import SUPPORTED_BACKENDS

if keras.backend.backend() == "tensorflow":
    from ganzoo.backends import tensorflow as driver
elif keras.backend.backend() == "jax":
    from ganzoo.backends import jax as driver
elif keras.backend.backend() == "torch":
    from ganzoo.backends import torch as driver
else:
    driver = unsupported


def check_backend():
    """Raises unless ganzoo can train on the Keras backend.

    Raises:
        NotImplementedError: a backend other than tensorflow, jax and torch
            (generators still load and run on it).
    """
    if driver is unsupported:
        unsupported.check_backend()


__all__ = ["SUPPORTED_BACKENDS", "check_backend", "driver"]
