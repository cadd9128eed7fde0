"""The lock of a `ganzoo train` run folder: one process at a time, and who holds it.

`lock(out_dir)` takes an exclusive `fcntl.flock` on `out_dir/.lock` and
writes this process's id into it, so that a second run is told
"in use by process N". A lock file this process created is removed when
the run ends; one that was there before stays (emptied again).

Removing a lock file races with a process that opened it just before: that
process may then lock an unlinked file. So a locker checks, once it holds
the lock, that the path still names the file it locked, and starts over if
not.
"""

import contextlib
import os
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, everything else holds
    fcntl = None

LOCK_FILE = ".lock"
# Folders this process holds (resolved paths): `holder()` does not report a process's own lock.
_HELD = set()


class RunFolderInUse(OSError):
    """Another process is training into this run folder."""


def _pid_text(text):
    text = text.strip()
    return text if text.isdigit() else None


def _in_use(out_dir, pid):
    who = f"process {pid}" if pid else "another process"
    return RunFolderInUse(
        f"Expected a run folder that no other process is training into. Received: out_dir={str(out_dir)!r}, "
        f"in use by {who} (another `ganzoo train`); wait for it to end, or pick another --out"
    )


def holder(out_dir):
    """Returns the process id (str; "" if unknown) of another process holding `out_dir`'s lock, or None."""
    out_dir = Path(out_dir)
    if fcntl is None or str(out_dir.resolve()) in _HELD:
        return None
    try:
        handle = open(out_dir / LOCK_FILE, "rb")
    except OSError:  # no lock file (or not readable): nobody holds it
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_text(handle.read(32).decode("ascii", "replace")) or ""
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def check_free(out_dir):
    """Raises `RunFolderInUse` (naming the process) if another process holds `out_dir`'s lock."""
    pid = holder(out_dir)
    if pid is not None:
        raise _in_use(out_dir, pid)


def _open(path):
    """Opens the lock file; returns `(fd, created)`."""
    while True:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            pass
        try:
            return os.open(path, os.O_RDWR), False
        except FileNotFoundError:  # removed in between by the run that held it: create it
            continue


@contextlib.contextmanager
def lock(out_dir):
    """Holds an exclusive lock on the run folder (created) for the `with` block.

    Raises:
        RunFolderInUse: another process holds it (the message names it).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    path = out_dir / LOCK_FILE
    for _ in range(100):
        descriptor, created = _open(path)
        try:
            # A few tries: `holder()` of another process may hold a shared lock for a moment.
            for _ in range(10):
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.02)
            else:
                pid = _pid_text(os.pread(descriptor, 32, 0).decode("ascii", "replace"))
                raise _in_use(out_dir, pid)
            try:
                same = os.path.samestat(os.stat(path), os.fstat(descriptor))
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(descriptor)
            raise
        if same:
            break
        os.close(descriptor)  # the run that held it removed the file: lock the new one
    else:  # pragma: no cover - a hundred removals in a row
        raise _in_use(out_dir, None)
    before = os.pread(descriptor, 64, 0)
    ours = created or _pid_text(before.decode("ascii", "replace")) is not None or not before.strip()
    if ours:  # a lock file of an earlier run (empty, or a process id): name this process in it
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    key = str(out_dir.resolve())
    _HELD.add(key)
    try:
        yield
    finally:
        _HELD.discard(key)
        try:
            if created:
                path.unlink(missing_ok=True)  # still locked: a waiting process re-checks the path (see above)
            elif ours:
                os.ftruncate(descriptor, 0)
        finally:
            os.close(descriptor)  # releases the lock
