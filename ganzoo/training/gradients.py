"""Gradients and label checks for the train step, on whichever backend runs (see `ganzoo.backends`).

Everything in ganzoo's step (losses, the penalty formula, the networks)
is written once in `keras.ops`. How a gradient is taken differs per
backend, and lives in the backend's driver:

- TensorFlow: a `tf.GradientTape` per update (a nested tape for the penalty).
- PyTorch: `torch.autograd.grad` on the updated network's parameters only
  (`create_graph=True` for the penalty), so the other network never gets a
  `.grad`.
- JAX: `jax.value_and_grad` of the same Keras code run on explicit values
  in a `keras.StatelessScope`; the JAX trainer's state goes in and out of
  the step as values.
"""

import keras
import numpy as np

from ganzoo.backends import SUPPORTED_BACKENDS, check_backend, driver
from ganzoo.client.labels import out_of_range

__all__ = ["SUPPORTED_BACKENDS", "check_backend", "check_labels", "input_gradients", "minimize", "to_numpy"]


def minimize(optimizer, variables, loss_fn):
    """Takes one optimizer step on `variables` for the loss `loss_fn()` returns.

    The loss is scaled by `optimizer.scale_loss` inside the differentiated
    function, so a `LossScaleOptimizer` gets scaled gradients and its
    `apply` (or `stateless_apply`) unscales them and skips the step on
    inf/NaN. Plain optimizers leave the loss as it is. Works eagerly, inside
    a compiled `fit` step, and on every supported backend.

    Args:
        optimizer: the optimizer that owns `variables`.
        variables: the trainable variables to update; no other trainable
            variable changes (non-trainable state that `loss_fn` updates,
            such as BatchNorm statistics or the noise seed, is kept).
        loss_fn: callable returning `(loss, aux)`; `loss` a float32 scalar,
            `aux` any structure of tensors returned unchanged.

    Returns:
        `(loss, aux)` as computed.

    Example:
        >>> loss, _ = minimize(gan.d_optimizer, gan.discriminator.trainable_variables, lambda: gan._d_loss(x, None))
    """
    return driver.minimize(optimizer, variables, loss_fn)


def input_gradients(fn, x):
    """Returns d(sum fn(x))/dx, differentiable again (for gradient penalties).

    Called inside `minimize`'s loss function, the outer gradient sees this
    inner gradient computation, so the penalty is trained through. State
    updates made by `fn` (e.g. spectral-norm power iterations) are dropped
    on JAX, where they would leak out of the inner trace.

    Args:
        fn: callable of one tensor.
        x: the float tensor to differentiate at.

    Returns:
        A tensor shaped like `x`.

    Example:
        >>> input_gradients(lambda x: keras.ops.square(x), keras.ops.ones((2,)))  # [2., 2.]
    """
    return driver.input_gradients(fn, x)


def check_labels(labels, num_classes):
    """Checks that labels lie in [0, num_classes), where the values can be seen for free.

    Labels whose values are already on the host (NumPy, CPU tensors of
    PyTorch or eager TensorFlow) are checked at once. Labels on an
    accelerator are not copied back, which would stall the step every
    batch; TensorFlow graphs get assertion ops instead (XLA drops those),
    and a traced JAX step has no values to check. `GAN.fit` checks labels
    where they enter (arrays, datasets and generators) on every backend.

    Raises:
        ValueError: a label out of range, among values on the host.
    """
    message = f"Expected labels in [0, {num_classes}) because num_classes={num_classes}. Received a label out of range"
    values = np.asarray(labels) if isinstance(labels, np.ndarray) else driver.host_values(labels)
    if values is not None:
        if out_of_range(values, num_classes):
            raise ValueError(f"{message}: min {values.min()}, max {values.max()}.")
        return labels
    return driver.checked_labels(labels, num_classes, message)


def to_numpy(x):
    """A NumPy array of a backend tensor (or array-like)."""
    return np.asarray(keras.ops.convert_to_numpy(x))
