"""The preset schema's building blocks: an object with exactly its keys and types, and a value within its rule.

Every check raises `ValueError` naming the key path (e.g. `recipe.batch_size`)
and, when given, the file or preset it came from. Standard library only.
"""

import numbers

INT, FLOAT, STR, DICT = "int", "float", "str", "dict"


def where(source, path):
    """Returns `path`, followed by ` in <source>` when the source is known."""
    return f"{path} in {source}" if source else path


def type_ok(value, kind):
    """True when `value` is of `kind`; booleans are never numbers, and an int is a float too."""
    if kind == INT:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == FLOAT:  # JSON writes 10.0 as 10.0, but a hand-written 10 is a number too
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == STR:
        return isinstance(value, str)
    return isinstance(value, dict)


def check_dict(value, keys, path, source):
    """Checks that `value` is a dict with exactly `keys` ({key: (type, nullable)}).

    Raises:
        ValueError: not an object, an unknown or a missing key, or a value
            of the wrong type, naming the first one.

    Example:
        >>> check_dict({"file": None}, {"file": (STR, True)}, "weights", None)
    """
    if not isinstance(value, dict):
        raise ValueError(f"Expected {where(source, path)} to be an object. Received: {path}={value!r}"[:600])
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ValueError(
            f"Expected only the keys {sorted(keys)} in {where(source, path)}. Received unknown key {path}.{unknown[0]}"
        )
    missing = sorted(set(keys) - set(value))
    if missing:
        raise ValueError(f"Expected the key {path}.{missing[0]} in {where(source, path)}. Received: no such key")
    for key, (kind, nullable) in keys.items():
        item = value[key]
        if item is None and nullable:
            continue
        if not type_ok(item, kind):
            wanted = kind + (" or null" if nullable else "")
            raise ValueError(
                f"Expected {where(source, f'{path}.{key}')} to be {wanted}. "
                f"Received: {path}.{key}={item!r} ({type(item).__name__})"[:600]
            )


def check_range(ok, path, rule, value, source):
    """Raises `ValueError` "Expected <path> <rule>. Received: <path>=<value>" unless `ok`.

    Example:
        >>> check_range(3 >= 1, "recipe.epochs", "to be >= 1", 3, None)
    """
    if not ok:
        raise ValueError(f"Expected {where(source, path)} {rule}. Received: {path}={value!r}"[:600])
