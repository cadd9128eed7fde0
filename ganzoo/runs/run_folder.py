"""A `ganzoo train` run folder: one run at a time, no half-written files, and no file of anyone else touched.

- `lock(out_dir)` (from `ganzoo.runs.run_lock`): an exclusive lock on
  `out_dir/.lock` for as long as a run uses the folder; a second run fails
  at once, told which process holds it.
- `record`/`read_record`/`written` (from `ganzoo.runs.run_record`):
  `run.json`, the settings `--resume` continues with (the config as a
  preset, and the train options), and the manifest: every file the run
  writes (`files`) and the folders it created. It is written before the
  run writes anything else.
- `claim(out_dir, resume=..., overwrite=...)`: a run deletes or replaces
  only files a ganzoo run recorded in `run.json`. A folder holding any
  other file under a name a run writes (a user's `config.json`,
  `metrics.csv`, `samples/epoch_001.png`) is refused, with or without
  `overwrite` (a `resume` continues a folder that is already the run's own,
  and trusts its record, which runs of older versions lack). A folder that
  holds another run is refused unless the run continues it (`--resume`) or
  replaces it (`--overwrite`: the files that run recorded are removed
  first, nothing else).
- `save_model`, `temporary_path`, `write_failed` (from
  `ganzoo.runs.run_writes`): a temporary name in the same folder, then
  `os.replace`, so a crash or a full disk never leaves a truncated file
  under its final name; a failed write as one line naming the path.
"""

import os
import re
import shutil
from pathlib import Path

# The lock, the record and the writes are part of this module's API (`run_folder.lock`, `run_folder.record`, ...).
from ganzoo.runs.run_lock import LOCK_FILE, RunFolderInUse, check_free, lock  # noqa: F401
from ganzoo.runs.run_record import FOLDERS, RUN_NAME, RUN_RECORD, TOP_FILES  # noqa: F401
from ganzoo.runs.run_record import read_record, record, run_files, written  # noqa: F401
from ganzoo.runs.run_writes import DISK_FULL, RunFolderFull, save_model, temporary_path, write_failed  # noqa: F401

# Temporary names of ganzoo's atomic writers: `.NAME.PID.part<suffix>` and `.NAME.PID.HEX8.part`.
_TEMPORARY = re.compile(r"\.(?P<name>.+?)\.\d+\.(?:[0-9a-f]{8}\.)?part(?:\..+)?")


def _present(out_dir):
    """The names in `out_dir` that a run writes (relative paths, sorted), whoever wrote them."""
    found = [name for name in TOP_FILES if os.path.lexists(out_dir / name)]
    for folder in FOLDERS:
        path = out_dir / folder
        if path.is_dir():
            found += [f"{folder}/{entry}" for entry in os.listdir(path) if RUN_NAME.fullmatch(f"{folder}/{entry}")]
        elif os.path.lexists(path):
            found.append(folder)  # a file where the run makes a folder
    return sorted(found)


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
