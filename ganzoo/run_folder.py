"""A `ganzoo train` run folder: one run at a time, no half-written files, no mixing with an older run.

- `lock(out_dir)`: an exclusive `fcntl` lock on `out_dir/.lock` for as long
  as a run uses the folder; a second run fails at once.
- `claim(out_dir, resume=..., overwrite=...)`: a folder that holds another
  run is refused unless the run continues it (`--resume`) or replaces it
  (`--overwrite`, which removes every file of the old run first).
- `record`/`read_record`: `run.json`, the settings `--resume` continues
  with (the config as a preset, and the train options).
- `save_model` (and `ganzoo.hub.write_atomic` for bytes): a temporary name in the same folder, then
  `os.replace`, so a crash or a full disk never leaves a truncated file
  under its final name.
"""

import contextlib
import json
import os
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, everything else holds
    fcntl = None

from ganzoo.hub import write_atomic

RUN_RECORD = "run.json"
LOCK_FILE = ".lock"
# Everything a run writes into its folder (the lock file stays: removing it would race with a locker).
ARTEFACTS = (
    RUN_RECORD,
    "config.json",
    "generator.keras",
    "generator_best.keras",
    "generator.onnx",
    "generator.onnx.json",
    "metrics.csv",
    "metrics.png",
    "samples",
    "checkpoints",
)


class RunFolderInUse(OSError):
    """Another process is training into this run folder."""


@contextlib.contextmanager
def lock(out_dir):
    """Holds an exclusive lock on the run folder (created) for the `with` block.

    Raises:
        RunFolderInUse: another process holds it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(out_dir / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderInUse(
                f"Expected a run folder that no other process is training into. Received: out_dir={str(out_dir)!r}, "
                "which another `ganzoo train` is using now; wait for it, or pick another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_ours(path):
    """Whether `path` (named like a run artefact) is one: folders and config.json are checked by content."""
    if path.name == "samples":
        return path.is_dir() and any(path.glob("epoch_*.png"))
    if path.name == "checkpoints":
        return path.is_dir() and any(path.glob("epoch_*")) or (path / "latest.json").is_file()
    if path.name == "config.json":
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return False
        return isinstance(config, dict) and {"variant", "recipe", "generator"} <= set(config)
    return path.is_file()


def existing_artefacts(out_dir):
    """The names of the run files present in `out_dir` (sorted): only files a ganzoo run writes."""
    out_dir = Path(out_dir)
    return sorted(name for name in ARTEFACTS if (out_dir / name).exists() and _is_ours(out_dir / name))


def _remove(path):
    """Removes a run artefact; in `samples/` and `checkpoints/` only what a run writes there."""
    if path.name == "samples":
        for grid in path.glob("epoch_*.png"):
            grid.unlink()
    elif path.name == "checkpoints":
        for item in [*path.glob("epoch_*"), *path.glob(".epoch_*"), path / "latest.json"]:
            shutil.rmtree(item) if item.is_dir() else item.unlink(missing_ok=True)
    else:
        path.unlink()
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()


def forget_unstarted(out_dir):
    """Removes `run.json` and an empty `samples/` of a run that failed before its first epoch ended."""
    out_dir = Path(out_dir)
    (out_dir / RUN_RECORD).unlink(missing_ok=True)
    samples = out_dir / "samples"
    if samples.is_dir() and not any(samples.iterdir()):
        samples.rmdir()


def claim(out_dir, *, resume=False, overwrite=False):
    """Makes `out_dir` ready for a run (call it under `lock`).

    Args:
        out_dir: the run folder.
        resume: the run continues the one in `out_dir` (it must hold one).
        overwrite: remove the files of a run already in `out_dir` first.

    Raises:
        ValueError: both flags, an empty path, or resume without a run to
            continue.
        FileExistsError: `out_dir` holds another run and neither flag is set.
    """
    if resume and overwrite:
        raise ValueError("Expected at most one of resume and overwrite. Received: both")
    if not os.fspath(out_dir).strip():
        raise ValueError(f"Expected a run folder path. Received: out_dir={os.fspath(out_dir)!r}")
    out_dir = Path(out_dir)
    found = existing_artefacts(out_dir)
    if resume:
        if RUN_RECORD not in found:
            raise ValueError(
                f"Expected a run folder written by `ganzoo train` (with {RUN_RECORD}) to resume. Received: "
                f"{str(out_dir)!r}, which holds {found or 'no run'}"
            )
        return
    if found and not overwrite:
        unfinished = (out_dir / "checkpoints" / "latest.json").is_file()
        hint = (
            f"Continue it with `ganzoo train --resume {out_dir}` (Python: ganzoo.train.resume), or replace it"
            if unfinished
            else "Replace it"
        )
        raise FileExistsError(
            f"Expected an empty or new run folder. Received: --out {str(out_dir)!r}, which holds another run "
            f"({', '.join(found)}). {hint} with --overwrite (Python: overwrite=True), or pick another --out"
        )
    for name in found:
        _remove(out_dir / name)


def record(out_dir, config, settings):
    """Writes `run.json`: the config (a preset dict) and the train settings `--resume` reuses."""
    payload = {"config": config, "settings": settings}
    write_atomic(Path(out_dir) / RUN_RECORD, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))


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
        raise ValueError(f"Expected settings.distribute (null, 'all' or an int >= 1) in {path}. Received: {distribute!r}")
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
