"""Named presets: the one resolver of preset names, reading and listing them (no Keras).

A preset is one JSON file `<name>.json` in the schema of
`zoo_configs/README.md` (see `ganzoo.client.preset_schema.validate_config`); its generator
weights are a `.keras` file on a hub (see `ganzoo.client.hub`). The presets shipped
in the package always win over a hub's file of the same name, so their
pinned sha256 also guards downloads from a mirror.

This module imports neither Keras nor TensorFlow; loading a generator
(`ganzoo.training.generators`) does.

Example:
    >>> ganzoo.list_presets()[:2]
    ['cgan_digits', 'cgan_fashion_mnist']
    >>> generator = ganzoo.load_generator("dcgan_fashion_mnist")
    >>> ganzoo.models.describe_generator(generator)
    {'latent_dim': 100, 'num_classes': None, 'image_shape': (28, 28, 1)}
"""

import contextlib
import difflib
import json
import re

from ganzoo.client import hub as hub_lib
from ganzoo.client.preset_schema import validate_config

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _check_name(name):
    if not isinstance(name, str):
        raise TypeError(f"Expected a preset name (str). Received: name={name!r}")
    if not _NAME.match(name):
        raise ValueError(
            f"Expected a preset name of letters, digits, '_' and '-'. Received: name={name!r}. "
            f"Known presets: {', '.join(_shipped_names())}"
        )
    return name


def _shipped_names():
    return hub_lib.list_names(hub_lib.Hub(hub_lib.shipped_dir()))


def list_presets(hub=None):
    """Returns the sorted names of the available presets.

    The shipped presets, plus those listed in the `index.txt` of `hub` (or
    `$GANZOO_HUB_URL`) when one is set. A hub without an index adds none.

    Args:
        hub: a directory, `file://` or `http(s)://` URL of a hub, or None.

    Raises:
        ConnectionError: an HTTP hub cannot be reached.
    """
    names = set(_shipped_names())
    other = hub_lib.Hub(hub)
    if not other.is_default:
        with contextlib.suppress(FileNotFoundError):
            names.update(hub_lib.list_names(other))
    return sorted(names)


def preset_source(name, hub=None):
    """Returns where the preset `name` is read from: a shipped file path or a hub URL."""
    _check_name(name)
    shipped = hub_lib.shipped_dir() / f"{name}.json"
    if shipped.is_file():
        return str(shipped)
    return hub_lib.Hub(hub).file_url(f"{name}.json")


def read_preset(name, hub=None):
    """Returns the raw preset dict of `name`, unvalidated and without importing Keras.

    Shipped presets are read from the package; other names from
    `<hub>/<name>.json` when a hub other than the shipped one is set.

    Raises:
        ValueError: an unknown name (the message lists the known ones) or
            invalid JSON.
    """
    _check_name(name)
    shipped = hub_lib.shipped_dir() / f"{name}.json"
    source = str(shipped)
    if shipped.is_file():
        text = shipped.read_text(encoding="utf-8")
    else:
        other = hub_lib.Hub(hub)
        known = ", ".join(_shipped_names())
        if other.is_default:
            close = difflib.get_close_matches(name, _shipped_names(), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Expected a known preset name, one of: {known}. Received: name={name!r}.{hint}")
        try:
            text = hub_lib.read_text(other, f"{name}.json", cache_subdir=name)
        except FileNotFoundError as error:
            if hub_lib.offline():
                raise  # not an unknown name: just not cached
            raise ValueError(
                f"Expected a known preset name, one of: {known}, or a preset on the hub {other.url}. "
                f"Received: name={name!r} ({error})"
            ) from None
        source = other.file_url(f"{name}.json")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"Expected a JSON preset in {source}. Received invalid JSON: {error}") from None


def load_config(name, hub=None):
    """Returns the validated preset dict of `name` (see `ganzoo.client.preset_schema.validate_config`).

    Args:
        name: a preset name, e.g. `"dcgan_fashion_mnist"`.
        hub: where non-shipped presets are looked up (default
            `$GANZOO_HUB_URL`).

    Raises:
        ValueError: an unknown name (listing the known ones), or a preset
            that breaks the schema (naming the key).

    Example:
        >>> load_config("dcgan_digits")["recipe"]["dataset"]
        'digits'
    """
    return validate_config(read_preset(name, hub), source=preset_source(name, hub))


def weights_path(name, hub=None, config=None):
    """Returns a local, sha256-verified path of the preset's generator file.

    Downloads it into the cache first when the hub is an HTTP mirror (see
    `ganzoo.client.hub.fetch`).

    Raises:
        ValueError: the preset has no published weights, or a hash mismatch.
        FileNotFoundError, ConnectionError: see `ganzoo.client.hub.fetch`.
    """
    config = load_config(name, hub) if config is None else config
    weights = config["weights"]
    if weights["file"] is None or weights["sha256"] is None:
        raise ValueError(
            f"Expected preset {name!r} to have published weights. Received: weights.file={weights['file']!r}, "
            f"weights.sha256={weights['sha256']!r}. Train it with `ganzoo train {name}`."
        )
    return hub_lib.fetch(
        hub_lib.Hub(hub), weights["file"], weights["sha256"], cache_subdir=name, size_bytes=weights["size_bytes"]
    )


def onnx_path(name, hub=None, config=None):
    """Returns a local, sha256-verified path of the preset's ONNX generator (uint8 pixels out).

    The same hub, cache and offline rules as `weights_path`; this needs
    neither Keras nor TensorFlow, so the base install can run a preset with
    `ganzoo.export.OnnxGenerator.from_preset`. The metadata sidecar
    (`<file>.json`, for onnxruntime-web) is not needed here: the file
    carries the same facts in its `metadata_props`.

    Raises:
        ValueError: the preset has no ONNX file, or a hash mismatch.
        FileNotFoundError, ConnectionError: see `ganzoo.client.hub.fetch`.
    """
    config = load_config(name, hub) if config is None else config
    published = config.get("onnx")
    if published is None:
        raise ValueError(
            f"Expected preset {name!r} to have a published ONNX generator (an `onnx` entry). Received: none. "
            f"Publish one with `ganzoo publish RUN_DIR --name {name} --hub DIR` (it writes the .onnx file and the entry), "
            f"or run an exported file with `ganzoo generate FILE.onnx`."
        )
    return hub_lib.fetch(
        hub_lib.Hub(hub), published["file"], published["sha256"], cache_subdir=name, size_bytes=published["size_bytes"]
    )


# -- facts for `ganzoo list` / `info`, read from the config without Keras --------


def count_parameters(entry):
    """The weight count (trainable and not) a preset records for a network entry, or None."""
    return entry.get("parameters")


def image_shape(config):
    """Returns the image shape `(H, W, C)` of a preset, from its generator's arguments."""
    return tuple(config["generator"]["args"]["image_shape"])


def write_quality(name, quality):
    """Stores quality figures (from `ganzoo evaluate`) in a shipped preset's JSON file (developers).

    Raises:
        ValueError: not a shipped preset, or `quality` is not a dict of
            JSON values.
    """
    _check_name(name)
    path = hub_lib.shipped_dir() / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"Expected a shipped preset, one of: {', '.join(_shipped_names())}. Received: name={name!r}")
    if not isinstance(quality, dict):
        raise ValueError(f"Expected quality to be a dict. Received: quality={quality!r}")
    config = json.loads(path.read_text(encoding="utf-8"))
    config["quality"] = json.loads(json.dumps(quality))
    validate_config(config, source=str(path))
    hub_lib.write_atomic(path, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    return path
