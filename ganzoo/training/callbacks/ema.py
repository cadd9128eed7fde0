"""`GeneratorEMA`: an exponential moving average of the generator's weights during training."""

import keras
import numpy as np

from ganzoo.training.callbacks.nan_guard import first_nonfinite


class GeneratorEMA(keras.callbacks.Callback):
    """Keeps an exponential moving average of the generator's weights.

    After every train batch, for each trainable generator weight `w`:
    `ema_w = decay * ema_w + (1 - decay) * w`, starting from the weights at
    the start of training (no bias correction). Non-trainable weights
    (BatchNorm moving mean and variance) are copied, not averaged. A batch
    whose logs hold a NaN/Inf value is skipped, so a diverging step does not
    poison the average.

    On JAX every batch syncs the model's state to read the generator's
    weights (a callback cannot reach them otherwise), which costs time on
    large models.

    Attributes:
        ema_generator: a clone of the generator holding the averaged
            weights (None before training starts). Sample, evaluate and save
            this one.
        skipped_batches: the batches skipped for NaN/Inf logs.

    Args:
        decay: the EMA decay in (0, 1), e.g. 0.999.

    Example:
        >>> ema = GeneratorEMA(0.999)
        >>> gan.fit(ds, epochs=10, callbacks=[ema])
        >>> ema.ema_generator.save("generator.keras")
    """

    def __init__(self, decay=0.999):
        super().__init__()
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
            raise ValueError(f"Expected decay in (0, 1). Received: decay={decay!r}")
        self.decay = float(decay)
        self.ema_generator = None
        self._source = None
        self._restored = None  # averaged weights from set_state, waiting for the model
        self.skipped_batches = 0

    def get_state(self):
        """What a resumed run continues from: `{"weights": ..., "skipped_batches": int}`.

        `weights` is the averaged generator's weights, a list of arrays
        (None before training started).
        """
        if self.ema_generator is not None:
            weights = self.ema_generator.get_weights()
        else:
            weights = None if self._restored is None else list(self._restored)
        return {"weights": weights, "skipped_batches": self.skipped_batches}

    def set_state(self, state):
        """Continues from a `get_state()` dict.

        Call it before `fit`: at the start of training the averaged weights
        go into a clone of the model's generator, instead of the generator's
        own weights.
        """
        weights = state["weights"]
        self._restored = None if weights is None else [np.asarray(w) for w in weights]
        self.skipped_batches = int(state["skipped_batches"])
        self.ema_generator, self._source = None, None

    def restore(self, generator, weights, skipped_batches=0):
        """Continues from saved averaged weights (a resumed run) instead of starting from `generator`'s."""
        self.ema_generator = keras.models.clone_model(generator)
        self.ema_generator.set_weights(weights)
        self._source, self._restored = generator, None
        self.skipped_batches = int(skipped_batches)

    def on_train_begin(self, logs=None):
        generator = self.model.generator
        if self._restored is not None:
            self.restore(generator, self._restored, self.skipped_batches)
        elif self.ema_generator is None or self._source is not generator:  # a new model: start over
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self._source = generator

    def on_train_batch_end(self, batch, logs=None):
        if first_nonfinite(logs) is not None:
            self.skipped_batches += 1
            return
        # `self.model` syncs the whole model state on JAX, every batch (see the class docstring).
        generator, ema = self.model.generator, self.ema_generator
        for average, weight in zip(ema.trainable_variables, generator.trainable_variables):
            average.assign(self.decay * average + (1.0 - self.decay) * keras.ops.cast(weight, average.dtype))
        for average, weight in zip(ema.non_trainable_variables, generator.non_trainable_variables):
            average.assign(weight)
