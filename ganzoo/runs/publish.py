"""`ganzoo publish`: a trained run -> preset files on a hub directory (.keras, .onnx, .json).

Serve the hub directory with any static file server and point
`GANZOO_HUB_URL` (or `--hub`) at it. The ONNX export needs the TensorFlow
backend; on JAX or PyTorch it runs in a TensorFlow subprocess.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from ganzoo.client import hub as hub_lib
from ganzoo.training.config import validate_config
from ganzoo.client.presets import _check_name
from ganzoo.training.generators import load_generator_file


def _file_entry(path):
    return {"file": path.name, "sha256": hub_lib.sha256_file(path), "size_bytes": path.stat().st_size}


def export_preset_onnx(keras_file, onnx_file, name, variant, dataset):
    """Exports a preset's `.keras` generator to `onnx_file` (uint8 output) and its sidecar, atomically.

    Both files are written under temporary names in the target folder and
    renamed into place only after the export verified against Keras.

    Raises:
        ganzoo.export.VerificationError: the export does not match Keras.
        RuntimeError: the TensorFlow subprocess failed (its error attached).
    """
    from ganzoo.backends import driver

    keras_file, onnx_file = Path(keras_file), Path(onnx_file)
    if not driver.onnx_export_in_process():
        code = "import sys; from ganzoo.runs.publish import export_preset_onnx as f; f(*sys.argv[1:])"
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        result = subprocess.run(
            [sys.executable, "-c", code, str(keras_file), str(onnx_file), name, variant, dataset],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"The ONNX export of {keras_file} in a TensorFlow subprocess failed: {result.stderr.strip()[-2000:]}"
            )
        return onnx_file
    from ganzoo import data
    from ganzoo.export import metadata as metadata_lib
    from ganzoo.export.onnx_export import to_onnx

    try:
        class_names = data.class_names(dataset)
    except (FileNotFoundError, ValueError):  # an image folder that is not on this machine
        class_names = None
    generator = load_generator_file(keras_file)
    from ganzoo.models.describe import describe_generator

    if describe_generator(generator)["num_classes"] is None:
        class_names = None
    temporary = onnx_file.parent / f".{onnx_file.stem}.{os.getpid()}.part.onnx"
    try:
        to_onnx(generator, temporary, uint8_output=True, preset=name, variant=variant, class_names=class_names)
        os.replace(metadata_lib.sidecar_path(temporary), metadata_lib.sidecar_path(onnx_file))
        os.replace(temporary, onnx_file)
    finally:
        temporary.unlink(missing_ok=True)
        Path(metadata_lib.sidecar_path(temporary)).unlink(missing_ok=True)
    return onnx_file


def publish(run_dir, name, hub_dir, *, description=None, overwrite=False):
    """Publishes a `ganzoo train` run as preset `name` into a hub directory.

    Writes `<hub_dir>/<name>.keras` (the run's `generator.keras`, rebuilt
    under float32 from the preset's generator spec), `<hub_dir>/<name>.onnx`
    (the same generator exported with uint8 pixels out, verified against
    Keras) with its metadata sidecar `<name>.onnx.json`, `<hub_dir>/<name>.json`
    (the run's `config.json` with `weights` and `onnx` pointing at them:
    file, sha256, size) and adds `name` to `<hub_dir>/index.txt`. The two
    generator files are made and verified under temporary names first, so a
    failed export leaves the hub as it was; then each is renamed into place
    and the preset JSON is written last. (A client that reads the old JSON
    in the moment between the renames and the JSON gets a hash mismatch and
    no file, never a wrong one.) Serve `hub_dir` with any static file server
    and point `GANZOO_HUB_URL` at it.

    Args:
        run_dir: a `ganzoo train` output folder (`generator.keras`,
            `config.json`).
        name: the preset name (file stem).
        hub_dir: the hub directory (created).
        description: replaces the preset's description.
        overwrite: replace a preset of that name already on the hub.

    Returns:
        The path of the preset JSON.

    Raises:
        FileNotFoundError: the run folder lacks a file.
        ValueError: an invalid name or config, or weights that don't fit
            the config's generator.
        RuntimeError: the ONNX export failed or does not match Keras
            (`ganzoo.export.VerificationError`).
    """
    _check_name(name)
    run_dir, hub_dir = Path(run_dir), Path(hub_dir)
    blocking = next((p for p in (hub_dir, *hub_dir.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:  # before the export: a hub that cannot exist must not cost seconds of work
        raise NotADirectoryError(
            f"Expected --hub to be a directory (it is created if missing). Received: {hub_dir}, "
            f"but {blocking} is a file"
        )
    if (hub_lib.shipped_dir() / f"{name}.json").is_file() and hub_dir.resolve() != hub_lib.shipped_dir().resolve():
        raise ValueError(
            f"Expected a preset name that no shipped preset has (shipped presets win over a hub's, so clients "
            f"would never see yours). Received: name={name!r}"
        )
    if (hub_dir / f"{name}.json").exists() and not overwrite:
        raise FileExistsError(
            f"Expected a new preset name on the hub {str(hub_dir)!r}. Received: name={name!r}, which it already "
            "holds; pass --overwrite to replace it"
        )
    for required in ("generator.keras", "config.json"):
        if not (run_dir / required).is_file():
            raise FileNotFoundError(
                f"Expected a `ganzoo train` run folder holding {required}. Received: run_dir={str(run_dir)!r}"
            )
    from ganzoo.training.config import build_network, load_config_file

    config = load_config_file(run_dir / "config.json")
    if "onnx" in config:  # the run's own entry (if any) describes another file
        config["onnx"] = None
    if description is not None:
        config["description"] = description
    trained = load_generator_file(run_dir / "generator.keras")
    generator = build_network(config["generator"], dtype="float32", source=f"generator in {run_dir / 'config.json'}")
    ours = [(layer.name, type(layer).__name__) for layer in generator.layers]
    theirs = [(layer.name, type(layer).__name__) for layer in trained.layers]
    if ours != theirs:
        raise ValueError(
            f"Expected {run_dir / 'generator.keras'} to have the layers of the config's generator {ours}. Received: {theirs}"
        )
    generator.set_weights(trained.get_weights())  # also checks every shape

    hub_dir.mkdir(parents=True, exist_ok=True)
    # Stage both files under temporary names; nothing on the hub changes unless both are made and verified.
    from ganzoo.export import metadata as metadata_lib

    stem = f".{name}.{os.getpid()}"
    staged_keras, staged_onnx = hub_dir / f"{stem}.part.keras", hub_dir / f"{stem}.staged.onnx"
    staged = (staged_keras, staged_onnx, Path(metadata_lib.sidecar_path(staged_onnx)))
    try:
        generator.save(staged_keras)  # save() wants the .keras suffix
        export_preset_onnx(staged_keras, staged_onnx, name, config["variant"], config["recipe"]["dataset"])
        weights_file, onnx_file = hub_dir / f"{name}.keras", hub_dir / f"{name}.onnx"
        config["weights"] = {**_file_entry(staged_keras), "file": weights_file.name}
        config["onnx"] = {**_file_entry(staged_onnx), "file": onnx_file.name}
        validate_config(config, source=f"preset {name!r}")
        os.replace(staged_keras, weights_file)
        os.replace(staged[2], metadata_lib.sidecar_path(onnx_file))
        os.replace(staged_onnx, onnx_file)
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
    preset_file = hub_dir / f"{name}.json"
    hub_lib.write_atomic(preset_file, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    index = hub_dir / hub_lib.INDEX_FILE
    names = set(index.read_text(encoding="utf-8").split()) if index.is_file() else set()
    names.add(name)
    hub_lib.write_atomic(index, ("\n".join(sorted(names)) + "\n").encode("utf-8"))
    return preset_file
