"""The driver for a Keras backend ganzoo cannot train on (numpy, openvino): generators load and run; GANs do not train.

Each training entry point raises `NotImplementedError` naming the
supported backends; the probes answer as for one CPU device.
"""

import contextlib

import keras

NAME = keras.backend.backend()
SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


def check_backend():
    """Raises `NotImplementedError`: ganzoo trains on TensorFlow, JAX and PyTorch only."""
    raise NotImplementedError(
        f"Expected the Keras backend to be one of {SUPPORTED_BACKENDS} for training. "
        f"Received: KERAS_BACKEND={NAME!r}. Generators still load and run on any backend."
    )


def minimize(optimizer, variables, loss_fn):
    """Raises: no gradients here."""
    check_backend()


def input_gradients(fn, x):
    """Raises: no gradients here."""
    check_backend()


def train_step(model, step_fn, *args):
    """Raises: no training here."""
    check_backend()


def state_kept_on_error(model):
    """Nothing to keep."""
    return contextlib.nullcontext()


def host_values(x):
    """None: no values can be read on an unsupported backend."""
    return None


def checked_labels(labels, num_classes, message):
    """Returns `labels` unchanged."""
    return labels


def replica_context():
    """`(0, 1)`: one replica."""
    return 0, 1


def gather(x):
    """`x`: one replica holds the whole batch."""
    return x


def hides_batch_size():
    """False: no multi-process distribution."""
    return False


def check_compile(jit_compile):
    """Raises: no training here."""
    check_backend()


def data_parallel(replicas):
    """Raises: data parallelism needs TensorFlow or JAX."""
    raise ValueError(
        f"Expected the tensorflow or jax backend for --distribute. Received: KERAS_BACKEND={NAME!r}; PyTorch "
        "data parallelism (DDP) is not supported by ganzoo"
    )


def accelerator():
    """None: no device probe for this backend (float32 is the safe choice)."""
    return None


# -- export ----------------------------------------------------------------------


def onnx_export_in_process():
    """False: ganzoo's ONNX exporter (tf2onnx) needs the TensorFlow backend; it runs in a subprocess."""
    return False
