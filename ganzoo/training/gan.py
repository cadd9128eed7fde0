"""`GAN`: a keras.Model whose train_step alternates discriminator and generator updates."""

import copy
import math
import numbers

import numpy as np

try:  # the base install has no Keras: say which extra brings it
    import keras
    from keras import ops
    from keras.src.saving import serialization_lib
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.gan", error) from None

from ganzoo.client import presets
from ganzoo.client.preset_schema import validate_config
from ganzoo.models.registry import build_network
from ganzoo.training import distribution
from ganzoo.training import gradients
from ganzoo.training import inputs
from ganzoo.training.losses import get_loss, gradient_penalty_from_gradients
from ganzoo.models import describe as networks
from ganzoo.models.describe import check_discriminator, describe_generator
from ganzoo.training.keras_file import load_weights
from ganzoo.training.optimizer import GANOptimizer, build_optimizers, check_pair
from ganzoo.training.sampling import generate_images

_BCE_LOSSES = ("non_saturating", "minimax")


@keras.saving.register_keras_serializable(package="ganzoo")
class GAN(keras.Model):
    """A generator and a discriminator trained adversarially with `fit`.

    Each train step runs `discriminator_steps` discriminator (critic)
    updates, each on its own real batch and fresh noise, then one generator
    update. Every update changes only its own network's trainable weights
    (both networks run in training mode, so BatchNorm moving statistics of
    the network being run are updated, as in the DCGAN reference code).

    One element of the dataset given to `fit` holds `discriminator_steps`
    real batches: images `(discriminator_steps * batch, H, W, C)`, or
    `(images, labels)` when `num_classes` is set. `ganzoo.data.load(...,
    discriminator_steps=k)` delivers exactly that.

    Args:
        generator: any functional model with inputs `z` (and an integer
            `label`) and one image output, built by ganzoo or not.
        discriminator: any model mapping images (and labels) to one logit
            per sample, output `(batch, 1)`.
        latent_dim: size of z; must match the generator.
        loss: one of `ganzoo.training.losses.LOSSES`: `"non_saturating"` (DCGAN),
            `"least_squares"` (LSGAN), `"wasserstein"` (WGAN-GP),
            `"minimax"`, `"hinge"`.
        discriminator_steps: discriminator updates per generator update
            (n_critic; 5 for WGAN-GP).
        gradient_penalty_weight: lambda of the WGAN-GP penalty (10 in the
            paper); 0 disables it.
        label_smoothing: the real target becomes `1 - label_smoothing`
            (one-sided smoothing, the default recipe of Salimans et al.,
            2016, with e.g. 0.1).
        fake_label_smoothing: the fake target (0 by default). Setting both,
            e.g. to 0.1, is two-sided smoothing; Salimans et al. advise
            against it because a positive fake target rewards rating fakes
            as partly real.
        num_classes: class count of a conditional GAN, or None. It must
            agree with the networks' label encoder where one can be read
            (`CategoryEncoding`, `Embedding`).
        seed: seed of the training noise (and penalty interpolation). The
            stream differs with `jit_compile=True`: TensorFlow's stateless
            RNG draws other numbers under XLA for the same seed.

    Logged metrics: `d_loss`, `g_loss`, `d_real`, `d_fake` (the
    discriminator's mean output on real and fake images: a probability for
    the cross-entropy losses, the raw output otherwise) and `gp`.

    Example:
        >>> gan = GAN(dcgan_generator((16, 16, 1), 32), dcgan_discriminator((16, 16, 1)), latent_dim=32)
        >>> gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        >>> gan.fit(ganzoo.data.load("digits"), epochs=1)
    """

    def __init__(
        self,
        generator,
        discriminator,
        *,
        latent_dim,
        loss="non_saturating",
        discriminator_steps=1,
        gradient_penalty_weight=0.0,
        label_smoothing=0.0,
        fake_label_smoothing=0.0,
        num_classes=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        adversarial = get_loss(loss)
        if isinstance(num_classes, numbers.Integral) and not isinstance(num_classes, bool):
            num_classes = int(num_classes)  # NumPy integers too
        spec = describe_generator(generator, num_classes)
        if spec["num_classes"] != num_classes:  # a conditional generator and num_classes=None
            raise ValueError(
                f"Expected num_classes={spec['num_classes']} for a conditional generator (inputs z and label). "
                f"Received: num_classes={num_classes!r}"
            )
        # NumPy integers (np.int64(8), a shape entry) are ints here, stored as int.
        if (
            not isinstance(latent_dim, numbers.Integral)
            or isinstance(latent_dim, bool)
            or spec["latent_dim"] != latent_dim
        ):
            raise ValueError(
                f"Expected latent_dim to be an int matching the generator's z input ({spec['latent_dim']}). "
                f"Received: latent_dim={latent_dim!r}"
            )
        latent_dim = int(latent_dim)
        check_discriminator(discriminator, spec["image_shape"], num_classes)
        if (
            not isinstance(discriminator_steps, numbers.Integral)
            or isinstance(discriminator_steps, bool)
            or discriminator_steps < 1
        ):
            raise ValueError(
                f"Expected discriminator_steps to be an int >= 1. Received: discriminator_steps={discriminator_steps!r}"
            )
        discriminator_steps = int(discriminator_steps)
        if (
            not isinstance(gradient_penalty_weight, (int, float))
            or isinstance(gradient_penalty_weight, bool)
            or not math.isfinite(gradient_penalty_weight)
            or gradient_penalty_weight < 0
        ):
            raise ValueError(
                f"Expected gradient_penalty_weight to be a finite float >= 0. Received: gradient_penalty_weight={gradient_penalty_weight!r}"
            )
        if gradient_penalty_weight > 0 and any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in networks.all_layers(discriminator)
        ):
            raise ValueError(
                "Expected a discriminator without BatchNormalization when gradient_penalty_weight > 0: the penalty "
                "is per sample and batch norm mixes samples. Build it with normalization=None or 'layer'. "
                f"Received: gradient_penalty_weight={gradient_penalty_weight}"
            )
        for key, value in (("label_smoothing", label_smoothing), ("fake_label_smoothing", fake_label_smoothing)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise ValueError(f"Expected {key} in [0, 1). Received: {key}={value!r}")
            if value > 0 and not adversarial.smoothable:
                raise ValueError(
                    f"Expected {key}=0 with loss={loss!r}, which has no target labels to smooth. Received: {key}={value}"
                )
        if label_smoothing + fake_label_smoothing >= 1.0:
            raise ValueError(
                "Expected the fake target below the real one: label_smoothing + fake_label_smoothing < 1. "
                f"Received: label_smoothing={label_smoothing}, fake_label_smoothing={fake_label_smoothing}"
            )
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise TypeError(f"Expected seed to be None or an int. Received: seed={seed!r}")
        seed = None if seed is None else int(seed)

        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.loss_name = loss
        self.discriminator_steps = discriminator_steps
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.label_smoothing = float(label_smoothing)
        self.fake_label_smoothing = float(fake_label_smoothing)
        self.num_classes = num_classes
        self.seed = seed
        self.image_shape = spec["image_shape"]
        self._adversarial = adversarial
        self.seed_generator = keras.random.SeedGenerator(seed)
        names = ["d_loss", "g_loss", "d_real", "d_fake"] + (["gp"] if self.gradient_penalty_weight > 0 else [])
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    # -- Keras plumbing ---------------------------------------------------

    def call(self, inputs, training=False):
        """Runs the generator: `z` or `[z, labels]` -> images."""
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return list(self._trackers.values())

    @property
    def d_optimizer(self):
        return self.optimizer.d_optimizer

    @property
    def g_optimizer(self):
        return self.optimizer.g_optimizer

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Configures the two optimizers; the rest goes to `keras.Model.compile`.

        When a network computes in float16 (the `mixed_float16` policy, or
        layers built with a float16 dtype policy), each optimizer whose
        gradients pass through float16 layers is wrapped in its own
        `keras.optimizers.LossScaleOptimizer`, so an overflow skips only the
        update of the network it happened in. The choice is read off the
        networks' layers, not the GAN wrapper's policy.

        Learning rates: `gan.d_optimizer.learning_rate` and
        `gan.g_optimizer.learning_rate` are the two real rates. Keras'
        `LearningRateScheduler` and `ReduceLROnPlateau` set
        `model.optimizer.learning_rate` (see `GANOptimizer.learning_rate`): D's
        rate, with G's scaled by the same factor. For a per-network schedule,
        give each optimizer a `keras.optimizers.schedules.LearningRateSchedule`.

        Args:
            d_optimizer: optimizer for the discriminator.
            g_optimizer: a different optimizer instance for the generator.
            **kwargs: e.g. `jit_compile=True`, `steps_per_execution`.

        Raises:
            TypeError: if an optimizer is not a Keras optimizer.
            ValueError: if both are the same instance, or `loss`/`optimizer`
                is passed (they are set by the constructor and the two
                optimizer arguments).
        """
        gradients.check_backend()
        distribution.check_compile(kwargs.get("jit_compile"))
        for key in ("loss", "optimizer", "auto_scale_loss", "metrics", "weighted_metrics", "loss_weights"):
            if key in kwargs:
                raise ValueError(
                    f"Expected no {key!r} argument: GAN.compile takes d_optimizer and g_optimizer, and the "
                    f"adversarial loss is set in the constructor. Received: {key}={kwargs[key]!r}"
                )
        check_pair(d_optimizer, g_optimizer)  # before wrapping, so errors name the user's objects
        d_half = networks.computes_in_float16(self.discriminator)
        # G's gradient flows through D as well as G.
        for half, name in ((d_half, "d"), (d_half or networks.computes_in_float16(self.generator), "g")):
            opt = d_optimizer if name == "d" else g_optimizer
            if half and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                opt = keras.optimizers.LossScaleOptimizer(opt)
            d_optimizer, g_optimizer = (opt, g_optimizer) if name == "d" else (d_optimizer, opt)
        pair = GANOptimizer(d_optimizer, g_optimizer)
        pair.build_for(self.discriminator.trainable_variables, self.generator.trainable_variables)
        super().compile(optimizer=pair, auto_scale_loss=False, **kwargs)
        self._compile_config = serialization_lib.SerializableDict(
            d_optimizer=d_optimizer, g_optimizer=g_optimizer, **kwargs
        )

    def compile_from_config(self, config):
        config = serialization_lib.deserialize_keras_object(config)
        self.compile(**config)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": serialization_lib.serialize_keras_object(self.generator),
            "discriminator": serialization_lib.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "loss": self.loss_name,
            "discriminator_steps": self.discriminator_steps,
            "gradient_penalty_weight": self.gradient_penalty_weight,
            "label_smoothing": self.label_smoothing,
            "fake_label_smoothing": self.fake_label_smoothing,
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # Deep copy: deserializing a functional model empties the dict it is given,
        # and the caller's config must survive (e.g. to build a second copy).
        config = copy.deepcopy(config)
        for key in ("generator", "discriminator"):
            config[key] = serialization_lib.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)

    # -- saving: the random state too ---------------------------------------

    def _random_states(self):
        return [self.seed_generator, *networks.seed_generators(self.generator, self.discriminator)]

    def save_own_variables(self, store):
        """Saves the seed states with the weights (Keras' weight files hold none).

        The training noise's `SeedGenerator` and those of the networks' layers
        (Dropout, ...) are stored as `seed_state_<i>`, so that a run restored
        from a `.keras`/`.weights.h5` file (`keras.callbacks.BackupAndRestore`,
        `ganzoo train --resume`) draws the same noise as an uninterrupted one.
        """
        super().save_own_variables(store)
        for index, generator in enumerate(self._random_states()):
            store[f"seed_state_{index}"] = keras.ops.convert_to_numpy(generator.state.value)

    def load_own_variables(self, store):
        """Loads what `save_own_variables` saved; files without seed states (older ones) load as before."""
        keys = list(store.keys())
        seeds = [key for key in keys if key.startswith("seed_state_")]
        super().load_own_variables({key: store[key] for key in keys if key not in seeds})
        states = self._random_states()
        if seeds and len(seeds) != len(states):
            raise ValueError(
                f"Expected {len(states)} seed states (the training noise and the networks' random layers) in the "
                f"weights file. Received: {len(seeds)}; were the networks changed?"
            )
        for index, generator in enumerate(states if seeds else []):
            generator.state.assign(np.asarray(store[f"seed_state_{index}"]))

    # -- training ---------------------------------------------------------

    def _unpack(self, data):
        images, labels = inputs.split_element(data)
        inputs.check_batch_structure(images, labels, self.image_shape, self.num_classes)
        if labels is not None:
            labels = gradients.check_labels(ops.reshape(ops.cast(labels, "int32"), (-1,)), self.num_classes)
        return ops.cast(images, "float32"), labels

    def _inputs(self, images, labels):
        return images if labels is None else [images, labels]

    def _output(self, logits):
        return ops.sigmoid(logits) if self.loss_name in _BCE_LOSSES else logits

    def _global_draw(self, draw, batch, shape):
        """Draws `(batch * replicas, *shape)` numbers and returns this replica's rows (see `ganzoo.training.distribution`)."""
        return distribution.replica_rows(draw((batch * distribution.num_replicas(), *shape), seed=self.seed_generator))

    def _d_loss(self, real_images, labels):
        batch = ops.shape(real_images)[0]
        z = self._global_draw(keras.random.normal, batch, (self.latent_dim,))
        fake_images = ops.stop_gradient(self.generator(self._inputs(z, labels), training=True))
        real_logits = self.discriminator(self._inputs(real_images, labels), training=True)
        fake_logits = self.discriminator(self._inputs(fake_images, labels), training=True)
        loss = self._adversarial.discriminator_loss(
            real_logits, fake_logits, 1.0 - self.label_smoothing, self.fake_label_smoothing
        )
        loss = loss + networks.network_losses(self.discriminator)  # the user's regularizers, if any
        gp = ops.zeros((), "float32")
        if self.gradient_penalty_weight > 0:
            # One interpolation weight per sample, U[0, 1] (Gulrajani et al., algorithm 1).
            alpha = self._global_draw(keras.random.uniform, batch, (1, 1, 1))
            interpolated = real_images + alpha * (fake_images - real_images)  # (batch, H, W, C)
            grads = gradients.input_gradients(
                lambda x: self.discriminator(self._inputs(x, labels), training=True), interpolated
            )
            gp = gradient_penalty_from_gradients(grads)
            loss = loss + self.gradient_penalty_weight * gp
        stats = (self._output(real_logits), self._output(fake_logits), gp)
        return loss, stats

    def _g_loss(self, batch, labels):
        z = self._global_draw(keras.random.normal, batch, (self.latent_dim,))
        fake_logits = self.discriminator(
            self._inputs(self.generator(self._inputs(z, labels), training=True), labels), training=True
        )
        return self._adversarial.generator_loss(fake_logits) + networks.network_losses(self.generator), None

    def train_step(self, *args):
        """One alternating update; on JAX, the stateless `train_step(state, data)` of the JAX trainer."""
        if gradients.backend() == "jax":
            state, data = args
            return gradients.stateless_train_step(self, self._train_step, state, data)
        return self._train_step(*args)

    def _train_step(self, data):
        images, labels = self._unpack(data)
        # Under tf.distribute: split the global batch as one device would, then keep this replica's rows.
        batches, batch = inputs.critic_batches(
            distribution.gather(images), distribution.gather(labels), self.discriminator_steps
        )
        batches = [(distribution.replica_rows(real), distribution.replica_rows(lab)) for real, lab in batches]
        batch = batch // distribution.num_replicas()
        d_vars = self.discriminator.trainable_variables
        for real, step_labels in batches:
            d_loss, (d_real, d_fake, gp) = gradients.minimize(
                self.d_optimizer, d_vars, lambda: self._d_loss(real, step_labels)
            )
        g_loss, _ = gradients.minimize(
            self.g_optimizer, self.generator.trainable_variables, lambda: self._g_loss(batch, step_labels)
        )
        self.optimizer.iterations.assign_add(1)
        values = {"d_loss": d_loss, "g_loss": g_loss, "d_real": ops.mean(d_real), "d_fake": ops.mean(d_fake), "gp": gp}
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, with the real data checked where it enters.

        Images must be float in [-1, 1] and labels integer class ids in
        `[0, num_classes)`. Arrays are checked at once; `tf.data` datasets
        and Python generators are checked batch by batch as they are read,
        on the host, so a bad batch is an error on every backend and device
        (XLA would drop an in-graph check).
        """
        for key in ("validation_data", "validation_split", "validation_steps"):
            value = kwargs.get(key)
            if value is not None and not (key == "validation_split" and value == 0):
                raise ValueError(
                    f"Expected no {key}: a GAN has no validation loss to evaluate (monitor quality with "
                    f"ganzoo.training.callbacks.FrechetDistanceMonitor). Received: {key}={kwargs[key]!r}"
                )
        x, y = inputs.checked_fit_data(x, y, self.image_shape, self.num_classes)
        empty = "Expected x to yield at least one batch. Received: data that yielded none (empty?)"
        with gradients.state_kept_on_error(self), inputs.pipeline_errors_in_one_line():
            try:
                history = super().fit(x, y, *args, **kwargs)
            except UnboundLocalError as error:  # Keras 3.15's JAX trainer after an epoch of no steps
                if "'logs'" not in str(error):
                    raise
                raise ValueError(empty) from None
        if history.epoch and not history.history:  # every epoch ran without a single batch
            raise ValueError(empty)
        return history

    @classmethod
    def from_recipe(cls, config, compile=True, dtype=None, **compile_kwargs):
        """Builds the GAN a preset dict describes: its networks, GAN settings and (compiled) optimizers.

        Args:
            config: a preset dict (validated here; see `ganzoo.default_config`).
            compile: also compile it with the recipe's optimizers.
            dtype: dtype policy of the networks' hidden layers; None follows
                the global policy (set it to train in mixed precision).
            **compile_kwargs: passed to `compile`, e.g. `jit_compile=True`.

        Example:
            >>> gan = GAN.from_recipe(ganzoo.default_config("dcgan", epochs=1))
        """
        validate_config(config)
        generator = build_network(config["generator"], dtype=dtype, source="generator")
        discriminator = build_network(config["discriminator"], dtype=dtype, source="discriminator")
        gan = cls(generator, discriminator, **config["gan"])
        if compile:
            gan.compile(*build_optimizers(config), **compile_kwargs)
        return gan

    @classmethod
    def from_preset(cls, name, hub=None, **compile_kwargs):
        """Builds a preset's GAN from its recipe, with the published generator weights.

        The networks and GAN settings come from the preset JSON, the
        generator weights from its sha256-verified `.keras` file, and the GAN
        is compiled with the recipe's optimizers: ready to fine-tune with
        `fit` (the discriminator starts from scratch; only generators are
        published).

        Args:
            name: a preset name (see `ganzoo.list_presets()`).
            hub: weights hub (default `$GANZOO_HUB_URL`, else the shipped files).
            **compile_kwargs: passed to `compile`, e.g. `jit_compile=True`.

        Example:
            >>> gan = GAN.from_preset("dcgan_digits")
            >>> gan.fit(ganzoo.data.load("digits"), epochs=1)
        """
        config = presets.load_config(name, hub)
        gan = cls.from_recipe(config, compile=True, **compile_kwargs)  # first: bad arguments fail before a download
        load_weights(gan.generator, presets.weights_path(name, hub, config))
        return gan

    # -- sampling ---------------------------------------------------------

    def generate(self, n, labels=None, seed=None, batch_size=256):
        """Generates `n` images in [-1, 1] (see `ganzoo.generate_images`)."""
        return generate_images(
            self.generator, n, labels=labels, seed=seed, batch_size=batch_size, num_classes=self.num_classes
        )
