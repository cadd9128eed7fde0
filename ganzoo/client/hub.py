"""The weights hub: where preset files live, verified download, local cache.

A hub is a flat directory of preset files, served as they are by any static
file server: `<name>.json` (the preset), the generator files it names
(`weights.file`, e.g. `<name>.keras`, and `onnx.file`, e.g. `<name>.onnx`,
with its metadata sidecar `<name>.onnx.json` for browsers) and `index.txt`
(the preset names, one per line, so that an HTTP hub can be listed). The default hub is the
`zoo_configs` directory shipped inside the package. `GANZOO_HUB_URL` (or a
`hub=` argument, `--hub` on the CLI) points at another one: a directory, a
`file://` URL or an `http(s)://` mirror.

Files on a local hub are read in place and verified; files on an HTTP hub
are downloaded once into the cache (`ganzoo.client.cache`: `$GANZOO_CACHE` or
`$KERAS_HOME/ganzoo`, default `~/.keras/ganzoo`) by `ganzoo.client.download`
(standard library only; a response deadline, a minimum rate, and the
preset's `size_bytes` as the size cap) into a temporary name in the cache
directory, then verified against the preset's size and sha256 and moved under
the final name with `os.replace` (atomic), under an `fcntl` lock. A local
hub's files are checked by the same rule (size, then sha256). A partial or
corrupt download is never found under the final name. `GANZOO_OFFLINE=1`
uses the cache only.

This module imports neither Keras nor TensorFlow, so the base install (the
ONNX runtime and the zoo client) can list and download presets.
"""

import hashlib
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from ganzoo.client.cache import (  # noqa: F401  (CACHE_ENV and the lock re-exported: the hub's cache in one place)
    CACHE_ENV,
    OFFLINE_ENV,
    cache_dir,
    cache_error,
    mismatch,
    offline,
    offline_copy,
)
from ganzoo.client.cache import locked as _locked  # also ganzoo.metrics.inception_network's lock, as hub._locked
from ganzoo.client.download import DownloadError, DownloadTooLarge, download, read_url
from ganzoo.client.files import _temporary_name, sha256_file, write_atomic  # noqa: F401  (re-exported: the hub file rules)

HUB_ENV = "GANZOO_HUB_URL"
INDEX_FILE = "index.txt"
# File names a preset may point at: no directories, no hidden files.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Preset JSON files and index.txt are read whole; a hub sending more is cut off.
MAX_TEXT_BYTES = 16 << 20
# The largest generator file a preset may name: its `size_bytes` caps the download and must not exceed this.
MAX_FILE_BYTES = 2 << 30


def shipped_dir():
    """Returns the `zoo_configs` directory of this installation.

    A wheel installs it as `ganzoo/zoo_configs` (setup.cfg maps the package
    `ganzoo.zoo_configs` to the top-level `zoo_configs/`); a source checkout
    or an editable install has it next to the `ganzoo` package.
    """
    package = Path(__file__).resolve().parent.parent  # ganzoo/, above ganzoo/client/
    installed = package / "zoo_configs"
    return installed if installed.is_dir() else package.parent / "zoo_configs"


class Hub:
    """A resolved hub: `url` (for messages) and `local` (a Path, or None for HTTP).

    Args:
        hub: a directory, a `file://` URL or an `http(s)://` URL; None means
            `$GANZOO_HUB_URL`, or the shipped `zoo_configs` when unset.

    Raises:
        ValueError: a URL scheme other than file, http and https.
    """

    def __init__(self, hub=None):
        value = hub if hub is not None else (os.environ.get(HUB_ENV) or None)
        self.is_default = value is None
        if value is None:
            value = shipped_dir()
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"Expected hub to be a path or a URL string. Received: hub={value!r}")
        value = os.fspath(value)
        if not value.strip():
            raise ValueError(f"Expected hub to be a directory or a URL. Received: hub={value!r}")
        scheme = urllib.parse.urlsplit(value).scheme.lower()
        if scheme in ("http", "https"):
            self.local, self.url = None, value.rstrip("/")
        elif scheme == "file":
            self.local = Path(urllib.request.url2pathname(urllib.parse.urlsplit(value).path)).resolve()
            self.url = self.local.as_uri()
        elif scheme == "" or len(scheme) == 1:  # a plain path (or a Windows drive letter)
            self.local = Path(value).expanduser().resolve()
            self.url = self.local.as_uri()
        else:
            raise ValueError(
                f"Expected hub to be a directory, a file:// URL or an http(s):// URL. Received: hub={value!r}"
            )
        if self.local is not None and self.local == shipped_dir().resolve():
            self.is_default = True

    def __repr__(self):
        return f"Hub({self.url!r})"

    def file_url(self, filename):
        return f"{self.url}/{urllib.parse.quote(filename)}"


def check_file_name(filename, what="file"):
    """Refuses names that could leave the hub or cache directory (`../x`, `/x`)."""
    if not isinstance(filename, str) or not _FILE_NAME.match(filename):
        raise ValueError(
            f"Expected the {what} to be a plain file name (letters, digits, '.', '_', '-'). Received: {filename!r}"
        )
    return filename


def check_size_bytes(filename, size_bytes):
    """Refuses a missing or unbounded `size_bytes`: it is the download's cap, so it must be set and sane."""
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or not 1 <= size_bytes <= MAX_FILE_BYTES:
        raise ValueError(
            f"Expected the preset to give the size of {filename} as size_bytes, an integer from 1 to "
            f"{MAX_FILE_BYTES} (the download is cut off there). Received: size_bytes={size_bytes!r}"
        )
    return size_bytes


def _not_on_hub(hub, filename, url):
    return FileNotFoundError(f"Expected the hub {hub.url} to hold {filename}. Received: HTTP 404 Not Found for {url}")


def _unreachable(hub, filename, error):
    return ConnectionError(
        f"Could not reach the hub {hub.url} to download {filename}: {error}. Point {HUB_ENV} (or --hub) at a "
        f"reachable mirror, or set {OFFLINE_ENV}=1 to use only the cache."
    )


def fetch(hub, filename, sha256, *, cache_subdir, size_bytes):
    """Returns a local, sha256-verified path of `filename` on `hub`.

    A local hub's file is verified and used in place. An HTTP hub's file is
    taken from `cache_dir()/cache_subdir/filename` when its hash matches,
    else downloaded there (see the module docstring). Offline mode never
    touches the network.

    Args:
        hub: a `Hub`.
        filename: the file's name on the hub (a plain name).
        sha256: the expected hex digest.
        cache_subdir: a plain directory name under the cache root, e.g. the
            preset name.
        size_bytes: the file's size from the preset, 1 to `MAX_FILE_BYTES`
            (required): a download is cut off past it, and a file of
            another size is refused, on a local hub as on an HTTP one.

    Returns:
        A `pathlib.Path`.

    Raises:
        ValueError: the file's size is not `size_bytes` or its hash is not
            `sha256` (the message gives both); the bad file is never loaded,
            and a downloaded or cached one is deleted. A missing or
            unbounded `size_bytes`.
        FileNotFoundError: the hub lacks the file (HTTP 404), or offline mode
            with nothing in the cache.
        ConnectionError: the hub cannot be reached, or sends too much or too
            slowly.
        OSError: the cache cannot be written (one line naming the file).
    """
    check_file_name(filename)
    check_file_name(cache_subdir, "cache subdirectory")
    check_size_bytes(filename, size_bytes)
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"Expected a sha256 of 64 lowercase hex digits for {filename}. Received: sha256={sha256!r}")
    if hub.local is not None:
        path = hub.local / filename
        if not path.is_file():
            raise FileNotFoundError(f"Expected the hub {hub.url} to hold {filename}. Received: no such file {path}")
        error = mismatch(filename, hub.url, sha256, size_bytes, path)
        if error:
            raise ValueError(error + ". The file was not loaded.")
        return path

    directory = cache_dir() / cache_subdir
    target = directory / filename
    if offline():  # the cache only: create nothing, download nothing
        return offline_copy(filename, sha256, size_bytes, target, cache_subdir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / f".{filename}.lock"):
            return _download_locked(hub, filename, sha256, size_bytes, target)
    except OSError as error:  # the cache's own files: a full disk, no permission (hub errors pass through)
        if isinstance(error, (ConnectionError, FileNotFoundError)):
            raise
        raise cache_error(target, error) from None


def _download_locked(hub, filename, sha256, size_bytes, target):
    """The locked part of `fetch` for an HTTP hub: cache hit, or download, verify and rename."""
    directory = target.parent
    # Whoever downloads holds the lock, so any partial file now is left from a killed process.
    for stale in directory.glob(f".{filename}.*.part"):
        stale.unlink(missing_ok=True)
    if target.is_file():
        if mismatch(filename, target, sha256, size_bytes, target) is None:
            return target  # cache hit: no request
        target.unlink()  # a stale or corrupt copy; never load it
    partial = _temporary_name(target)
    url = hub.file_url(filename)
    try:
        download(url, partial, max_bytes=size_bytes)
    except FileNotFoundError:
        raise _not_on_hub(hub, filename, url) from None
    except DownloadTooLarge:
        raise ValueError(
            f"Expected {filename} from {url} to have {size_bytes} bytes (size_bytes). Received: more; the download "
            "was cut off there, deleted and not loaded"
        ) from None
    except DownloadError as error:
        raise _unreachable(hub, filename, error) from None
    error = mismatch(filename, url, sha256, size_bytes, partial)
    if error:
        partial.unlink(missing_ok=True)
        raise ValueError(error + ". It was deleted and not loaded.")
    os.replace(partial, target)
    return target


def read_text(hub, filename, *, cache_subdir=None):
    """Returns the text of a small hub file (a preset JSON, the index), without Keras.

    From an HTTP hub the file is fetched with `urllib` and, when
    `cache_subdir` is given, a copy is kept so that offline mode can use it.

    Raises:
        FileNotFoundError: no such file on the hub (or in the cache, offline).
        ConnectionError: the hub cannot be reached.
    """
    check_file_name(filename)
    if hub.local is not None:
        path = hub.local / filename
        if not path.is_file():
            raise FileNotFoundError(f"Expected the hub {hub.url} to hold {filename}. Received: no such file {path}")
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:  # the same cap as over HTTP
            raise ValueError(f"Expected {path} to have at most {MAX_TEXT_BYTES} bytes. Received: {size} bytes")
        return path.read_text(encoding="utf-8")
    cached = (
        None if cache_subdir is None else cache_dir() / check_file_name(cache_subdir, "cache subdirectory") / filename
    )
    if offline():
        if cached is not None and cached.is_file():
            return cached.read_text(encoding="utf-8")
        raise FileNotFoundError(
            f"Expected {filename} of the hub {hub.url} in the cache ({OFFLINE_ENV}=1 allows no download). "
            "Received: not cached"
        )
    url = hub.file_url(filename)
    try:
        text = read_url(url, max_bytes=MAX_TEXT_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise _not_on_hub(hub, filename, url) from None
    except DownloadError as error:
        raise _unreachable(hub, filename, error) from None
    except UnicodeDecodeError:
        raise ValueError(f"Expected UTF-8 text in {url}. Received: undecodable bytes") from None
    if cached is not None:
        try:
            write_atomic(cached, text.encode("utf-8"))
        except OSError as error:  # a full disk: one line naming the file
            raise cache_error(cached, error) from None
    return text


def list_names(hub):
    """Returns the preset names on a hub: `*.json` stems of a local hub, `index.txt` of an HTTP one."""
    if hub.local is not None:
        # Preset names have no dots: `<name>.onnx.json` sidecars are not presets.
        return sorted(p.stem for p in hub.local.glob("*.json") if _PRESET_NAME.match(p.stem))
    key = "hub-" + hashlib.sha256(hub.url.encode("utf-8")).hexdigest()[:16]
    text = read_text(hub, INDEX_FILE, cache_subdir=key)
    # A bad line (not a preset name) is skipped, not fatal: the good names still list.
    return sorted({line.strip() for line in text.splitlines() if _PRESET_NAME.match(line.strip())})
