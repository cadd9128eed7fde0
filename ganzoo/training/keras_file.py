"""Checks on a `.keras` archive before Keras opens it: member sizes and names, then the classes it names.

A `.keras` file is a zip, and a 1 MB zip can hold a 1 GiB `config.json`.
`check_archive` reads only the zip directory: each member's uncompressed size
(`ZipInfo.file_size`), its compression ratio and its name, and refuses a
bomb or a path-traversal name before any member is read. Python's
`zipfile`, which Keras also reads through, never inflates a member past the
size its directory states (it fails the CRC check instead), so the caps
bound what Keras reads too.

`check_keras_file` then reads `config.json` and refuses every object in it
that is neither a Keras class (module `keras` or `keras.*`) nor one of
ganzoo's own registered classes (`ganzoo>Name`), in one line naming the
class, before Keras deserializes anything. Keras' own refusal is a
multi-line dump, and `keras.config.enable_unsafe_deserialization()` turns
part of it off for the whole process; these checks do not depend on it.

This module imports Keras only inside `check_classes` (to resolve
function names and ganzoo's registered classes).
"""

import json
import os
import posixpath
import zipfile
import zlib

from ganzoo.client.preset_schema import refuse_code

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
MIB = 2**20
# A ganzoo generator's config is 5 to 50 KB; 4 MiB of JSON already parses into ~100 MB of Python objects.
MAX_CONFIG_BYTES = 4 * MIB
MAX_METADATA_BYTES = 1 * MIB
# 500 million float32 parameters plus the HDF5 overhead: room for any two networks within
# network_args.MAX_PARAMETERS (100 million each) and a user's own larger generator.
MAX_WEIGHTS_BYTES = 2048 * MIB + 64 * MIB
MAX_OTHER_BYTES = 64 * MIB  # any other member (assets)
MAX_TOTAL_BYTES = MAX_WEIGHTS_BYTES + MAX_CONFIG_BYTES + MAX_OTHER_BYTES
MAX_MEMBERS = 1000
# Keras stores members uncompressed; deflated float weights shrink by ~10%, and never 100-fold.
MAX_RATIO = 100
RATIO_FREE_BYTES = 1 * MIB  # small members may compress well (a JSON config of repeated layers)
_CAPS = {CONFIG_FILE: MAX_CONFIG_BYTES, "metadata.json": MAX_METADATA_BYTES, WEIGHTS_FILE: MAX_WEIGHTS_BYTES}
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Keras' function lookups for `{"module": "builtins", "class_name": "function"}` search these modules only.
_FUNCTION_MODULES = ("activations", "constraints", "initializers", "losses", "metrics", "optimizers", "regularizers")


def _refuse(path, what):
    raise ValueError(f"Expected a Keras v3 `.keras` archive. Received: {path} {what}"[:800])


def _bad_name(name):
    parts = name.split("/")
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or ":" in parts[0]
        or ".." in parts
        or posixpath.normpath(name).startswith("..")
    )


def check_archive(path, required=CONFIG_FILE):
    """Refuses a `.keras` zip whose directory announces a bomb, before any member is read.

    Args:
        path: the `.keras` file.
        required: the member that must be present (`config.json` to load a
            model, `model.weights.h5` to load weights only).

    Raises:
        ValueError: not a zip archive, too many members, a member over its
            size cap or compressed over 100-fold, an unsafe or repeated
            member name, an encrypted member or an unknown compression
            method. One line naming the file and the member.
        OSError: the file cannot be read.
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        _refuse(path, f"is not a zip archive ({error})")
    if len(members) > MAX_MEMBERS:
        _refuse(path, f"holds {len(members)} members (at most {MAX_MEMBERS})")
    names, total = set(), 0
    for info in members:
        name = info.filename
        if _bad_name(name):
            _refuse(path, f"holds the member {name!r}, a path outside the archive")
        if name in names:
            _refuse(path, f"holds the member {name!r} twice")
        names.add(name)
        if info.flag_bits & 0x1:
            _refuse(path, f"holds the encrypted member {name!r}")
        if info.compress_type not in _METHODS:
            _refuse(path, f"holds the member {name!r} compressed with method {info.compress_type} (stored or deflated)")
        cap = _CAPS.get(name, MAX_OTHER_BYTES)
        if info.file_size > cap:
            _refuse(path, f"holds the member {name!r} of {info.file_size} bytes uncompressed (at most {cap})")
        if info.file_size > RATIO_FREE_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            _refuse(
                path,
                f"holds the member {name!r} compressed {info.file_size // max(info.compress_size, 1)}-fold "
                f"({info.compress_size} -> {info.file_size} bytes; a zip bomb? at most {MAX_RATIO}-fold)",
            )
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        _refuse(path, f"holds {total} bytes uncompressed (at most {MAX_TOTAL_BYTES})")
    if required not in names:
        _refuse(path, f"has no {required}")


def read_config(path):
    """Returns the parsed `config.json` of a `.keras` archive that passed `check_archive`.

    Raises:
        ValueError: unreadable or invalid JSON, naming the file.
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive, archive.open(CONFIG_FILE) as member:
            text = member.read(MAX_CONFIG_BYTES + 1)  # zipfile stops at the checked file_size anyway
    except (zipfile.BadZipFile, EOFError, KeyError, zlib.error, OSError) as error:  # zlib: corrupt compressed data
        _refuse(path, f"holds no readable {CONFIG_FILE} ({error})")
    if len(text) > MAX_CONFIG_BYTES:
        _refuse(path, f"holds a {CONFIG_FILE} over {MAX_CONFIG_BYTES} bytes")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # ValueError: invalid JSON or UTF-8
        _refuse(path, f"holds no valid JSON {CONFIG_FILE} ({error})")


def _walk(value):
    stack = [value]
    while stack:  # iterative: a deeply nested config cannot exhaust Python's stack here
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _keras_function(name):
    import keras

    return any(callable(getattr(getattr(keras, module, None), name, None)) for module in _FUNCTION_MODULES)


def _ganzoo_class(registered, class_name, module):
    import keras

    import ganzoo.training.optimizer  # noqa: F401  (registers the optimizer container; the GAN registers itself)
    import ganzoo.models  # noqa: F401  (registers ganzoo's layers)

    return (
        registered == f"ganzoo>{class_name}"
        and (module == "ganzoo" or module.startswith("ganzoo."))
        and keras.saving.get_registered_object(registered) is not None
    )


def _allowed(item):
    """Whether one serialized object resolves only to Keras' or ganzoo's own code."""
    class_name, module, registered = item.get("class_name"), item.get("module"), item.get("registered_name")
    if not all(value is None or isinstance(value, str) for value in (class_name, module, registered)):
        return False
    if class_name is None:
        return module is None and registered is None
    keras_module = module is not None and (module == "keras" or module.startswith("keras."))
    if class_name == "function":  # Keras looks the function up by the name in `config`
        name = item.get("config")
        return isinstance(name, str) and (keras_module or (module == "builtins" and _keras_function(name)))
    if module is None:  # Keras' own markers (`__keras_tensor__`, `__numpy__`, ...) carry no module
        return class_name.startswith("__") and registered is None
    if keras_module:
        return registered is None or registered == class_name
    return registered is not None and _ganzoo_class(registered, class_name, module)


def _qualified(item):
    class_name, module = item.get("class_name"), item.get("module")
    if class_name == "function" and isinstance(item.get("config"), str):
        class_name = item["config"]
    name = f"{module}.{class_name}" if module is not None else f"{class_name}"
    registered = item.get("registered_name")
    if registered not in (None, item.get("class_name"), "function"):
        name += f" (registered_name={registered!r})"
    return name


def check_classes(config, source):
    """Refuses any object in a `.keras` config that is neither a Keras class nor ganzoo's own.

    Every nested dict naming a `class_name`, `module` or `registered_name`
    is checked: a module `keras` or `keras.*` (without a foreign registered
    name), a Keras built-in function, Keras' own markers, or a class
    registered as `ganzoo>Name` from a `ganzoo.*` module.

    Raises:
        ValueError: one line naming the first foreign class.
    """
    for item in _walk(config):
        if any(key in item for key in ("class_name", "module", "registered_name")) and not _allowed(item):
            raise ValueError(
                f"Expected only Keras classes (module keras.*) and ganzoo's registered ones (ganzoo>Name) in "
                f"{source}. Received: the class {_qualified(item)[:200]}"
            )


def check_keras_file(path):
    """Refuses a `.keras` archive that is a zip bomb, or whose model config names code or foreign classes.

    `check_archive` (the zip directory only), then `config.json` through
    `refuse_code` (Lambda layers) and `check_classes`.

    Raises:
        ValueError: one line naming the file (and the member or class).
        OSError: the file cannot be read.
    """
    path = os.fspath(path)
    check_archive(path)
    config = read_config(path)
    refuse_code(config, path)
    check_classes(config, path)
    return config


def load_weights(network, path):
    """Loads only the weights of a `.keras` archive (or `.weights.h5` file) into `network`.

    Nothing of the file's model config is read, so a planted Lambda in it
    never runs; the weights must fit `network` exactly.

    Raises:
        ValueError: not a Keras archive, a zip bomb (see
            `check_archive`), or weights that do not fit.
    """
    path = os.fspath(path)
    if path.endswith(".keras"):
        # Keras reads model.weights.h5 out of the zip: refuse a bomb from the directory before it does.
        check_archive(path, required=WEIGHTS_FILE)
    import warnings

    try:
        # Keras only warns when part of the file has no match ("layers will retain their freshly-initialized
        # weights"); a preset with half its weights random must be an error.
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            network.load_weights(path)
    except (ValueError, KeyError, OSError, UserWarning) as error:
        raise ValueError(f"Expected {path} to hold the weights of {network.name!r}. Received: {error}"[:800]) from None
