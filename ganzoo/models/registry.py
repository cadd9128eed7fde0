"""The zoo's network resolver: a preset names a builder and its arguments; this builds it.

A preset stores each network as data, `{"builder": name, "args": {...},
"parameters": int}`, never as a serialized Keras graph, so a preset a
reviewer can read cannot run code. This is the one place that maps those
names to functions.
"""

from ganzoo.models.dcgan import dcgan_discriminator, dcgan_generator
from ganzoo.models.resnet import resnet_discriminator, resnet_generator

BUILDERS = {
    "dcgan_generator": dcgan_generator,
    "dcgan_discriminator": dcgan_discriminator,
    "resnet_generator": resnet_generator,
    "resnet_discriminator": resnet_discriminator,
}
GENERATOR_BUILDERS = ("dcgan_generator", "resnet_generator")
# Arguments a preset may not set: the precision is chosen when building, the name by the GAN.
_RESERVED_ARGS = ("dtype", "name")


def _args(entry, source):
    if not isinstance(entry, dict) or entry.get("builder") not in BUILDERS or not isinstance(entry.get("args"), dict):
        raise ValueError(
            f"Expected {source} to be {{'builder': one of {sorted(BUILDERS)}, 'args': {{...}}}}. Received: {entry!r}"[
                :600
            ]
        )
    reserved = sorted(set(entry["args"]) & set(_RESERVED_ARGS))
    if reserved:
        raise ValueError(
            f"Expected no {reserved[0]!r} in {source}.args (it is chosen when building). Received: {entry['args']!r}"
        )
    args = dict(entry["args"])
    if isinstance(args.get("image_shape"), list):
        args["image_shape"] = tuple(args["image_shape"])
    return args


def build_network(entry, dtype=None, source="a network entry"):
    """Builds a network from its preset entry `{"builder": ..., "args": ...}`.

    Args:
        entry: the entry, as stored in a preset.
        dtype: dtype policy of the hidden layers (e.g. `"float32"` for an
            export copy); None follows the global policy. Output layers are
            float32 whatever it is. The global policy is never changed.
        source: where the entry came from, for errors.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: an unknown builder, a reserved argument, a bad argument
            (the builder names it), or a recorded `parameters` count that the
            built network does not have.

    Example:
        >>> build_network({"builder": "dcgan_generator", "args": {"image_shape": [16, 16, 1], "latent_dim": 8}})
    """
    args = _args(entry, source)
    try:
        network = BUILDERS[entry["builder"]](**args, dtype=dtype)
    except TypeError as error:  # an unknown or missing argument
        raise ValueError(f"Expected the arguments of {entry['builder']} in {source}. Received: {error}") from None
    expected = entry.get("parameters")
    if expected is not None and network.count_params() != expected:
        raise ValueError(
            f"Expected {source} to build a network with parameters={expected}. "
            f"Received: {entry['builder']}(**args) has {network.count_params()} parameters"
        )
    return network


def network_entry(builder, **args):
    """Returns the preset entry for `builder(**args)`, with its parameter count (it builds the network once).

    Example:
        >>> network_entry("dcgan_discriminator", image_shape=[16, 16, 1], filters=32)["parameters"]
    """
    entry = {"builder": builder, "args": {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}}
    entry["parameters"] = int(build_network(entry, source=f"network_entry({builder!r})").count_params())
    return entry
