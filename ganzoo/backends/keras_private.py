"""Every use of Keras internals in ganzoo, in one place, each with the reason Keras' public API does not do.

The rest of ganzoo uses only `keras.*`. Each function here names the
private attribute or module it reads; `tests/test_keras_private.py` checks
each one against the installed Keras and fails with its version
(`keras.__version__`) when Keras changes under it.
"""

import contextlib

import keras


def learning_rate_setting(optimizer):
    """Returns the learning rate an optimizer was built with: a `LearningRateSchedule`, or the rate itself.

    `optimizer.learning_rate` evaluates a schedule at the current step, so
    it cannot tell a schedule from a constant rate; Keras keeps the setting
    in `Optimizer._learning_rate`.

    Args:
        optimizer: a `keras.optimizers.Optimizer` (not a `LossScaleOptimizer`:
            pass its `inner_optimizer`).

    Returns:
        The schedule, or the variable (or float) holding the constant rate.
    """
    return optimizer._learning_rate


def stored_value(variable):
    """Returns the value a variable holds outside any `StatelessScope`, or None while it is detached.

    The JAX trainer detaches ("purges") the variables' values at the start
    of `fit` (`Variable._value = None`) and reattaches the final state at its
    end. `variable.value` cannot tell: it returns a fresh initializer value
    for a detached variable.

    Args:
        variable: a `keras.Variable`.

    Returns:
        The backend array in `Variable._value`, or None.
    """
    return variable._value


def reattach(variable, value):
    """Gives a detached variable (see `stored_value`) back a value it held before `fit` detached it.

    Sets `Variable._value` directly, as the JAX trainer itself does when it
    reattaches its state.

    Args:
        variable: a `keras.Variable` whose `stored_value` is None.
        value: what `stored_value(variable)` returned before.
    """
    variable._value = value


@contextlib.contextmanager
def safe_mode():
    """Deserializes in Keras' safe mode even where the process has switched it off.

    `keras.saving.load_model(path, safe_mode=True)` yields to a process-wide
    `keras.config.enable_unsafe_deserialization()` (and to an enclosing
    `SafeModeScope(False)`): Keras' `deserialize_keras_object` prefers the
    scope's flag to its argument. Only Keras' own `SafeModeScope`, which
    `keras` does not export, forces safe mode back on.

    Example:
        >>> with safe_mode():
        ...     model = keras.saving.load_model(path, safe_mode=True, compile=False)
    """
    from keras.src.saving.serialization_lib import SafeModeScope  # not exported by keras

    with SafeModeScope(True):
        yield


class RecordingScope(keras.StatelessScope):
    """A `keras.StatelessScope` that also lists the variables assigned inside it.

    The public `get_current_value(variable)` gives a variable's value in the
    scope, but only for a variable one already holds: Keras offers no way
    to list which variables the code in the scope assigned. This subclass
    records them, relying on `Variable.assign` calling the active scope's
    `add_update((variable, value))`.

    Args:
        state_mapping: `(variable, value)` pairs, as `keras.StatelessScope`
            takes them.

    Losses added inside are collected in the scope (`collect_losses=True`),
    and variables created inside are not initialized on exit.
    """

    def __init__(self, state_mapping=()):
        super().__init__(list(state_mapping), collect_losses=True, initialize_variables=False)
        self.assigned = {}

    def add_update(self, update):
        super().add_update(update)
        self.assigned[id(update[0])] = update[0]

    def assigned_variables(self):
        """The variables assigned inside the scope, in the order of their first assignment."""
        return list(self.assigned.values())
