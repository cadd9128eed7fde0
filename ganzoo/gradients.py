"""The backend-specific part of training: gradients and in-graph checks.

Everything else in ganzoo uses `keras.ops` only. This module is the one
place that knows how gradients are taken (TensorFlow's GradientTape). A JAX
stateless step or a PyTorch `backward()` would live here too; until then
other backends get an explicit error.
"""

import keras

SUPPORTED_BACKENDS = ("tensorflow",)


def check_backend():
    """Raises if the Keras backend cannot train a ganzoo GAN."""
    backend = keras.backend.backend()
    if backend not in SUPPORTED_BACKENDS:
        raise NotImplementedError(
            f"Expected the Keras backend to be one of {SUPPORTED_BACKENDS} for training. "
            f"Received: KERAS_BACKEND={backend!r}. Generators still load and run on any backend."
        )


def minimize(optimizer, variables, loss_fn):
    """Takes one optimizer step on `variables` for the loss `loss_fn()` returns.

    The loss is scaled by `optimizer.scale_loss` inside the tape, so a
    `LossScaleOptimizer` gets scaled gradients and `optimizer.apply`
    unscales them (and skips the step on inf/NaN). Plain optimizers leave
    the loss as it is.

    Args:
        optimizer: the optimizer that owns `variables`.
        variables: the trainable variables to update; nothing else changes.
        loss_fn: callable returning `(loss, aux)`; `loss` a float32 scalar,
            `aux` any structure returned unchanged.

    Returns:
        `(loss, aux)` as computed.
    """
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        scaled_loss = optimizer.scale_loss(loss)
    grads = tape.gradient(scaled_loss, variables)
    optimizer.apply(grads, variables)
    return loss, aux


def input_gradients(fn, x):
    """Returns d(sum fn(x))/dx, differentiable again (for gradient penalties).

    Called inside an outer `minimize` tape, the outer tape records this
    inner gradient computation, so the penalty is trained through.

    Args:
        fn: callable of one tensor.
        x: the float tensor to differentiate at.

    Returns:
        A tensor shaped like `x`.
    """
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def check_labels(labels, num_classes):
    """Fails the step if a label is outside [0, num_classes).

    Under `jit_compile=True`, XLA drops assertion ops, so out-of-range labels
    are only caught in graph and eager execution (they one-hot to zeros).
    """
    import tensorflow as tf

    message = f"Expected labels in [0, {num_classes}) because num_classes={num_classes}. Received a label out of range."
    with tf.control_dependencies(
        [
            tf.debugging.assert_non_negative(labels, message=message),
            tf.debugging.assert_less(labels, tf.cast(num_classes, labels.dtype), message=message),
        ]
    ):
        return tf.identity(labels)
