"""Files written whole or not at all, and their sha256 (standard library only)."""

import hashlib
import os
import secrets
from pathlib import Path


def sha256_file(path):
    """Returns the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _temporary_name(path):
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"


def write_atomic(path, data):
    """Writes bytes to `path` through a temporary file in the same directory and `os.replace`.

    The file gets the usual permissions (0666 minus the umask), unlike a
    `tempfile.mkstemp` file (0600), so that a web server can serve it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    try:
        with open(temporary, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes reach the disk before the name does
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
