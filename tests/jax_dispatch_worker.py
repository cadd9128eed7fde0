"""Dispatches 64 steps of a program that all-reduces over 2 JAX host devices without waiting, as `fit` does.

Run by tests/test_distribution.py in a process of its own (the device count and the thread pool are fixed when JAX
starts). Each step is slow next to its dispatch, so launches pile up in XLA's CPU thread pool. Prints "done" when
all 64 steps finish.
"""

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

mesh = Mesh(jax.devices(), ("batch",))
rows = NamedSharding(mesh, PartitionSpec("batch"))
replicated = NamedSharding(mesh, PartitionSpec())


@jax.jit
def step(x, w):
    y = jax.lax.fori_loop(0, 50, lambda i, y: jnp.tanh(y @ w), x)
    return y * 0.5 + jnp.sum(y, axis=0, keepdims=True) * 1e-3  # the sum over rows all-reduces across the devices


assert len(jax.devices()) == 2, jax.devices()
x = jax.device_put(jnp.ones((256, 128), jnp.float32), rows)
w = jax.device_put(jnp.eye(128, dtype=jnp.float32) * 0.9, replicated)
step(x, w).block_until_ready()
for _ in range(64):
    x = step(x, w)
x.block_until_ready()
print("done", flush=True)
