"""Analytic model FLOPs of a GAN train step, shared by the throughput benchmarks (no TensorFlow import).

FLOPs are counted from the layer shapes (2 per multiply-add; Dense, Conv2D and Conv2DTranspose only;
BN/activations are ignored). One training image costs about 3x the forward FLOPs of each network it
passes through (forward + two backward products):
  critic step:    G forward (1x G) + D on real and fake (2 x 3x D) [+ GP: ~3x D more]
  generator step: G and D forward+backward (3x G + 3x D), once per k critic images.
"""

import keras


def forward_flops(model):
    """Forward FLOPs per image of the Dense/Conv layers of a functional model."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            h, w = layer.input.shape[1:3]
            kh, kw, c_out, c_in = layer.kernel.shape
            total += 2 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            kh, kw, c_in, c_out = layer.kernel.shape
            total += 2 * h * w * kh * kw * c_in * c_out
    return total


def train_flops_per_image(g_flops, d_flops, k, gp):
    """Training FLOPs per real image (see the module docstring)."""
    critic = g_flops + 2 * 3 * d_flops + (3 * d_flops if gp else 0)
    generator = (3 * g_flops + 3 * d_flops) / k
    return critic + generator
