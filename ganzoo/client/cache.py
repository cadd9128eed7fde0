"""The zoo client's cache: where it lives, offline mode, its lock, and checking a file against its preset.

Files from an HTTP hub are kept under `cache_dir()/<preset name>/`. The cache
root is `$GANZOO_CACHE`, else `$KERAS_HOME/ganzoo` (default
`~/.keras/ganzoo`); `GANZOO_OFFLINE=1` uses it without any request. Writers
of a cached file hold its `fcntl` lock. Standard library only.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from ganzoo.client.files import sha256_file

try:  # POSIX only; elsewhere concurrent downloads still end in an atomic rename
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CACHE_ENV = "GANZOO_CACHE"
OFFLINE_ENV = "GANZOO_OFFLINE"


def offline():
    """True when `$GANZOO_OFFLINE` is set to 1/true/yes: no network, the cache only."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def cache_dir():
    """Returns the cache root: `$GANZOO_CACHE`, else `$KERAS_HOME/ganzoo` or `~/.keras/ganzoo`.

    Mirrors Keras's own choice of its home (`keras.utils.get_file`), without
    importing Keras.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]).expanduser() / "ganzoo"
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    return Path(base) / ".keras" / "ganzoo"


def cache_error(path, error):
    """A cache write error as one line naming the file (a full disk's `[Errno 28]` names none)."""
    reason = error.strerror or str(error)
    return OSError(
        error.errno,
        f"Could not write {path} into the ganzoo cache: {reason}. Free some space, or point {CACHE_ENV} at a "
        "writable directory",
    )


@contextlib.contextmanager
def locked(lock_path):
    """Holds an exclusive `fcntl` lock on `lock_path` (created, never deleted: deleting is racy)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mismatch(filename, source, expected, size_bytes, path):
    """Returns why the file at `path` is not the preset's (size first, then sha256), or None."""
    size = os.path.getsize(path)
    if size != size_bytes:
        return f"Expected {filename} from {source} to have {size_bytes} bytes (size_bytes). Received: {size} bytes"
    actual = sha256_file(path)
    if actual == expected:
        return None
    return f"Expected {filename} from {source} to have sha256 {expected}. Received: a file with sha256 {actual} ({size} bytes)"


def offline_copy(filename, sha256, size_bytes, target, preset):
    """Returns the cached `target` when it is the preset's file; offline, a missing or corrupt copy is an error.

    Raises:
        FileNotFoundError: nothing is cached under `target`.
        ValueError: the cached copy is not the preset's; it is removed.
    """
    if not target.is_file():
        raise FileNotFoundError(
            f"Expected {filename} in the cache at {target} ({OFFLINE_ENV}=1 allows no download). "
            f"Received: no such file. Run `ganzoo download {preset}` while online, or unset {OFFLINE_ENV}."
        )
    error = mismatch(filename, target, sha256, size_bytes, target)
    if error:
        target.unlink(missing_ok=True)
        raise ValueError(
            f"{error}: the cached copy is corrupt and was removed ({OFFLINE_ENV}=1 allows no new download). "
            f"Run `ganzoo download {preset}` while online, or unset {OFFLINE_ENV}."
        )
    return target
