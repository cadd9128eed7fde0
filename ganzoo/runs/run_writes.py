"""Writes into a run folder: under a temporary name, then renamed; a failed write as one line naming the path.

`save_model` (and `ganzoo.client.files.write_atomic` for bytes) write to a
temporary name in the same folder, then `os.replace`, so a crash or a full
disk never leaves a truncated file under its final name. `write_failed`
turns an `OSError` into one line that names the path and, for a full disk,
says how the run goes on.
"""

import errno
import os
from pathlib import Path

from ganzoo.runs.run_record import RUN_RECORD

# A write that failed for lack of room: a full disk, a quota, a file size limit.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class RunFolderFull(OSError):
    """A write into a run folder failed for lack of room; run.json and the last good checkpoint stay."""


def write_failed(error, path, run_dir, *, resumable=True, detail=None):
    """Returns `error`, a failed write of `path`, as one line naming the path (a full disk says how to go on).

    `resumable`: the run folder holds `run.json`, so `--resume` continues
    the run (from its last good checkpoint, or from the start). `detail`:
    said after the reason (e.g. the room needed).
    """
    if isinstance(error, RunFolderFull):
        return error
    lines = str(error).strip().splitlines()  # h5py's message spans lines and names no file the user knows
    reason = os.strerror(error.errno) if error.errno else (lines[0] if lines else type(error).__name__)
    reason = f"{reason}: {detail}" if detail else reason if error.errno is None else f"{reason} (errno {error.errno})"
    if error.errno in DISK_FULL:
        then = (
            f"{run_dir} keeps {RUN_RECORD} and its last good checkpoint: free some space, then continue with "
            f"`ganzoo train --resume {run_dir}`"
            if resumable
            else "Free some space, then start the run again"
        )
        result = RunFolderFull(f"Expected room on the disk to write {path}. Received: {reason}. {then}")
    else:
        result = OSError(f"Expected to write {path}. Received: {reason}")
    result.errno = error.errno
    return result


def temporary_path(path, suffix=""):
    """A temporary name next to `path` (same folder, so `os.replace` is atomic): `.NAME.PID.part<suffix>`."""
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}.part{suffix}"


def save_model(model, path):
    """`model.save(path)` through a temporary file and `os.replace`."""
    path = Path(path)
    temporary = temporary_path(path, ".keras")  # Keras wants the .keras suffix
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return str(path)
