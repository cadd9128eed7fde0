"""The Keras internals ganzoo relies on (`ganzoo.backends.keras_private`) still behave as it assumes.

Each failure names the installed Keras version: a new Keras changed an
internal, and the one function in keras_private that reads it needs a look.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import contextlib  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.backends import keras_private  # noqa: E402

pytestmark = pytest.mark.backends


@contextlib.contextmanager
def keras_internal(what):
    """Turns any error inside into a failure that names the Keras version and the internal."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - whatever Keras now raises, say which internal broke
        pytest.fail(
            f"Keras {keras.__version__} changed {what}, which ganzoo.backends.keras_private relies on: "
            f"{type(error).__name__}: {error}"
        )


def expect(condition, what):
    if not condition:
        pytest.fail(f"Keras {keras.__version__} changed {what}, which ganzoo.backends.keras_private relies on")


def test_learning_rate_setting_tells_a_schedule_from_a_constant():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.5)
    with keras_internal("Optimizer._learning_rate"):
        scheduled = keras_private.learning_rate_setting(keras.optimizers.Adam(schedule))
        constant = keras_private.learning_rate_setting(keras.optimizers.Adam(2e-4))
    expect(scheduled is schedule, "Optimizer._learning_rate (no longer the schedule given)")
    expect(not isinstance(constant, keras.optimizers.schedules.LearningRateSchedule), "Optimizer._learning_rate")
    with keras_internal("Optimizer._learning_rate (no longer the rate given)"):
        np.testing.assert_allclose(float(keras.ops.convert_to_numpy(constant)), 2e-4, rtol=1e-6)


def test_stored_value_is_the_variables_value_and_reattach_restores_it():
    variable = keras.Variable(np.arange(3, dtype="float32"))
    with keras_internal("Variable._value"):
        stored = keras_private.stored_value(variable)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(stored), [0.0, 1.0, 2.0])
        variable._value = None  # what the JAX trainer's purge does
        expect(keras_private.stored_value(variable) is None, "Variable._value (a detached variable)")
        keras_private.reattach(variable, stored)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable.value), [0.0, 1.0, 2.0])


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only the JAX trainer detaches variables")
def test_the_jax_trainer_detaches_variables_during_fit():
    """What `state_kept_on_error` exists for: a step that fails leaves the JAX trainer's variables detached."""

    class FailingStep(keras.Sequential):
        def train_step(self, state, data):
            raise RuntimeError("step failed")

    model = FailingStep([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    with pytest.raises(RuntimeError, match="step failed"):
        model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    with keras_internal("the JAX trainer's purge of Variable._value"):
        detached = [keras_private.stored_value(v) is None for v in model.trainable_variables]
    expect(all(detached), "the JAX trainer's purge of Variable._value at the start of fit")


def test_safe_mode_holds_even_where_the_process_switched_it_off():
    from keras.src.saving.serialization_lib import SafeModeScope  # what enable_unsafe_deserialization sets

    config = keras.saving.serialize_keras_object(keras.layers.Lambda(lambda x: x * 2.0))
    with SafeModeScope(False):
        with keras_internal("keras.src.saving.serialization_lib.SafeModeScope"):
            with keras_private.safe_mode(), pytest.raises(ValueError, match="(?i)lambda"):
                keras.saving.deserialize_keras_object(config, safe_mode=True)
        # The process-wide setting is back after the scope.
        with keras_internal("SafeModeScope's restore on exit"):
            layer = keras.saving.deserialize_keras_object(config, safe_mode=True)
        expect(isinstance(layer, keras.layers.Lambda), "SafeModeScope's restore on exit")


def test_recording_scope_lists_assignments_and_keeps_variables_unchanged():
    first, second, untouched = keras.Variable(1.0), keras.Variable(2.0), keras.Variable(3.0)
    with keras_internal("StatelessScope.add_update (called by Variable.assign)"):
        with keras_private.RecordingScope([(first, 10.0)]) as scope:
            expect(float(keras.ops.convert_to_numpy(first.value)) == 10.0, "StatelessScope's state_mapping argument")
            first.assign(first + 1.0)
            second.assign(5.0)
        assigned = scope.assigned_variables()
    expect(assigned == [first, second], "StatelessScope.add_update (the variables assigned are not all recorded)")
    expect(untouched not in assigned, "StatelessScope.add_update")
    for variable, in_scope, outside in ((first, 11.0, 1.0), (second, 5.0, 2.0)):
        expect(float(keras.ops.convert_to_numpy(scope.get_current_value(variable))) == in_scope, "get_current_value")
        expect(float(keras.ops.convert_to_numpy(variable.value)) == outside, "StatelessScope (a variable changed)")


def test_recording_scope_collects_the_losses_layers_add():
    class AddsLoss(keras.layers.Layer):
        def call(self, x):
            self.add_loss(keras.ops.sum(x))
            return x

    layer = AddsLoss()
    with keras_internal("StatelessScope(collect_losses=True)"):
        with keras_private.RecordingScope() as scope:
            layer(keras.ops.ones((2,)))
            losses = layer.losses
        expect(len(losses) == 1 and len(scope.losses) == 1, "StatelessScope(collect_losses=True)")
        expect(not layer.losses, "StatelessScope(collect_losses=True) (the loss leaked onto the layer)")
