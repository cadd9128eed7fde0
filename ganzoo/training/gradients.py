"""The backend-specific part of training: gradients, the JAX state plumbing and label checks.

Everything else in ganzoo (losses, the penalty formula, the networks and the
train step itself) is written once in `keras.ops`. This module is the one
place that knows how each backend takes a gradient:

- TensorFlow: a `tf.GradientTape` per update (a nested tape for the penalty).
- PyTorch: `torch.autograd.grad` on the updated network's parameters only
  (`create_graph=True` for the penalty), so the other network never gets a
  `.grad`.
- JAX: `jax.value_and_grad` of a function that runs the same Keras code in a
  `keras.StatelessScope` whose mapping holds the traced values; each
  optimizer's `stateless_apply` gets its own slice of the optimizer state. In
  `fit`, the trainer's `train_step(state, data)` becomes one outer
  `StatelessScope` over the whole state (weights, BatchNorm statistics, the
  noise `SeedGenerator`, both optimizers and the metric trackers), whose
  final values are the new state.
"""

import contextlib

import keras
import numpy as np

SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


def backend():
    return keras.backend.backend()


def check_backend():
    """Raises if the Keras backend cannot train a ganzoo GAN."""
    if backend() not in SUPPORTED_BACKENDS:
        raise NotImplementedError(
            f"Expected the Keras backend to be one of {SUPPORTED_BACKENDS} for training. "
            f"Received: KERAS_BACKEND={backend()!r}. Generators still load and run on any backend."
        )


class _RecordingScope(keras.StatelessScope):
    """A `StatelessScope` that starts from another scope's values and remembers what was assigned."""

    def __init__(self, base=None, overrides=()):
        # collect_losses: `add_loss` inside a traced function must land in the scope, not on the layer.
        super().__init__(collect_losses=True, initialize_variables=False)
        if base is not None:
            self.state_mapping = dict(base.state_mapping)
        self.updated = {}
        for variable, value in overrides:
            self.state_mapping[id(variable)] = value

    def add_update(self, update):
        super().add_update(update)
        self.updated[id(update[0])] = update[0]


def _current_scope():
    from keras.src.backend.common.stateless_scope import get_stateless_scope  # no public accessor

    return get_stateless_scope()


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
    """
    name = backend()
    if name == "tensorflow":
        return _minimize_tf(optimizer, variables, loss_fn)
    if name == "jax":
        return _minimize_jax(optimizer, variables, loss_fn)
    if name == "torch":
        return _minimize_torch(optimizer, variables, loss_fn)
    check_backend()


def _minimize_tf(optimizer, variables, loss_fn):
    import tensorflow as tf

    from ganzoo.training.distribution import loss_scale

    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # Under tf.distribute the replicas' gradients are summed: each takes 1/replicas of its shard's mean.
        scaled_loss = optimizer.scale_loss(loss * loss_scale())
    grads = tape.gradient(scaled_loss, variables)
    optimizer.apply(grads, variables)
    return loss, aux


def _minimize_torch(optimizer, variables, loss_fn):
    import torch

    loss, aux = loss_fn()
    params = [v.value for v in variables]
    grads = torch.autograd.grad(optimizer.scale_loss(loss), params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]
    with torch.no_grad():
        optimizer.apply(grads, variables)
    aux = keras.tree.map_structure(lambda t: t.detach() if isinstance(t, torch.Tensor) else t, aux)
    return loss.detach(), aux


def _minimize_jax(optimizer, variables, loss_fn):
    import jax

    outer = _current_scope()
    variables = list(variables)
    values = [v.value for v in variables]
    trained = {id(v) for v in variables}

    def scaled_loss(trainable_values):
        with _RecordingScope(outer, zip(variables, trainable_values)) as scope:
            loss, aux = loss_fn()
            scaled = optimizer.scale_loss(loss)
        updates = [(v, scope.state_mapping[key]) for key, v in scope.updated.items() if key not in trained]
        return scaled, (loss, aux, updates)

    (_, (loss, aux, updates)), grads = jax.value_and_grad(scaled_loss, has_aux=True)(values)
    for variable, value in updates:  # BatchNorm statistics, the noise seed
        variable.assign(value)
    optimizer_variables = optimizer.variables
    new_values, new_optimizer_values = optimizer.stateless_apply([v.value for v in optimizer_variables], grads, values)
    for variable, value in zip(variables, new_values):
        variable.assign(value)
    for variable, value in zip(optimizer_variables, new_optimizer_values):
        variable.assign(value)
    return loss, aux


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
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x)
    if name == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        y = fn(x)
        return torch.autograd.grad(y.sum(), x, create_graph=True)[0]
    if name == "jax":
        import jax

        outer = _current_scope()

        def total(x):
            with _RecordingScope(outer):  # updates and losses of the penalty pass stay inside
                return keras.ops.sum(keras.ops.cast(fn(x), "float32"))

        return jax.grad(total)(x)
    check_backend()


def stateless_train_step(model, step_fn, state, data):
    """Runs the stateful `step_fn(data)` as the JAX trainer's `train_step(state, data)`.

    The whole state goes into one `StatelessScope`; the values the step
    assigns come back as the new state, in the trainer's order.

    Returns:
        `(logs, new_state)`.
    """
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    mapping = [(v, value) for group, values in zip(groups, state) for v, value in zip(group, values)]
    if len(mapping) != sum(len(group) for group in groups):
        raise ValueError("Expected the JAX trainer's state to hold every model and optimizer variable.")
    with _RecordingScope(overrides=mapping) as scope:
        logs = step_fn(data)
    new_state = tuple([scope.state_mapping[id(v)] for v in group] for group in groups)
    return logs, new_state


@contextlib.contextmanager
def state_kept_on_error(model):
    """Keeps a model's variables when `fit` fails on JAX before its first step finished.

    The JAX trainer detaches ("purges") the variables' values at the start of
    an epoch and reattaches the latest state at the end; when the very first
    step fails (for example while it is traced), there is no state to
    reattach and the model would be left without weights. The values are
    immutable JAX arrays, so keeping references costs no copy.
    """
    if backend() != "jax":
        yield
        return
    groups = (model.trainable_variables, model.non_trainable_variables, model.metrics_variables)
    optimizer = getattr(model, "optimizer", None)
    saved = [(v, v._value) for group in groups for v in group]
    saved += [(v, v._value) for v in (optimizer.variables if optimizer is not None else [])]
    try:
        yield
    except BaseException:
        for variable, value in saved:
            deleted = getattr(value, "is_deleted", lambda: False)()  # donated to a step that then failed
            if variable._value is None and not deleted:
                variable._value = value
        raise


def check_labels(labels, num_classes):
    """Checks that labels lie in [0, num_classes), where the values can be seen.

    Concrete labels (eager TensorFlow, PyTorch, NumPy) are checked at once.
    TensorFlow graphs get assertion ops; XLA drops those, and a traced JAX
    step has no values to check, so `GAN.fit` also checks labels where they
    enter (arrays, datasets and generators), on every backend.
    """
    message = f"Expected labels in [0, {num_classes}) because num_classes={num_classes}. Received a label out of range"
    try:
        values = keras.ops.convert_to_numpy(labels)
    except Exception:  # a symbolic tensor: no values yet
        values = None
    if values is not None:
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{message}: min {values.min()}, max {values.max()}.")
        return labels
    if backend() == "tensorflow":
        import tensorflow as tf

        with tf.control_dependencies(
            [
                tf.debugging.assert_non_negative(labels, message=message),
                tf.debugging.assert_less(labels, tf.cast(num_classes, labels.dtype), message=message),
            ]
        ):
            return tf.identity(labels)
    return labels


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))
