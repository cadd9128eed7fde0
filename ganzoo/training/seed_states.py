"""The random state a GAN saves with its weights: its noise `SeedGenerator` and its networks' random layers.

Keras' weight files hold no seed states. `GAN.save_own_variables` adds
them as `seed_state_<i>`, so that a run restored from a `.keras` or
`.weights.h5` file (`keras.callbacks.BackupAndRestore`, `ganzoo train
--resume`) draws the same noise as an uninterrupted one.
"""

import keras
import numpy as np

from ganzoo.models import describe as networks

PREFIX = "seed_state_"


def seed_generators(gan):
    """The GAN's `SeedGenerator`s in a fixed order: the training noise's, then the networks' layers' (Dropout, ...)."""
    return [gan.seed_generator, *networks.seed_generators(gan.generator, gan.discriminator)]


def save(gan, store):
    """Writes each seed state into the weights `store` as `seed_state_<i>`."""
    for index, generator in enumerate(seed_generators(gan)):
        store[f"{PREFIX}{index}"] = keras.ops.convert_to_numpy(generator.state.value)


def split(store):
    """`(weights, seeds)`: the entries of a weights `store` without the seed states, and the seed states."""
    keys = list(store.keys())
    seeds = {key: store[key] for key in keys if key.startswith(PREFIX)}
    return {key: store[key] for key in keys if key not in seeds}, seeds


def load(gan, seeds):
    """Sets the GAN's seed states from `split`'s `seeds`; none (a file from before they were saved) sets none.

    Raises:
        ValueError: a count of seed states other than the GAN's.
    """
    states = seed_generators(gan)
    if seeds and len(seeds) != len(states):
        raise ValueError(
            f"Expected {len(states)} seed states (the training noise and the networks' random layers) in the "
            f"weights file. Received: {len(seeds)}; were the networks changed?"
        )
    for index, generator in enumerate(states if seeds else []):
        generator.state.assign(np.asarray(seeds[f"{PREFIX}{index}"]))
