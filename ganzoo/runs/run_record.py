"""`run.json`: what a run continues with (`--resume`) and the manifest of what it writes.

The record holds the config (a preset dict), the train settings, every
file the run writes (`files`) and the folders it created. It is written
before the run writes anything else, and it is the only thing that lets
a later run delete or replace a file: a name a run writes that no record
lists is someone else's.
"""

import json
import os
import re
from pathlib import Path

from ganzoo.client.files import write_atomic

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
# Every name a run may write, relative to its folder (POSIX separators, nothing outside the folder).
RUN_NAME = re.compile(
    "|".join(
        [
            *(re.escape(name) for name in TOP_FILES),
            r"samples/epoch_\d{3,}\.png",
            r"checkpoints/epoch_\d{4,}",
            r"checkpoints/latest\.json",
        ]
    )
)


def run_files(epochs):
    """The files (relative paths) a run of `epochs` epochs may write into its folder."""
    return [
        *TOP_FILES,
        *(f"samples/epoch_{epoch:03d}.png" for epoch in range(1, epochs + 1)),
        *(f"checkpoints/epoch_{epoch:04d}" for epoch in range(1, epochs + 1)),
        "checkpoints/latest.json",
    ]


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
    files = {name for name in files if isinstance(name, str) and RUN_NAME.fullmatch(name)} | {RUN_RECORD}
    folders = {name for name in folders if name in FOLDERS} if isinstance(folders, list) else set()
    return files, folders


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
    _check_settings(settings, path)
    return payload["config"], settings


def _check_settings(settings, path):
    """Checks the recorded train settings' types; fills in `distribute` (absent in runs of ganzoo 0.1)."""
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
