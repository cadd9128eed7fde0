"""A `ganzoo train` run folder: one run at a time, no half-written files, and no file of anyone else touched.

- `lock(out_dir)` (from `ganzoo.runs.run_lock`): an exclusive lock on
  `out_dir/.lock` for as long as a run uses the folder; a second run fails
  at once, told which process holds it.
- `record`/`read_record`: `run.json`, the settings `--resume` continues
  with (the config as a preset, and the train options), and the manifest:
  every file the run writes (`files`) and the folders it created. It is
  written before the run writes anything else.
- `claim(out_dir, resume=..., overwrite=...)`: a run deletes or replaces
  only files a ganzoo run recorded in `run.json`. A folder holding any
  other file under a name a run writes (a user's `config.json`,
  `metrics.csv`, `samples/epoch_001.png`) is refused, with or without
  `overwrite` (a `resume` continues a folder that is already the run's own,
  and trusts its record, which runs of older versions lack). A folder that holds another run is refused unless the run
  continues it (`--resume`) or replaces it (`--overwrite`: the files that
  run recorded are removed first, nothing else).
- `save_model` (and `ganzoo.client.hub.write_atomic` for bytes): a temporary name in the same folder, then
  `os.replace`, so a crash or a full disk never leaves a truncated file
  under its final name.
"""

import errno
import json
import os
import re
import shutil
from pathlib import Path

from ganzoo.client.files import write_atomic
from ganzoo.runs.run_lock import LOCK_FILE, RunFolderInUse, check_free, lock  # noqa: F401 - part of this module's API

RUN_RECORD = "run.json"
# The files a run writes at the top of its folder; `samples/` and `checkpoints/` hold the rest.
TOP_FILES = (
    RUN_RECORD,
    "config.json",
    "generator.keras",
    "generator_best.keras",
    "generator.onnx",
    "generator.onnx.json",
    "metrics.csv",
    "metrics.png",
)
FOLDERS = ("samples", "checkpoints")
ARTEFACTS = (*TOP_FILES, *FOLDERS)
# Every name a run may write, relative to its folder (POSIX separators, nothing outside the folder).
_RUN_NAME = re.compile(
    "|".join(
        [
            *(re.escape(name) for name in TOP_FILES),
            r"samples/epoch_\d{3,}\.png",
            r"checkpoints/epoch_\d{4,}",
            r"checkpoints/latest\.json",
        ]
    )
)
# Temporary names of ganzoo's atomic writers: `.NAME.PID.part<suffix>` and `.NAME.PID.HEX8.part`.
_TEMPORARY = re.compile(r"\.(?P<name>.+?)\.\d+\.(?:[0-9a-f]{8}\.)?part(?:\..+)?")
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


def run_files(epochs):
    """The files (relative paths) a run of `epochs` epochs may write into its folder."""
    return [
        *TOP_FILES,
        *(f"samples/epoch_{epoch:03d}.png" for epoch in range(1, epochs + 1)),
        *(f"checkpoints/epoch_{epoch:04d}" for epoch in range(1, epochs + 1)),
        "checkpoints/latest.json",
    ]


def _present(out_dir):
    """The names in `out_dir` that a run writes (relative paths, sorted), whoever wrote them."""
    found = [name for name in TOP_FILES if os.path.lexists(out_dir / name)]
    for folder in FOLDERS:
        path = out_dir / folder
        if path.is_dir():
            found += [f"{folder}/{entry}" for entry in os.listdir(path) if _RUN_NAME.fullmatch(f"{folder}/{entry}")]
        elif os.path.lexists(path):
            found.append(folder)  # a file where the run makes a folder
    return sorted(found)


def _payload(out_dir):
    """`run.json` as a dict with `config` and `settings` objects, or None."""
    try:
        payload = json.loads((Path(out_dir) / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    ok = (
        isinstance(payload, dict)
        and isinstance(payload.get("config"), dict)
        and isinstance(payload.get("settings"), dict)
    )
    return payload if ok else None


def written(out_dir):
    """What the run recorded in `out_dir` wrote: `(files, folders)` (sets of relative paths), or None without a run.

    A record of ganzoo 0.1 (no manifest) covers the files a run of its
    epochs writes. Entries that are not run file names are ignored: a
    record never reaches outside the run's own names.
    """
    payload = _payload(out_dir)
    if payload is None:
        return None
    files = payload.get("files")
    if not isinstance(files, list):
        epochs = (payload["config"].get("recipe") or {}).get("epochs")
        files = run_files(epochs) if type(epochs) is int and 0 < epochs < 100_000 else list(TOP_FILES)
    folders = payload.get("created_folders", list(FOLDERS))
    files = {name for name in files if isinstance(name, str) and _RUN_NAME.fullmatch(name)} | {RUN_RECORD}
    folders = {name for name in folders if name in FOLDERS} if isinstance(folders, list) else set()
    return files, folders


def existing_artefacts(out_dir):
    """The names (relative paths, sorted) in `out_dir` that a run would write or replace, whoever wrote them."""
    out_dir = Path(out_dir)
    return _present(out_dir) if out_dir.is_dir() else []


def _describe(names, limit=6):
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def remove_run(out_dir):
    """Removes the files the run recorded in `out_dir` wrote (and their temporary leftovers), `run.json` last.

    Nothing else is touched: a user's file in `samples/` or `checkpoints/`
    stays, and so does the folder holding it.
    """
    out_dir = Path(out_dir)
    recorded = written(out_dir)
    if recorded is None:
        return
    files, folders = recorded
    for name in sorted(files - {RUN_RECORD}):
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
    bases = {name.rpartition("/")[::2] for name in files}  # (folder, name)
    for folder in ("", *FOLDERS):
        directory = out_dir / folder
        if not directory.is_dir():
            continue
        for entry in os.listdir(directory):
            match = _TEMPORARY.fullmatch(entry)
            if match and (folder, match["name"]) in bases:
                leftover = directory / entry
                shutil.rmtree(leftover) if leftover.is_dir() and not leftover.is_symlink() else leftover.unlink()
    for folder in folders:
        path = out_dir / folder
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
    (out_dir / RUN_RECORD).unlink(missing_ok=True)


def forget_unstarted(out_dir):
    """Removes every file of a run that failed before its first epoch ended (its `run.json` last)."""
    remove_run(out_dir)


def claim(out_dir, *, resume=False, overwrite=False):
    """Makes `out_dir` ready for a run (call it under `lock`; called before, it fails early).

    Args:
        out_dir: the run folder.
        resume: the run continues the one in `out_dir` (it must hold one).
        overwrite: remove the files of a run already in `out_dir` first
            (only those its `run.json` records).

    Raises:
        ValueError: both flags, an empty path, or resume without a run to
            continue.
        FileExistsError: `out_dir` holds another run and neither flag is
            set; or, whatever the flags, files under names a run writes
            that no ganzoo run recorded writing (they are never replaced).
        RunFolderInUse: another process trains into `out_dir` now.
    """
    if resume and overwrite:
        raise ValueError("Expected at most one of resume and overwrite. Received: both")
    if not os.fspath(out_dir).strip():
        raise ValueError(f"Expected a run folder path. Received: out_dir={os.fspath(out_dir)!r}")
    out_dir = Path(out_dir)
    check_free(out_dir)
    present = existing_artefacts(out_dir)
    recorded = written(out_dir)
    if resume:
        if not (out_dir / RUN_RECORD).is_file():
            raise ValueError(
                f"Expected a run folder written by `ganzoo train` (with {RUN_RECORD}) to resume. Received: "
                f"{str(out_dir)!r}, which holds {_describe(present) if present else 'no run'}"
            )
        read_record(out_dir)  # a broken record: one line naming what is wrong
        return
    foreign = [name for name in present if recorded is None or name not in recorded[0]]
    if foreign:
        raise FileExistsError(
            f"Expected a run folder whose run files ganzoo wrote. Received: --out {str(out_dir)!r}, which holds "
            f"{_describe(foreign)}, not recorded by a ganzoo run in {RUN_RECORD}; a run would replace them, so it "
            "does not start (not with --overwrite either). Move them away, or pick another --out"
        )
    if present and not overwrite:
        unfinished = (out_dir / "checkpoints" / "latest.json").is_file()
        hint = (
            f"Continue it with `ganzoo train --resume {out_dir}` (Python: ganzoo.runs.run.resume), or replace it"
            if unfinished
            else "Replace it"
        )
        raise FileExistsError(
            f"Expected an empty or new run folder. Received: --out {str(out_dir)!r}, which holds another run "
            f"({_describe(present)}). {hint} with --overwrite (Python: overwrite=True), or pick another --out"
        )
    remove_run(out_dir)


def record(out_dir, config, settings):
    """Writes `run.json`: the config (a preset dict), the train settings `--resume` reuses, and the manifest."""
    out_dir = Path(out_dir)
    payload = {
        "config": config,
        "settings": settings,
        "files": run_files(config["recipe"]["epochs"]),
        "created_folders": [folder for folder in FOLDERS if not os.path.lexists(out_dir / folder)],
    }
    write_atomic(out_dir / RUN_RECORD, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))


def read_record(out_dir):
    """Returns `(config, settings)` from `run.json`.

    Raises:
        ValueError: no record, or one that is not a `ganzoo train` record.
    """
    path = Path(out_dir) / RUN_RECORD
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"Expected {path} (written when `ganzoo train` starts a run). Received: no such file"
        ) from None
    except (ValueError, RecursionError) as error:
        raise ValueError(f"Expected JSON in {path}. Received invalid JSON: {error}") from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("config"), dict)
        or not isinstance(payload.get("settings"), dict)
    ):
        raise ValueError(f"Expected {path} to hold 'config' and 'settings' objects. Received: {str(payload)[:200]}")
    settings = payload["settings"]
    kinds = {"precision": str, "jit": bool, "fd_every": int, "export_onnx": bool}
    for key, kind in kinds.items():
        if not isinstance(settings.get(key), kind) or (kind is int and isinstance(settings.get(key), bool)):
            raise ValueError(
                f"Expected settings.{key} ({kind.__name__}) in {path}. Received: {settings.get(key, 'no such key')!r}"
            )
    distribute = settings.setdefault("distribute", None)  # absent in runs of ganzoo 0.1: one device
    if not (distribute is None or distribute == "all" or (type(distribute) is int and distribute >= 1)):
        raise ValueError(
            f"Expected settings.distribute (null, 'all' or an int >= 1) in {path}. Received: {distribute!r}"
        )
    return payload["config"], settings


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
