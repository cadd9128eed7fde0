"""The PyTorch driver: `torch.autograd.grad` updates, one device, PyTorch's device probe.

- Gradients: `torch.autograd.grad` on the updated network's parameters only
  (`create_graph=True` for the gradient penalty), so the other network never
  gets a `.grad`.
- Distribution: none; ganzoo does not support PyTorch data parallelism
  (DDP), so every step runs on one device.
- `jit_compile=True`, which Keras would turn into `torch.compile` of the
  step, is refused: ganzoo's step is not written for it.
"""

import contextlib

import keras
import torch

NAME = "torch"


# -- gradients ----------------------------------------------------------------


def minimize(optimizer, variables, loss_fn):
    """Takes one optimizer step on `variables` for `loss_fn()`'s loss; see `ganzoo.training.gradients.minimize`."""
    loss, aux = loss_fn()
    params = [v.value for v in variables]
    grads = torch.autograd.grad(optimizer.scale_loss(loss), params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]
    with torch.no_grad():
        optimizer.apply(grads, variables)
    aux = keras.tree.map_structure(lambda t: t.detach() if isinstance(t, torch.Tensor) else t, aux)
    return loss.detach(), aux


def input_gradients(fn, x):
    """Returns d(sum fn(x))/dx, differentiable again; see `ganzoo.training.gradients.input_gradients`."""
    x = x.detach().requires_grad_(True)
    y = fn(x)
    return torch.autograd.grad(y.sum(), x, create_graph=True)[0]


def train_step(model, step_fn, data):
    """Keras' `train_step(data)`: the stateful step itself."""
    return step_fn(data)


def state_kept_on_error(model):
    """Nothing to keep: PyTorch's variables keep their values when `fit` fails."""
    return contextlib.nullcontext()


def host_values(x):
    """`x` as NumPy when it already lies in host memory (a CPU tensor), else None: no device-to-host copy."""
    if isinstance(x, torch.Tensor):
        return x.detach().numpy() if x.device.type == "cpu" else None
    return None


def checked_labels(labels, num_classes, message):
    """Returns `labels`: CPU labels were checked on the host; labels on a GPU are left to `fit`'s entry checks."""
    return labels


# -- distribution -----------------------------------------------------------------


def replica_context():
    """`(0, 1)`: one replica (ganzoo has no PyTorch data parallelism)."""
    return 0, 1


def gather(x):
    """`x`: one replica holds the whole batch."""
    return x


def hides_batch_size():
    """False: no multi-process distribution on PyTorch."""
    return False


def check_compile(jit_compile):
    """Raises for `jit_compile=True`: Keras would `torch.compile` the step, which ganzoo does not support."""
    if jit_compile is True:
        raise ValueError(
            "Expected jit_compile=False (or 'auto') on the PyTorch backend: Keras turns jit_compile=True into "
            "torch.compile of the train step, which ganzoo does not support. Received: jit_compile=True. For XLA, "
            "use KERAS_BACKEND=jax or tensorflow."
        )


def data_parallel(replicas):
    """Raises: ganzoo has no PyTorch data parallelism (DDP)."""
    raise ValueError(
        "Expected the tensorflow or jax backend for --distribute. Received: KERAS_BACKEND='torch'; PyTorch "
        "data parallelism (DDP) is not supported by ganzoo"
    )


# -- precision ----------------------------------------------------------------------


def accelerator():
    """`("gpu", compute_capability)` of the first CUDA device, or None; see
    `ganzoo.training.mixed_precision.accelerator`."""
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return "gpu", major + minor / 10


# -- export ----------------------------------------------------------------------


def onnx_export_in_process():
    """False: ganzoo's ONNX exporter (tf2onnx) needs the TensorFlow backend; on PyTorch it runs in a subprocess."""
    return False
