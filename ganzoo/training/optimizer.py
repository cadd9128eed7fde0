"""One optimizer object that owns the discriminator's and the generator's.

Keras trainers, `BackupAndRestore` and the JAX trainer only see
`model.optimizer`. A GAN has two optimizers; `GANOptimizer` holds both, so
that `model.optimizer.variables` carries, saves and restores the state of
each. (`keras.optimizers.MultiOptimizer` refuses `LossScaleOptimizer`
members, which mixed_float16 needs.)
"""

import copy

import keras

from ganzoo.backends import keras_private
from ganzoo.client.preset_schema import validate_config
from ganzoo.models import describe as networks


@keras.saving.register_keras_serializable(package="ganzoo")
class GANOptimizer(keras.optimizers.Optimizer):
    """Owns `d_optimizer` and `g_optimizer`; each updates its own network.

    The container does not apply gradients itself: the GAN's train step
    calls `d_optimizer.apply(...)` and `g_optimizer.apply(...)` in separate
    gradient computations. Its `iterations` counts train steps.

    Args:
        d_optimizer: a `keras.optimizers.Optimizer` for the discriminator,
            possibly a `LossScaleOptimizer`.
        g_optimizer: a different `Optimizer` instance for the generator.
        name: optimizer name.

    Raises:
        TypeError: if either is not a Keras optimizer.
        ValueError: if both are the same instance (their slots and step
            counts would mix the two networks).
    """

    def __init__(self, d_optimizer, g_optimizer, name="gan_optimizer", **kwargs):
        check_pair(d_optimizer, g_optimizer)
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_for(self, discriminator_variables, generator_variables):
        """Builds both members on their networks' trainable variables."""
        self._d_variables = list(discriminator_variables)
        self._g_variables = list(generator_variables)
        if self.built:
            return
        self.d_optimizer.build(self._d_variables)
        self.g_optimizer.build(self._g_variables)
        super().build(list(discriminator_variables) + list(generator_variables))

    def build(self, variables):
        if not self.built:
            raise ValueError(
                "Expected GANOptimizer to be built with build_for(discriminator_variables, "
                "generator_variables), which GAN.compile() calls. Received: build(variables) on an unbuilt one."
            )

    @property
    def variables(self):
        # Own step counter first, then each member's state (slots, loss scale).
        return super().variables + self.d_optimizer.variables + self.g_optimizer.variables

    @property
    def learning_rate(self):
        """The discriminator's learning rate; setting it rescales both rates and keeps their ratio.

        Keras' `LearningRateScheduler`, `ReduceLROnPlateau` and `TensorBoard`
        read and set `model.optimizer.learning_rate`. Reading gives
        `d_optimizer`'s rate. Setting it to `r` sets D's rate to `r` and
        multiplies G's rate by the same factor, so a two-timescale pair (e.g.
        4e-4 / 1e-4) keeps its ratio, and a pair with one rate stays equal.
        A member whose rate is a `LearningRateSchedule` already sets its rate
        every step: setting raises a clear error then.
        """
        return self.d_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        for arg, opt in (("d_optimizer", self.d_optimizer), ("g_optimizer", self.g_optimizer)):
            setting = keras_private.learning_rate_setting(_inner(opt))
            if isinstance(setting, keras.optimizers.schedules.LearningRateSchedule):
                raise ValueError(
                    f"Expected {arg} to have a constant learning rate for model.optimizer.learning_rate to set. "
                    f"Received: {arg} with the schedule {setting!r}, which sets its rate every step."
                )
        d_rate, g_rate = (
            float(keras.ops.convert_to_numpy(o.learning_rate)) for o in (self.d_optimizer, self.g_optimizer)
        )
        value = float(keras.ops.convert_to_numpy(value))
        self.d_optimizer.learning_rate = value
        self.g_optimizer.learning_rate = g_rate * value / d_rate if d_rate else value

    def finalize_variable_values(self, var_list):
        """Lets each member finalize its own network's variables (e.g. write back `use_ema` averages)."""
        self.d_optimizer.finalize_variable_values(getattr(self, "_d_variables", []))
        self.g_optimizer.finalize_variable_values(getattr(self, "_g_variables", []))

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError("GANOptimizer applies no gradients itself; use its d_optimizer and g_optimizer.")

    def set_weights(self, weights):
        own_variables = super().variables
        own = len(own_variables)
        for variable, value in zip(own_variables, weights[:own]):
            variable.assign(value)
        n_d = len(self.d_optimizer.variables)
        self.d_optimizer.set_weights(weights[own : own + n_d])
        self.g_optimizer.set_weights(weights[own + n_d :])

    def get_config(self):
        return {
            "name": self.name,
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)


def check_pair(d_optimizer, g_optimizer):
    """Raises unless both are Keras optimizers and not one instance (or one wrapped inner optimizer)."""
    for arg, opt in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
        if not isinstance(opt, keras.optimizers.Optimizer):
            raise TypeError(f"Expected {arg} to be a keras.optimizers.Optimizer instance. Received: {arg}={opt!r}")
    if _inner(d_optimizer) is _inner(g_optimizer):
        raise ValueError(
            "Expected two different optimizer instances for the discriminator and the generator. "
            "Received the same instance for d_optimizer and g_optimizer; create one per network, "
            "e.g. keras.optimizers.Adam(2e-4, beta_1=0.5) twice."
        )


def _inner(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)


def build_optimizers(config):
    """Returns fresh `(d_optimizer, g_optimizer)` from `config["recipe"]` (Keras optimizer classes only)."""
    validate_config(config)
    recipe = config["recipe"]
    # deserialize_keras_object consumes parts of the dict it is given.
    return tuple(
        keras.saving.deserialize_keras_object(copy.deepcopy(recipe[key])) for key in ("d_optimizer", "g_optimizer")
    )


def loss_scaled(d_optimizer, g_optimizer, discriminator, generator):
    """Returns the pair with each optimizer whose gradients pass through float16 layers loss-scaled.

    Such an optimizer is wrapped in its own `keras.optimizers.LossScaleOptimizer`,
    so an overflow skips only its network's update. D's gradient passes
    through D; G's through D as well as G. The choice is read off the
    networks' layers; an optimizer the user already wrapped stays as it is.
    """
    d_half = networks.computes_in_float16(discriminator)
    g_half = d_half or networks.computes_in_float16(generator)
    return tuple(
        keras.optimizers.LossScaleOptimizer(opt)
        if half and not isinstance(opt, keras.optimizers.LossScaleOptimizer)
        else opt
        for opt, half in ((d_optimizer, d_half), (g_optimizer, g_half))
    )
