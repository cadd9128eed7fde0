"""Spectral normalization (Miyato et al., 2018) that behaves the same on every backend.

Keras' own `keras.layers.SpectralNormalization` writes `W / sigma` back into
the wrapped layer's trainable kernel on every training-mode call. That has
two consequences for a GAN:

- The generator step calls the discriminator in training mode, so on
  TensorFlow and PyTorch it rewrites the discriminator's kernel during the
  generator's update (on JAX the write is discarded with the forward pass).
- The gradient differs by backend: TensorFlow and PyTorch differentiate
  through the written value (no gradient through sigma), JAX differentiates
  `W / sigma(W)`.

`SpectralNorm` keeps `W` as the trainable parameter and computes with
`W / sigma(W)` inside the forward pass, with the power-iteration vectors
held constant for the gradient, as in Miyato et al.'s reference code and
`torch.nn.utils.spectral_norm`. The only state it changes is the
non-trainable power-iteration vector `u`, once per training-mode call. The
generator step therefore advances `u` too (as in those references), but it
never changes `W`.
"""

import keras
from keras import layers, ops

_WRAPPABLE = (layers.Dense, layers.Conv2D)


def _l2_normalize(x):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + 1e-12)


@keras.saving.register_keras_serializable(package="ganzoo")
class SpectralNorm(layers.Wrapper):
    """Divides a `Dense` or `Conv2D` layer's kernel by its largest singular value.

    Formula: `sigma = v^T W u`, with `u`, `v` from `power_iterations` steps
    of `v = normalize(W u)`, `u = normalize(W^T v)` on the kernel reshaped
    to `(fan_in, units)`; the layer computes with `W / sigma`.

    Args:
        layer: a `keras.layers.Dense` or `keras.layers.Conv2D` (not yet built).
        power_iterations: power-iteration steps per training-mode call, >= 1.

    Reference:
        Miyato et al., 2018, "Spectral Normalization for Generative
        Adversarial Networks", https://arxiv.org/abs/1802.05957

    Example:
        >>> conv = SpectralNorm(keras.layers.Conv2D(64, 4, strides=2, padding="same"))
        >>> conv(np.zeros((2, 16, 16, 1))).shape
        (2, 8, 8, 64)
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        if not isinstance(layer, _WRAPPABLE) or isinstance(layer, layers.Conv2DTranspose):
            raise TypeError(f"Expected layer to be a keras.layers.Dense or Conv2D. Received: layer={layer!r}")
        if not isinstance(power_iterations, int) or isinstance(power_iterations, bool) or power_iterations < 1:
            raise ValueError(
                f"Expected power_iterations to be an int >= 1. Received: power_iterations={power_iterations!r}"
            )
        # No autocast: the power iteration reads the float32 kernel and u; `call` casts to the compute dtype itself.
        kwargs.setdefault("autocast", False)
        super().__init__(layer, **kwargs)
        self.power_iterations = power_iterations

    def build(self, input_shape):
        if isinstance(self.layer, layers.Conv2D) and (
            self.layer.groups != 1 or self.layer.data_format != "channels_last"
        ):
            raise ValueError(
                "Expected a Conv2D with groups=1 and data_format='channels_last' under SpectralNorm. "
                f"Received: groups={self.layer.groups}, data_format={self.layer.data_format!r}"
            )
        super().build(input_shape)
        units = self.layer.kernel.shape[-1]
        self.vector_u = self.add_weight(
            shape=(units,),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            trainable=False,
            name="vector_u",
            dtype="float32",
        )

    def normalized_kernel(self, training=False):
        """Returns `(W / sigma, sigma, u)` for the current kernel; `u` the advanced power-iteration vector."""
        kernel = ops.cast(self.layer.kernel, "float32")
        matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))  # (fan_in, units)
        u = ops.convert_to_tensor(self.vector_u)
        for _ in range(self.power_iterations if training else 0):
            v = _l2_normalize(ops.matmul(matrix, u))  # (fan_in,)
            u = _l2_normalize(ops.matmul(ops.transpose(matrix), v))  # (units,)
        u = ops.stop_gradient(_l2_normalize(u))
        v = ops.stop_gradient(_l2_normalize(ops.matmul(matrix, u)))
        sigma = ops.sum(v * ops.matmul(matrix, u))
        return kernel / sigma, sigma, u

    def call(self, inputs, training=False):
        kernel, _, u = self.normalized_kernel(training=bool(training))
        if training:
            self.vector_u.assign(u)
        inner = self.layer
        kernel = ops.cast(kernel, self.compute_dtype)
        inputs = ops.cast(inputs, self.compute_dtype)
        if isinstance(inner, layers.Dense):
            outputs = ops.matmul(inputs, kernel)
        else:
            outputs = ops.conv(
                inputs,
                kernel,
                strides=inner.strides,
                padding=inner.padding,
                data_format=inner.data_format,
                dilation_rate=inner.dilation_rate,
            )
        if inner.use_bias:
            outputs = outputs + ops.cast(inner.bias, self.compute_dtype)
        return inner.activation(outputs) if inner.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
