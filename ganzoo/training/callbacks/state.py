"""The callback state protocol: which callbacks carry state, and how that state travels.

A callback with both `get_state()` and `set_state(state)` carries state
(duck typing: any Keras callback, a user's own included). `stateful` names
them; `encode` splits a state into JSON and numpy arrays, `decode` joins
them again. `ganzoo.runs.checkpoint` writes and reads run checkpoints with
these; the protocol itself is described in `ganzoo.training.callbacks`.

Example:
    >>> arrays = {}
    >>> encoded = encode("GeneratorEMA", {"weights": [np.zeros(2)], "skipped_batches": 0}, arrays)
    >>> decode(encoded, arrays)["weights"][0]
    array([0., 0.])
"""

import json

import numpy as np

# The JSON stand-in of an array moved out of a state: {ARRAY_KEY: its key in the arrays}.
ARRAY_KEY = "__ndarray__"


def has_state(callback):
    """Whether `callback` has both methods of the protocol, `get_state` and `set_state`."""
    return callable(getattr(callback, "get_state", None)) and callable(getattr(callback, "set_state", None))


def stateful(callbacks):
    """The callbacks of `callbacks` that carry state, by name.

    The name is the class name; the second and later callbacks of one class
    are `Name#2`, `Name#3`, in their order. A callback listed twice, None
    and callbacks without both methods are left out.

    Returns:
        A dict, name -> callback, in the order of `callbacks`.
    """
    named, seen = {}, set()
    for callback in callbacks:
        if callback is None or id(callback) in seen or not has_state(callback):
            continue
        seen.add(id(callback))
        base, count = type(callback).__name__, 1
        while (name := base if count == 1 else f"{base}#{count}") in named:
            count += 1
        named[name] = callback
    return named


def _split(value, prefix, arrays):
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"Expected numeric or string arrays. Received: an array of dtype object in {prefix}")
        key = f"{prefix}.{len(arrays):04d}"  # the running count makes the key unique across states
        arrays[key] = value
        return {ARRAY_KEY: key}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _split(item, prefix, arrays) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(item, prefix, arrays) for item in value]
    return value


def encode(name, state, arrays):
    """The JSON part of the state of callback `name`; its numpy arrays go into the dict `arrays`.

    Each array becomes `{"__ndarray__": key}` with `arrays[key]` the array;
    numpy scalars become Python numbers and tuples lists.

    Raises:
        TypeError: `state` is not a dict, or holds something other than
            JSON values and numpy arrays.
    """
    if not isinstance(state, dict):
        raise TypeError(f"Expected get_state() of callback {name} to return a dict. Received: {type(state).__name__}")
    encoded = _split(state, name, arrays)
    try:
        json.dumps(encoded)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"Expected get_state() of callback {name} to return JSON values and numpy arrays. Received: {error}"
        ) from None
    return encoded


def decode(value, arrays):
    """`value` with every `{"__ndarray__": key}` replaced by `arrays[key]` (a dict or an open `.npz`)."""
    if isinstance(value, dict):
        if set(value) == {ARRAY_KEY}:
            return np.asarray(arrays[value[ARRAY_KEY]])
        return {key: decode(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item, arrays) for item in value]
    return value
