"""The settings of a run: `train`'s arguments checked and recorded in `run.json` for `--resume`."""

import json

from ganzoo.training import config as config_module
from ganzoo.training import mixed_precision as precision_module


def run_settings(config, *, epochs, precision, jit, fd_every, export_onnx, command, distribute, verbose):
    """Checks `train`'s arguments; returns `(config, settings)`: a validated copy of `config`, and the settings.

    `epochs` replaces `recipe.epochs` in the copy; `settings` holds the
    resolved precision (`"auto"` chooses for this device, said when
    `verbose`), `jit`, `fd_every` (default: about 5 evaluations per run),
    `export_onnx`, `command` and `distribute`.

    Raises:
        ValueError: an invalid config or argument, naming it.
    """
    config = config_module.validate_config(json.loads(json.dumps(config)))
    requested, precision = precision, precision_module.resolve_precision(precision)
    if requested == "auto" and verbose:
        print(f"ganzoo: --precision auto chose {precision} for this device")
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Expected epochs to be a positive int. Received: epochs={epochs!r}")
        config["recipe"]["epochs"] = epochs
    if fd_every is not None and (isinstance(fd_every, bool) or not isinstance(fd_every, int) or fd_every < 0):
        raise ValueError(f"Expected fd_every to be None or an int >= 0. Received: fd_every={fd_every!r}")
    if fd_every is None:
        fd_every = max(1, config["recipe"]["epochs"] // 5)
    one_int = isinstance(distribute, int) and not isinstance(distribute, bool) and distribute >= 1
    if not (distribute is None or distribute == "all" or one_int):
        raise ValueError(f"Expected distribute to be None, 'all' or an int >= 1. Received: distribute={distribute!r}")
    settings = {
        "precision": precision,
        "jit": bool(jit),
        "fd_every": fd_every,
        "export_onnx": bool(export_onnx),
        "command": command,
        "distribute": distribute,
    }
    return config, settings


def trained_with(config, settings):
    """What a checkpoint records of its run, so that a resume under other settings is refused."""
    return {"config": config, "precision": settings["precision"]}
