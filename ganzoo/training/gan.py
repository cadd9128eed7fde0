"""`GAN`: a keras.Model whose train_step alternates discriminator and generator updates."""

import copy

try:  # the base install has no Keras: say which extra brings it
    import keras
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.gan", error) from None

from ganzoo.backends import check_backend, driver
from ganzoo.client.augment_policy import check_policy
from ganzoo.training import arguments, distribution, inputs, recipes, seed_states, step
from ganzoo.training.optimizer import GANOptimizer, check_pair, loss_scaled
from ganzoo.training.sampling import generate_images

# Constructor arguments stored under their own names (`loss` is stored as `loss_name`).
_SETTINGS = (
    "latent_dim discriminator_steps gradient_penalty_weight label_smoothing fake_label_smoothing num_classes seed "
    "augment augment_probability ada_target ada_kimg r1_weight r1_interval"
).split()


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
        fake_label_smoothing: the fake target (0 by default); both set is
            two-sided smoothing, which Salimans et al. advise against.
        num_classes: class count of a conditional GAN, or None. It must
            agree with the networks' label encoder where one can be read
            (`CategoryEncoding`, `Embedding`).
        seed: seed of the training noise, penalty and augmentation draws (the
            stream differs under XLA on TensorFlow for the same seed).
        augment: DiffAugment policy wherever D sees images, real and fake
            alike (`"translation,cutout"`, + `"color"`), or None.
        augment_probability: chance of each transform per sample (1: always);
            with `ada_target` the start of an adaptive one.
        ada_target: ADA's controller (Karras et al. 2020), or None: each step
            moves the probability (the `augment_p` variable, in checkpoints)
            up when mean(sign(D(real))) exceeds the target (0.6 in the paper)
            and down below it, by batch / (ada_kimg * 1000), within [0, 1].
        ada_kimg: thousands of real images for a full 0 -> 1 sweep (paper: 500).
        r1_weight: gamma of the R1 penalty (gamma/2) E||dD/dx_real||^2
            (Mescheder et al. 2018); 0 disables it.
        r1_interval: lazy R1 (Karras et al. 2020): the penalty, times this
            interval, on every `r1_interval`-th train step only.

    Logged metrics: `d_loss`, `g_loss`, `d_real`, `d_fake` (the
    discriminator's mean output on real and fake images: a probability for
    the cross-entropy losses, the raw output otherwise), `gp` and `r1`.

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
        augment=None,
        augment_probability=1.0,
        ada_target=None,
        ada_kimg=100.0,
        r1_weight=0.0,
        r1_interval=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # The constructor's arguments by name (`loss` and `_SETTINGS`): checked, then stored under the same names.
        settings = {key: value for key, value in locals().items() if key == "loss" or key in _SETTINGS}
        settings, image_shape = arguments.check_gan_arguments(generator, discriminator, settings)
        self.generator, self.discriminator = generator, discriminator
        self.loss_name = loss
        for key in _SETTINGS:  # each constructor argument under its own name (get_config returns them)
            setattr(self, key, settings[key])
        self.augment_policy = check_policy(augment)
        self.image_shape = image_shape
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        names = ["d_loss", "g_loss", "d_real", "d_fake"] + (["gp"] if self.gradient_penalty_weight > 0 else [])
        names += (["r1"] if self.r1_weight > 0 else []) + (["augment_p"] if ada_target is not None else [])
        if ada_target is not None:  # one value for all replicas: the first replica's controller moves it
            self.augment_p = keras.Variable(
                self.augment_probability,
                dtype="float32",
                trainable=False,
                name="augment_p",
                aggregation="only_first_replica",
            )
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
        check_backend()
        distribution.check_compile(kwargs.get("jit_compile"))
        arguments.check_compile_arguments(kwargs)
        check_pair(d_optimizer, g_optimizer)  # before wrapping, so errors name the user's objects
        d_optimizer, g_optimizer = loss_scaled(d_optimizer, g_optimizer, self.discriminator, self.generator)
        pair = GANOptimizer(d_optimizer, g_optimizer)
        pair.build_for(self.discriminator.trainable_variables, self.generator.trainable_variables)
        super().compile(optimizer=pair, auto_scale_loss=False, **kwargs)
        self._compile_kwargs = dict(kwargs)

    def get_compile_config(self):
        """The arguments `compile` was given, serialized for a saved file (Keras' own record holds the pair)."""
        if not self.compiled:
            return {}
        config = {"d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer, **self._compile_kwargs}
        return keras.saving.serialize_keras_object(config)

    def compile_from_config(self, config):
        """Compiles the GAN as `get_compile_config` recorded (when a saved file is loaded)."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "loss": self.loss_name,
            **{key: getattr(self, key) for key in _SETTINGS},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # Deep copy: deserializing a functional model empties the dict it is given,
        # and the caller's config must survive (e.g. to build a second copy).
        config = copy.deepcopy(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)

    # -- saving: the random state too ---------------------------------------

    def save_own_variables(self, store):
        """Saves the seed states with the weights, so a restored run draws the same noise (`training.seed_states`)."""
        super().save_own_variables(store)
        seed_states.save(self, store)

    def load_own_variables(self, store):
        """Loads what `save_own_variables` saved; files without seed states (older ones) load as before."""
        weights, seeds = seed_states.split(store)
        super().load_own_variables(weights)
        seed_states.load(self, seeds)

    # -- training ---------------------------------------------------------

    # The step's parts as methods: `gan._d_loss(real_images, labels)` is the critic's loss on one batch, and so on.
    _global_draw = step.global_draw
    _d_loss = step.discriminator_loss
    _g_loss = step.generator_loss

    def train_step(self, *args):
        """One alternating update (`ganzoo.training.step`); on JAX, the JAX trainer's `train_step(state, data)`."""
        return driver.train_step(self, lambda data: step.train_step(self, data), *args)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, with the real data checked where it enters.

        Images must be float in [-1, 1] and labels integer class ids in
        `[0, num_classes)`. Arrays are checked at once; `tf.data` datasets
        and Python generators are checked batch by batch as they are read,
        on the host, so a bad batch is an error on every backend and device
        (XLA would drop an in-graph check).
        """
        arguments.check_fit_arguments(kwargs)
        x, y = inputs.checked_fit_data(x, y, self.image_shape, self.num_classes)
        with driver.state_kept_on_error(self), inputs.pipeline_errors_in_one_line(), arguments.empty_data_is_an_error():
            history = super().fit(x, y, *args, **kwargs)
        arguments.check_history(history)
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
        return recipes.from_recipe(cls, config, compile=compile, dtype=dtype, **compile_kwargs)

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
        return recipes.from_preset(cls, name, hub=hub, **compile_kwargs)

    # -- sampling ---------------------------------------------------------

    def generate(self, n, labels=None, seed=None, batch_size=256):
        """Generates `n` images in [-1, 1] (see `ganzoo.generate_images`)."""
        return generate_images(
            self.generator, n, labels=labels, seed=seed, batch_size=batch_size, num_classes=self.num_classes
        )
