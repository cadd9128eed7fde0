"""Which checkpoint a run resumes from, and whether it may: `find`, `latest`, `check_trained_with`.

A checkpoint is resolved inside its own run only: the newest
`checkpoints/epoch_NNNN` folder whose three files read back (`state.json`
names its epoch, `model.weights.h5` opens and walks in h5py, the
`arrays.npz` archive passes its CRC check). `latest.json` is a hint that is
never followed out of the folder. A damaged checkpoint is kept and named,
never deleted. `ganzoo.runs.checkpoint` writes what these functions read.
"""

import json
import os
import re
import zipfile
from pathlib import Path

FOLDER = "checkpoints"
LATEST = "latest.json"
NAME = re.compile(r"epoch_(\d{4,})")


def first_line(error):
    """The first line of an error's message (h5py's and Keras' span many), at most 300 characters."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:300]


def _problem(path, epochs_done):
    """Why the checkpoint folder `path` is not intact (a phrase naming the file), or None."""
    import h5py

    state_path = path / "state.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{state_path} is missing"
    except (OSError, ValueError, RecursionError) as error:
        return f"{state_path} is not readable JSON ({first_line(error)})"
    if not isinstance(state, dict) or state.get("epochs_done") != epochs_done:
        return f"{state_path} does not record epochs_done {epochs_done}"
    weights = path / "model.weights.h5"
    try:
        with h5py.File(weights, "r") as file:
            file.visit(lambda name: None)
    except Exception as error:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError...: all mean damaged
        return f"{weights} is not a readable weights file ({first_line(error)})"
    arrays = path / "arrays.npz"
    try:
        with zipfile.ZipFile(arrays) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as error:
        return f"{arrays} is not a readable .npz archive ({first_line(error)})"
    return None if bad is None else f"{arrays} is damaged (member {bad})"


def find(run_dir):
    """Returns the checkpoint to resume from: `(epochs_done, folder, note)`, or None when the run has none.

    Only the run's own `checkpoints/epoch_NNNN` folders count, newest first,
    each checked (`state.json` parses and names its epoch, the weights file
    and the arrays archive read). `note` says why `latest.json` was not
    followed (None when it was).

    Raises:
        ValueError: the run has checkpoints (or a `latest.json`) but none
            intact; the message names the damaged file.
    """
    folder = Path(run_dir) / FOLDER
    pointer, named, note = folder / LATEST, None, None
    if os.path.lexists(pointer):
        try:
            named = json.loads(pointer.read_text(encoding="utf-8"))["folder"]
        except (OSError, ValueError, RecursionError, KeyError, TypeError) as error:
            note = f"{pointer} is unreadable ({first_line(error)})"
        else:
            if not isinstance(named, str) or not NAME.fullmatch(named):
                note = f"{pointer} names {named!r}, not a checkpoint of this run (checkpoints/epoch_NNNN)"
    candidates = sorted(
        (
            (int(match[1]), folder / match[0])
            for match in map(NAME.fullmatch, os.listdir(folder) if folder.is_dir() else [])
            if match and (folder / match[0]).is_dir() and not (folder / match[0]).is_symlink()  # none of another run
        ),
        reverse=True,
    )
    problems = []
    for epochs_done, path in candidates:
        problem = _problem(path, epochs_done)
        if problem is None:
            damaged = {item.name: text for (_, item), text in zip(candidates, problems)}
            if note is None and named in damaged:
                note = damaged[named]
            elif note is None and named is not None and not (folder / named).is_dir():
                note = f"{pointer} names {named}, which is missing"
            return epochs_done, path, None if note is None else f"{note}; resuming from {path}, the newest intact one"
        problems.append(problem)
    if problems:
        raise ValueError(
            f"Expected an intact checkpoint in {folder} to resume from. Received: {problems[0]}. Nothing was "
            "deleted; restore the file, or train anew with --overwrite"
        )
    if os.path.lexists(pointer):
        raise ValueError(
            f"Expected {pointer} to name a checkpoint of this run. Received: {note or f'{named!r}, which is missing'}, "
            f"and {folder} holds no checkpoint folder. Train anew with --overwrite"
        )
    return None


def latest(run_dir):
    """Returns `(epochs_done, checkpoint folder)` of the newest intact checkpoint, or None (never raises)."""
    try:
        found = find(run_dir)
    except (OSError, ValueError):
        return None
    return None if found is None else found[:2]


def started(run_dir):
    """Whether the run wrote a checkpoint (intact or not): `latest.json` or an `epoch_NNNN` folder."""
    folder = Path(run_dir) / FOLDER
    if not folder.is_dir():
        return False
    return any(NAME.fullmatch(name) or name == LATEST for name in os.listdir(folder))


def _difference(recorded, current, key=""):
    """The first key (dotted) where two JSON values differ, with both values; or None."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for name in sorted(set(recorded) | set(current)):
            found = _difference(recorded.get(name), current.get(name), f"{key}.{name}" if key else name)
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(current, list) and len(recorded) == len(current):
        for index, (a, b) in enumerate(zip(recorded, current)):
            found = _difference(a, b, f"{key}[{index}]")
            if found:
                return found
        return None
    return None if recorded == current else (key, recorded, current)


def check_trained_with(path, trained_with, source):
    """Refuses to resume the checkpoint at `path` with settings other than those it recorded.

    Args:
        path: the checkpoint folder.
        trained_with: what the resumed run would train with (as given to
            `RunCheckpoint`).
        source: where those settings come from (`run.json`), for the message.

    Raises:
        ValueError: one line naming the first key that differs.
    """
    state = json.loads((Path(path) / "state.json").read_text(encoding="utf-8"))
    recorded = state.get("trained_with")
    if not isinstance(recorded, dict):  # a checkpoint of ganzoo 0.1 records nothing to compare
        return
    found = _difference(recorded, json.loads(json.dumps(trained_with)))
    if found:
        key, theirs, ours = found
        key = key.removeprefix("config.")
        raise ValueError(
            f"Expected {source} to hold what its checkpoint {path} was trained with. Received: {key}={_short(ours)} "
            f"in {source}, {key}={_short(theirs)} in the checkpoint. Undo the edit, or train anew with --overwrite"
        )


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
