"""The JAX driver: the step's state threaded through as explicit values, `keras.distribution`, JAX's device probe.

JAX differentiates pure functions of values, while ganzoo's train step is
written once as stateful Keras code (layers read variables; BatchNorm, the
noise `SeedGenerator`, the optimizers and the metrics assign them). The
driver runs that code on explicit values, each set held in a
`keras.StatelessScope`, and hands the new values on:

- `train_step(model, step_fn, state, data)` is the JAX trainer's
  `train_step(state, data)`. The values of `state`, the trainer's
  documented tuple (trainable, non-trainable, optimizer, metric variables;
  the seed states are non-trainable, so the RNG comes in with it), map the
  variables for `step_fn(data)`; the values it leaves are the new state.
- `minimize` differentiates a function of the updated variables' values: it
  runs the loss with those mapped to the traced arguments and every other
  variable of the step to its current value. The other values the loss
  assigns (BatchNorm statistics, seeds) come out as auxiliary outputs, the
  new weights and slots from the optimizer's `stateless_apply`.
- `input_gradients` (the penalty) differentiates in a scope of its own, so
  its updates and losses stay inside its trace.

Data parallelism is `keras.distribution.DataParallel`: the step is one SPMD
program over the global batch, so nothing per replica is needed.
"""

import contextlib
import os
import warnings

import jax
import numpy as np
import keras

from ganzoo import host_threads
from ganzoo.backends import keras_private

NAME = "jax"

# `(variables, scope)` of each scope this driver has open, innermost last: where an update reads its inputs.
_open_scopes = []


@contextlib.contextmanager
def _values_in_scope(pairs):
    """Runs the body on the `(variable, value)` pairs; yields the scope, whose values are the results."""
    pairs = list(pairs)
    with keras_private.RecordingScope(pairs) as scope:
        _open_scopes.append(([variable for variable, _ in pairs], scope))
        try:
            yield scope
        finally:
            _open_scopes.pop()


def _current_values(skip=frozenset()):
    """`(variable, value)` for every variable of the innermost open scope but those in `skip` ([] outside one)."""
    if not _open_scopes:
        return []  # called outside a train step: the variables hold their values themselves
    variables, scope = _open_scopes[-1]
    return [(v, scope.get_current_value(v)) for v in variables if id(v) not in skip]


# -- gradients ----------------------------------------------------------------


def minimize(optimizer, variables, loss_fn):
    """Takes one optimizer step on `variables` for `loss_fn()`'s loss; see `ganzoo.training.gradients.minimize`."""
    variables = list(variables)
    trained = {id(v) for v in variables}
    others = _current_values(skip=trained)
    values = [v.value for v in variables]
    assigned = []  # the other variables the loss assigned, found while tracing

    def scaled_loss(trainable_values):
        with _values_in_scope(list(zip(variables, trainable_values)) + others) as scope:
            loss, aux = loss_fn()
            scaled = optimizer.scale_loss(loss)
        assigned[:] = [v for v in scope.assigned_variables() if id(v) not in trained]
        return scaled, (loss, aux, [scope.get_current_value(v) for v in assigned])

    (_, (loss, aux, new_values)), grads = jax.value_and_grad(scaled_loss, has_aux=True)(values)
    for variable, value in zip(assigned, new_values):  # BatchNorm statistics, the noise seed
        variable.assign(value)
    optimizer_variables = optimizer.variables
    new_trained, new_slots = optimizer.stateless_apply([v.value for v in optimizer_variables], grads, values)
    for variable, value in zip(variables, new_trained):
        variable.assign(value)
    for variable, value in zip(optimizer_variables, new_slots):
        variable.assign(value)
    return loss, aux


def input_gradients(fn, x):
    """Returns d(sum fn(x))/dx, differentiable again; see `ganzoo.training.gradients.input_gradients`."""
    current = _current_values()  # the enclosing update's values, traced weights included

    def total(x):
        with _values_in_scope(current):  # the penalty pass's updates and losses stay in its trace
            return keras.ops.sum(keras.ops.cast(fn(x), "float32"))

    return jax.grad(total)(x)


def train_step(model, step_fn, state, data):
    """The JAX trainer's `train_step(state, data)`, running the stateful `step_fn(data)` on `state`'s values.

    Returns:
        `(logs, new_state)`, the new state in the trainer's order.

    Raises:
        ValueError: `state` does not hold one value per model, optimizer
            and metric variable.
    """
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    expected, received = [len(group) for group in groups], [len(values) for values in state]
    if received != expected:
        raise ValueError(
            "Expected the JAX trainer's state to hold the values of the (trainable, non-trainable, optimizer, "
            f"metric) variables: {expected} of them. Received: {received}"
        )
    with _values_in_scope((v, value) for group, values in zip(groups, state) for v, value in zip(group, values)) as s:
        logs = step_fn(data)
    return logs, tuple([s.get_current_value(v) for v in group] for group in groups)


@contextlib.contextmanager
def state_kept_on_error(model):
    """Keeps a model's variables when `fit` fails before its first step finished.

    The JAX trainer detaches the variables' values at the start of an
    epoch and reattaches the latest state at the end; when the very first
    step fails (for example while it is traced), there is no state to
    reattach and the model would be left without weights. The values are
    immutable JAX arrays, so keeping references costs no copy.
    """
    groups = (model.trainable_variables, model.non_trainable_variables, model.metrics_variables)
    optimizer = getattr(model, "optimizer", None)
    variables = [v for group in groups for v in group] + list(optimizer.variables if optimizer is not None else [])
    saved = [(v, keras_private.stored_value(v)) for v in variables]
    try:
        yield
    except BaseException:
        for variable, value in saved:
            deleted = getattr(value, "is_deleted", lambda: False)()  # donated to a step that then failed
            if keras_private.stored_value(variable) is None and not deleted:
                keras_private.reattach(variable, value)
        raise


def host_values(x):
    """`x` as NumPy when it is a concrete array on the CPU, else None (traced, or on an accelerator)."""
    if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer):
        return np.asarray(x) if all(d.platform == "cpu" for d in x.devices()) else None
    return None


def checked_labels(labels, num_classes, message):
    """Returns `labels`: a traced JAX step has no values to check (`GAN.fit` checks them where they enter)."""
    return labels


# -- distribution -----------------------------------------------------------------


def replica_context():
    """`(0, 1)`: under `keras.distribution` the step is one program over the global batch."""
    return 0, 1


def gather(x):
    """`x`: the step already sees the global batch."""
    return x


def hides_batch_size():
    """True with a multi-process `keras.distribution`, where a `tf.data` map after `batch` would stop `fit`.

    Keras then shards the pipeline across processes and must read its batch
    size off the graph, which TensorFlow cannot see through a map.
    """
    return keras.distribution.distribution() is not None and jax.process_count() > 1


def check_compile(jit_compile):
    """Nothing to refuse: JAX compiles every step with XLA."""


def _warn_if_cpu_pool_can_deadlock(replicas, devices):
    """Warns when XLA's CPU pool has too few threads for `replicas` of the `devices` host devices to all-reduce while
    `fit` dispatches ahead (see `ganzoo.host_threads`; `ganzoo train --distribute` sizes the pool)."""
    threads = host_threads.pool_threads(os.environ, devices)
    needed = host_threads.threads_needed(replicas)
    if threads < needed:
        warnings.warn(
            f"XLA's CPU thread pool has {threads} threads for {replicas} host devices: training can deadlock in an "
            f"all-reduce (XLA then aborts with 'Termination timeout'). Set PJRT_NPROC={needed} or more before JAX "
            f"starts, as `ganzoo train --distribute {replicas}` does.",
            stacklevel=4,
        )


def data_parallel(replicas):
    """`keras.distribution.DataParallel` over the local accelerators, or `replicas` host devices; see
    `ganzoo.training.distribution.data_parallel`."""
    devices = jax.devices()
    if replicas is not None and replicas > len(devices):
        raise ValueError(
            f"Expected --distribute N <= {len(devices)} (the {devices[0].platform} devices JAX sees). "
            f"Received: N={replicas}"
        )
    if replicas is None and devices[0].platform == "cpu":
        raise ValueError("Expected a local GPU or TPU for --distribute. Received: only the CPU; pass --distribute N")
    chosen = devices[: replicas or len(devices)]
    if devices[0].platform == "cpu" and len(chosen) > 1:
        _warn_if_cpu_pool_can_deadlock(len(chosen), len(devices))
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=chosen))
    return contextlib.nullcontext(), len(chosen), lambda: keras.distribution.set_distribution(previous)


# -- precision ----------------------------------------------------------------------


def accelerator():
    """`(platform, compute_capability)` of JAX's first device, or None for the CPU; see
    `ganzoo.training.mixed_precision.accelerator`."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    capability = getattr(device, "compute_capability", None)
    return device.platform, float(capability) if capability else None


# -- export ----------------------------------------------------------------------


def onnx_export_in_process():
    """False: ganzoo's ONNX exporter (tf2onnx) needs the TensorFlow backend; on JAX it runs in a subprocess."""
    return False
