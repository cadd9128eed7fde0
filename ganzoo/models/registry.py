"""The zoo's network resolver: a preset names a builder and its arguments; this builds it.

A preset stores each network as data, `{"builder": name, "args": {...},
"parameters": int}`, never as a serialized Keras graph, so a preset a
reviewer can read cannot run code. This is the one place that maps those
names to functions. The names, what each builder takes, and how many
weights that gives, are declared in `ganzoo.client.network_args` and checked
before anything is built: the builder `<family>_<role>` declared there is
the function of that name in the family's module.
"""

from ganzoo.client import network_args
from ganzoo.models import dcgan, resnet

_FAMILIES = {module.__name__.rpartition(".")[2]: module for module in (dcgan, resnet)}


def _builder_function(name, builder):
    function = getattr(_FAMILIES.get(builder.family), name, None)
    if function is None:  # a declaration without its function: a bug in ganzoo, caught on import
        raise ImportError(
            f"Expected the builder {name} declared in ganzoo.client.network_args to be a function of "
            f"ganzoo.models.{builder.family}. Received: no such function"
        )
    return function


BUILDERS = {name: _builder_function(name, builder) for name, builder in network_args.BUILDERS.items()}
GENERATOR_BUILDERS = network_args.GENERATOR_BUILDERS


def check_entry(entry, source="a network entry"):
    """Checks a network entry against its builder's declaration and returns `(args, parameters)`, building nothing.

    Raises:
        ValueError: in one line: an unknown builder; an unknown, reserved,
            missing, ill-typed or out-of-bounds argument (naming it); a
            network over `network_args.MAX_PARAMETERS` weights; or a recorded
            `parameters` count other than the one the arguments give.
    """
    if not isinstance(entry, dict) or entry.get("builder") not in BUILDERS:
        raise ValueError(
            f"Expected {source} to be {{'builder': one of {sorted(BUILDERS)}, 'args': {{...}}}}. Received: {entry!r}"[
                :600
            ]
        )
    args, parameters = network_args.check_args(entry["builder"], entry.get("args"), path="args", source=source)
    expected = entry.get("parameters")
    if expected is not None and expected != parameters:
        raise ValueError(
            f"Expected {source} to build a network with parameters={expected!r}. "
            f"Received: {entry['builder']}(**args) has {parameters} parameters"
        )
    return args, parameters


def build_network(entry, dtype=None, source="a network entry"):
    """Builds a network from its preset entry `{"builder": ..., "args": ...}`.

    The arguments and the weight count they give are checked first
    (`check_entry`), so hostile arguments never allocate a tensor.

    Args:
        entry: the entry, as stored in a preset.
        dtype: dtype policy of the hidden layers (e.g. `"float32"` for an
            export copy); None follows the global policy. Output layers are
            float32 whatever it is. The global policy is never changed.
        source: where the entry came from, for errors.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: see `check_entry`.
        RuntimeError: the built network's weight count differs from the
            declared count (a bug in ganzoo, or a Keras that counts otherwise).

    Example:
        >>> build_network({"builder": "dcgan_generator", "args": {"image_shape": [16, 16, 1], "latent_dim": 8}})
    """
    args, parameters = check_entry(entry, source)
    network = BUILDERS[entry["builder"]](**args, dtype=dtype)
    if network.count_params() != parameters:  # the count in network_args no longer follows the builder (or Keras)
        raise RuntimeError(
            f"Expected {entry['builder']}(**args) to have the {parameters} parameters that ganzoo.client.network_args "
            f"counts. Received: {network.count_params()} in {source}; please report this"
        )
    return network


def network_entry(builder, **args):
    """Returns the preset entry for `builder(**args)`, with its parameter count (counted, not built).

    Example:
        >>> network_entry("dcgan_discriminator", image_shape=[16, 16, 1], filters=32)["parameters"]
        34657
    """
    entry = {"builder": builder, "args": {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}}
    entry["parameters"] = check_entry(entry, source=f"network_entry({builder!r})")[1]
    return entry
