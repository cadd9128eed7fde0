"""Shared helpers for the training-core tests: tiny models and `run_*` helpers.

Everything here is small on purpose (16x16 images, filters 8, latent_dim 8),
so that a train step costs milliseconds on two busy CPU cores.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from ganzoo.models import dcgan_discriminator, dcgan_generator  # noqa: E402

BACKEND = keras.backend.backend()
IMAGE_SHAPE = (16, 16, 1)
LATENT_DIM = 8
FILTERS = 8
NUM_CLASSES = 3
BATCH = 4  # images per critic step

# variant name -> the GAN arguments that make it (DESIGN: variants are configs)
VARIANTS = {
    "dcgan": dict(loss="non_saturating", normalization="batch"),
    "lsgan": dict(loss="least_squares", normalization="batch"),
    "wgan_gp": dict(loss="wasserstein", normalization=None, gradient_penalty_weight=10.0, discriminator_steps=5),
    "cgan": dict(loss="non_saturating", normalization="batch", num_classes=NUM_CLASSES),
}


def tiny_generator(num_classes=None, latent_dim=LATENT_DIM, filters=FILTERS, image_shape=IMAGE_SHAPE):
    return dcgan_generator(image_shape, latent_dim, num_classes=num_classes, filters=filters)


def tiny_discriminator(num_classes=None, normalization="batch", filters=FILTERS, image_shape=IMAGE_SHAPE):
    return dcgan_discriminator(image_shape, num_classes=num_classes, filters=filters, normalization=normalization)


def tiny_gan(variant="dcgan", seed=0, init_seed=0, discriminator=None, **overrides):
    """Builds an uncompiled GAN of a named variant with tiny networks.

    `init_seed` fixes the initial weights, so two calls with the same
    `init_seed` build identical networks (e.g. one per dtype policy).
    """
    spec = {**VARIANTS[variant], **overrides}
    num_classes = spec.get("num_classes")
    normalization = spec.pop("normalization")
    keras.utils.set_random_seed(init_seed)
    generator = tiny_generator(num_classes)
    if discriminator is None:
        discriminator = tiny_discriminator(num_classes, normalization)
    return GAN(generator, discriminator, latent_dim=LATENT_DIM, seed=seed, **spec)


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def compiled_gan(variant="dcgan", d_optimizer=None, g_optimizer=None, **kwargs):
    """`tiny_gan` compiled with two Adam(2e-4, 0.5) unless optimizers are given.

    kwargs that `compile` takes (`jit_compile`, `run_eagerly`) go there; the
    rest go to `tiny_gan`.
    """
    compile_kwargs = {k: kwargs.pop(k) for k in ("jit_compile", "run_eagerly") if k in kwargs}
    gan = tiny_gan(variant, **kwargs)
    gan.compile(d_optimizer or adam(), g_optimizer or adam(), **compile_kwargs)
    return gan


def random_images(n, seed=0, image_shape=IMAGE_SHAPE):
    """Float32 images in [-1, 1], `(n, *image_shape)`."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, *image_shape)).astype("float32")


def random_labels(n, seed=0, num_classes=NUM_CLASSES):
    return np.random.default_rng(seed + 1).integers(0, num_classes, n).astype("int32")


def train_data(gan, steps, seed=0, batch=BATCH):
    """Real data for `steps` train steps of `gan`: images, or (images, labels).

    Returns a tuple `(x, batch_size)` for `fit(x, batch_size=...)`: each fit
    batch holds `discriminator_steps * batch` images.
    """
    per_step = batch * gan.discriminator_steps
    images = random_images(steps * per_step, seed)
    if gan.num_classes is None:
        return images, per_step
    return (images, random_labels(steps * per_step, seed, gan.num_classes)), per_step


def run_steps(gan, steps=1, data=None, seed=0, batch=BATCH):
    """Runs `steps` train steps through `fit`; returns the History's logs."""
    if data is None:
        x, batch_size = train_data(gan, steps, seed, batch)
    else:
        x, batch_size = data, batch * gan.discriminator_steps
    history = gan.fit(x, batch_size=batch_size, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return history.history


def tensor(x):
    """A backend tensor of `x` (a NumPy array)."""
    return keras.ops.convert_to_tensor(x)


def weights(variables):
    """NumPy copies of `variables` (a snapshot)."""
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def assert_weights_equal(before, variables):
    for old, new in zip(before, weights(variables), strict=True):
        np.testing.assert_array_equal(new, old)


def weights_changed(before, variables):
    """True if any of `variables` differs from the snapshot `before`."""
    return any(not np.array_equal(old, new) for old, new in zip(before, weights(variables), strict=True))


def all_finite(values):
    return all(np.all(np.isfinite(np.asarray(v))) for v in values)


@keras.saving.register_keras_serializable(package="ganzoo_tests")
class Spy(layers.Layer):
    """Identity layer that records every tensor it sees (eager execution only).

    Put it first in a discriminator and train with `run_eagerly=True` to see
    exactly which images (or labels) the discriminator is given.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x):
        if keras.backend.backend() == "jax":  # values inside jax.grad traces arrive through a callback
            import jax

            jax.debug.callback(lambda value: self.seen.append(np.array(value)), x, ordered=True)
            return x
        self.seen.append(np.array(keras.ops.convert_to_numpy(keras.ops.stop_gradient(x))))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def linear_critic(kernel, bias=0.0, image_shape=IMAGE_SHAPE, spy=False):
    """D(x) = w . flatten(x) + b, with `kernel` of shape `(prod(image_shape),)`."""
    image = keras.Input(image_shape, name="image")
    x = Spy(name="spy")(image) if spy else image
    x = layers.Flatten()(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    model = keras.Model(image, logit, name="linear_critic")
    model.get_layer("logit").set_weights([np.reshape(kernel, (-1, 1)).astype("float32"), np.array([bias], "float32")])
    return model


def spy_critic(num_classes=None, image_shape=IMAGE_SHAPE):
    """A small smooth conv critic (no normalization) with Spy layers on its inputs."""
    image = keras.Input(image_shape, name="image")
    inputs = [image]
    x = Spy(name="image_spy")(image)
    if num_classes is not None:
        from ganzoo.models import label_channels

        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        seen_label = Spy(name="label_spy")(label)
        x = layers.Concatenate()([x, label_channels(seen_label, num_classes, image_shape)])
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", name="conv")(x)
    x = layers.Flatten()(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs if num_classes is not None else image, logit, name="spy_critic")


def table_noise(monkeypatch, size=1 << 16):
    """Replaces `keras.random.normal`/`uniform` by lookups in fixed tables, keyed on the
    SeedGenerator's counter, for the rest of the test.

    TensorFlow's stateless RNG kernels give a different stream under XLA than in eager or
    graph execution (even with `alg="philox"`), so one seed gives two different noise streams
    with and without `jit_compile`. To compare the arithmetic of the two executions, both
    must draw the same noise: a gather from a constant table compiles to the same values
    everywhere. Each draw advances the generator exactly as `keras.random` does.
    """
    from keras import ops

    rng = np.random.default_rng(1234)
    tables = {
        "normal": rng.standard_normal(size).astype("float32"),
        "uniform": rng.uniform(0, 1, size).astype("float32"),
    }

    def draw(kind):
        def fn(shape, *args, dtype=None, seed=None, **kwargs):
            if args or kwargs.get("mean", 0.0) != 0.0 or kwargs.get("stddev", 1.0) != 1.0:
                raise NotImplementedError("table_noise draws standard noise only")
            n = int(np.prod(shape))
            counter = ops.cast(seed.next()[1], "int32")
            start = (counter * 7919) % (size - n)  # a different window per draw
            values = ops.take(ops.convert_to_tensor(tables[kind]), start + ops.arange(n, dtype="int32"))
            return ops.cast(ops.reshape(values, shape), dtype or "float32")

        return fn

    monkeypatch.setattr(keras.random, "normal", draw("normal"))
    monkeypatch.setattr(keras.random, "uniform", draw("uniform"))


def realistic_weights(generator, seed=0):
    """Gives a DCGAN generator weights of a trained scale, so that its outputs fill [-1, 1].

    Kernels are He-normal over their true fan-in (a stride-2, 4x4 transposed
    convolution sums 2x2 taps per output pixel), BatchNorm statistics and
    affine terms are non-trivial.
    """
    rng = np.random.default_rng(seed)
    for layer in generator.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape[0]
            # gamma, beta, moving_mean, moving_variance
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n), rng.normal(0, 0.2, n), rng.uniform(0.5, 2.0, n)]
            )
        elif isinstance(layer, (layers.Dense, layers.Conv2DTranspose)):
            kernel, *bias = layer.get_weights()
            fan_in = kernel.shape[0] if kernel.ndim == 2 else 4 * kernel.shape[-1]
            kernel = rng.normal(0, np.sqrt(2 / fan_in), kernel.shape)
            layer.set_weights([kernel, *(rng.normal(0, 0.1, b.shape) for b in bias)])
    return generator


def _conv_same(h, kernel, bias, stride):
    """float64 NumPy Conv2D with padding="same" (TensorFlow's split: the extra pad goes after)."""
    n, height, width, _ = h.shape
    kh, kw, _, _ = kernel.shape
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + kh - height, 0)
    pad_w = max((out_w - 1) * stride + kw - width, 0)
    padded = np.pad(h, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((n, out_h, out_w, kernel.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            patch = padded[
                :, i : i + stride * out_h : stride, j : j + stride * out_w : stride, :
            ]  # (n, out_h, out_w, C)
            out += patch @ kernel[i, j].astype("float64")
    return out + bias.astype("float64")


def numpy_forward(model, x):
    """The float64 NumPy forward pass of a plain Conv2D/Flatten/Dense model (tanh or linear activations).

    An independent reference for finite differences on every backend (JAX computes in float32
    unless x64 is switched on, so a Keras float64 copy would not be float64 there).
    """
    h = np.asarray(x, "float64")
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer) or type(layer).__name__ == "Spy":
            continue
        if isinstance(layer, layers.Conv2D):
            kernel, bias = layer.get_weights()
            h = _conv_same(h, kernel, bias, layer.strides[0])
        elif isinstance(layer, layers.Flatten):
            h = h.reshape(len(h), -1)
        elif isinstance(layer, layers.Dense):
            kernel, bias = layer.get_weights()
            h = h @ kernel.astype("float64") + bias.astype("float64")
        else:
            raise TypeError(f"numpy_forward does not know {type(layer).__name__}")
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", "linear")
        if name == "tanh":
            h = np.tanh(h)
        elif name != "linear":
            raise TypeError(f"numpy_forward does not know the activation {name}")
    return h


def load_script(name):
    """The module of `scripts/<name>.py`, loaded from its file (scripts/ is not a package)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
