"""A user's `.keras` file is checked before Keras reads it: zip bombs, member names, foreign classes.

See `ganzoo/keras_file.py`. The zip-bomb test measures the peak memory of
every entry point that opens a `.keras` file in a subprocess, with a
ceiling, so that a regression fails instead of swapping.
"""

import json
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from ganzoo.training import keras_file
from ganzoo.training import generators
from ganzoo.models import OneHot, dcgan_generator

SHIPPED = Path(__file__).resolve().parents[1] / "zoo_configs" / "dcgan_digits.keras"
MIB = 2**20


def rewrite(target, config=None, extra=(), source=SHIPPED):
    """Copies `source` to `target` with its config.json replaced by `config`, plus `extra` (name, bytes) members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info) if info.filename != "config.json" or config is None else json.dumps(config)
            new.writestr(info.filename, data)
        for name, data in extra:
            new.writestr(name, data)
    return target


def write_bomb(path, member="config.json", size=200 * MIB, byte=b" "):
    """A small zip whose `member` inflates to `size` bytes of `byte` (200 MiB of spaces deflate to ~200 KB)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if member != "config.json":
            with zipfile.ZipFile(SHIPPED) as shipped:
                archive.writestr("config.json", shipped.read("config.json"))
        with archive.open(member, "w", force_zip64=True) as file:
            chunk = byte * MIB
            for _ in range(size // MIB):
                file.write(chunk)
    return path


ENTRY_POINTS = textwrap.dedent(
    """
    import contextlib, io, json, os, resource, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import keras  # imported before the baseline: its own size is not the file's doing
    import ganzoo
    import ganzoo.commands.generate, ganzoo.export.onnx_export
    from ganzoo.cli import main

    def attempts(path, out):
        try:
            ganzoo.load_generator(path)
            yield "load_generator", "loaded"
        except ValueError as error:
            yield "load_generator", str(error)
        for argv in (["generate", path, "-o", out + "/grid.png"], ["export", path, "-o", out + "/g.onnx"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = main(argv)
            yield argv[0], f"rc={rc} " + err.getvalue()

    warm_up, bomb, out = sys.argv[1:4]
    for _ in attempts(warm_up, out):  # the same code paths, on a small refused file: imports happen here
        pass
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = dict(attempts(bomb, out))
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"outcomes": outcomes, "growth_mib": growth}))
    """
)


def test_a_keras_zip_bomb_is_refused_from_the_directory_by_every_entry_point(tmp_path):
    bomb = write_bomb(tmp_path / "bomb.keras")
    assert bomb.stat().st_size < 2 * MIB
    warm_up = rewrite(tmp_path / "warm.keras", extra=[("../outside.txt", b"x")])
    result = subprocess.run(
        [sys.executable, "-c", ENTRY_POINTS, str(warm_up), str(bomb), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    refusal = (
        f"Expected a Keras v3 `.keras` archive. Received: {bomb} holds the member 'config.json' of {200 * MIB} bytes"
    )
    assert report["outcomes"]["load_generator"].startswith(refusal)
    for command in ("generate", "export"):  # the CLI: exit 2 and one line
        assert report["outcomes"][command].startswith(f"rc=2 ganzoo {command}: error: {refusal}")
        assert report["outcomes"][command].count("\n") == 1, report
    # Reading the member whole, as before, costs >= 400 MiB (the bytes, then the decoded text).
    assert report["growth_mib"] < 64, report


def test_a_compression_bomb_in_the_weights_is_refused_before_keras_reads_them(tmp_path):
    bomb = write_bomb(tmp_path / "weights_bomb.keras", member="model.weights.h5", size=64 * MIB, byte=b"\0")
    generator = dcgan_generator((16, 16, 1), 64, filters=32)
    message = r"holds the member 'model.weights.h5' compressed \d+-fold .*a zip bomb\? at most 100-fold"
    with pytest.raises(ValueError, match=re.escape(str(bomb)) + " " + message):
        generators.load_weights(generator, bomb)  # the path of a hub preset's weights, with a matching sha256
    with pytest.raises(ValueError, match=message):
        generators.load_generator(bomb)


def test_an_honest_weights_file_deflated_is_not_a_bomb(tmp_path):
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(SHIPPED) as old, zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
    generator = generators.load_generator(deflated)
    np.testing.assert_array_equal(
        generator(np.ones((1, 64), "float32")), generators.load_generator(SHIPPED)(np.ones((1, 64), "float32"))
    )


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/cron.d/x", "assets/../../x", "C:/x", "assets\\..\\..\\x"])
def test_member_names_outside_the_archive_are_refused(tmp_path, name):
    path = rewrite(tmp_path / "traversal.keras", extra=[(name, b"x")])
    with pytest.raises(ValueError, match=f"holds the member {re.escape(repr(name))}, a path outside the archive"):
        generators.load_generator(path)


def test_a_repeated_member_is_refused(tmp_path):
    path = tmp_path / "twice.keras"
    with pytest.warns(UserWarning, match="Duplicate name"):
        rewrite(path, extra=[("config.json", b'{"class_name": "Lambda"}')])
    with pytest.raises(ValueError, match="holds the member 'config.json' twice"):
        generators.load_generator(path)


def test_corrupt_compressed_config_data_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "corrupt.keras"
    with zipfile.ZipFile(SHIPPED) as shipped, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for info in shipped.infolist():
            new.writestr(info.filename, shipped.read(info))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # the compressed bytes
    for i in range(start + 10, start + 60):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError,
        match=rf"^Expected a Keras v3 `\.keras` archive\. Received: {re.escape(str(path))} holds no readable config\.json",
    ):
        keras_file.read_config(path)


def dense_kernel_initializer(config):
    """The kernel initializer dict of the first Dense layer of a shipped generator's config."""
    (dense,) = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"][:1]
    return dense["config"]


FOREIGN = {
    "os.system": {"module": "os", "class_name": "system", "config": {}, "registered_name": None},
    "subprocess.Popen": {"module": "subprocess", "class_name": "Popen", "config": {}, "registered_name": None},
    "builtins.eval": {"module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"},
    "keras.initializers.Zeros (registered_name='evil>Zeros')": {
        "module": "keras.initializers",
        "class_name": "Zeros",
        "config": {},
        "registered_name": "evil>Zeros",
    },
    "ganzoo.models.layers.Nope (registered_name='ganzoo>Nope')": {
        "module": "ganzoo.models.layers",
        "class_name": "Nope",
        "config": {},
        "registered_name": "ganzoo>Nope",
    },
    "os.OneHot (registered_name='ganzoo>OneHot')": {
        "module": "os",
        "class_name": "OneHot",
        "config": {},
        "registered_name": "ganzoo>OneHot",
    },
}


@pytest.mark.parametrize("qualified", list(FOREIGN))
def test_a_foreign_class_anywhere_in_the_config_is_refused_in_one_line(tmp_path, qualified):
    with zipfile.ZipFile(SHIPPED) as archive:
        config = json.loads(archive.read("config.json"))
    dense_kernel_initializer(config)["kernel_initializer"] = FOREIGN[qualified]  # deep inside a layer's config
    path = rewrite(tmp_path / "foreign.keras", config)
    with pytest.raises(ValueError) as error:
        generators.load_generator(path)
    message = str(error.value)
    assert message == (
        f"Expected only Keras classes (module keras.*) and ganzoo's registered ones (ganzoo>Name) in {path}. "
        f"Received: the class {qualified}"
    )


def test_keras_and_ganzoo_classes_and_builtin_functions_pass(tmp_path):
    labels = keras.Input((), dtype="int32")
    outputs = keras.layers.Dense(4, activation="tanh")(OneHot(3)(labels))
    keras.Model(labels, outputs).save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
    dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"][0]
    dense["config"]["activation"] = keras.saving.serialize_keras_object(keras.activations.tanh)
    assert dense["config"]["activation"]["module"] == "builtins"  # how Keras writes a function
    path = rewrite(tmp_path / "checked.keras", config, source=tmp_path / "model.keras")
    assert {item.get("registered_name") for item in keras_file._walk(keras_file.check_keras_file(path))} >= {
        "ganzoo>OneHot",
        "function",
    }
    model = keras.saving.load_model(path)  # the same config is valid Keras
    np.testing.assert_allclose(
        model(np.array([2])), np.tanh(model.layers[-1].kernel.numpy()[2:3] + model.layers[-1].bias.numpy()), atol=1e-6
    )
