"""Keras training: the GAN and its step, losses, optimizer container, inputs,
sampling, callbacks, mixed precision, distribution and the recipes (`config`).

Needs a training extra (`[tensorflow]`, `[jax]` or `[torch]`).
"""
