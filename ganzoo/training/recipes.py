"""Building a GAN class from a preset dict or a preset name (`GAN.from_recipe`, `GAN.from_preset`)."""

from ganzoo.client import presets
from ganzoo.client.preset_schema import validate_config
from ganzoo.models.registry import build_network
from ganzoo.training.keras_file import load_weights
from ganzoo.training.optimizer import build_optimizers


def from_recipe(cls, config, compile=True, dtype=None, **compile_kwargs):
    """`cls(generator, discriminator, **config["gan"])` from a validated preset dict, compiled when asked."""
    validate_config(config)
    generator = build_network(config["generator"], dtype=dtype, source="generator")
    discriminator = build_network(config["discriminator"], dtype=dtype, source="discriminator")
    gan = cls(generator, discriminator, **config["gan"])
    if compile:
        gan.compile(*build_optimizers(config), **compile_kwargs)
    return gan


def from_preset(cls, name, hub=None, **compile_kwargs):
    """`from_recipe` of a preset name, with its sha256-verified generator weights."""
    config = presets.load_config(name, hub)
    gan = from_recipe(cls, config, compile=True, **compile_kwargs)  # first: bad arguments fail before a download
    load_weights(gan.generator, presets.weights_path(name, hub, config))
    return gan
