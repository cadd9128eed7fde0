"""Packaging: the wheel ships every package and the preset zoo; a non-editable install works."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package_and_the_zoo():
    # setup.cfg lists packages explicitly (find: cannot see the mapped ganzoo.zoo_configs): a new
    # subpackage must be added there, or the wheel silently lacks it.
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "ganzoo").rglob("__init__.py")}
    # export/ installs under the ganzoo namespace: an app's own export.py must not shadow it.
    on_disk |= {
        ".".join(("ganzoo", *init.parent.relative_to(REPO).parts)) for init in (REPO / "export").rglob("__init__.py")
    }
    assert listed == on_disk | {"ganzoo.zoo_configs"}
    assert "export" not in listed
    mapping = cfg["options"]["package_dir"].split()
    assert mapping == ["ganzoo.zoo_configs", "=", "zoo_configs", "ganzoo.export", "=", "export"]
    patterns = {p.strip() for p in cfg["options.package_data"]["ganzoo.zoo_configs"].split(",")}
    assert {"*.json", "*.keras", "index.txt"} <= patterns
    assert {p.suffix for p in (REPO / "zoo_configs").iterdir()} <= {".json", ".keras", ".onnx", ".txt", ".md"}
    assert "*.onnx" in patterns


def test_the_declared_license_ships_and_package_data_names_only_real_files():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["metadata"]["license"] == "Apache-2.0"
    text = (REPO / cfg["metadata"]["license_files"].strip()).read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    for package, patterns in cfg["options.package_data"].items():
        folder = REPO / ("zoo_configs" if package == "ganzoo.zoo_configs" else package.replace(".", "/"))
        for pattern in (p.strip() for p in patterns.split(",")):
            assert list(folder.glob(pattern)), f"package_data {package}: {pattern} matches no file in {folder}"


@pytest.mark.slow
def test_non_editable_install_runs_from_another_directory():
    # This interpreter's packages, whether it is a virtualenv's python or the system's.
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "check_install.sh")], capture_output=True, text=True, timeout=900, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "check_install: OK" in result.stdout


@pytest.mark.slow
def test_base_install_runs_presets_without_keras():
    """`pip install keras-ganzoo` (no extras) in a fresh venv: generate from a preset name, shipped or on an HTTP mirror."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "check_base_install.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "check_base_install: OK" in result.stdout


def test_without_keras_the_error_names_the_extras(tmp_path):
    """A base install (no Keras, no backend): ganzoo imports, lists presets, and using the
    training API gives one error that says which extra to install."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('keras', 'tensorflow', 'jax', 'torch'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    code = "import ganzoo\ntry:\n    ganzoo.GAN\nexcept ImportError as e:\n    print('ERROR:', e)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "'keras-ganzoo[tensorflow]'" in result.stdout and "'keras-ganzoo[jax]'" in result.stdout, result.stdout
    cli = subprocess.run(
        [sys.executable, "-m", "ganzoo", "train", "dcgan", "--epochs", "1", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert cli.returncode == 2 and "'keras-ganzoo[tensorflow]'" in cli.stderr and "Traceback" not in cli.stderr, (
        cli.stderr
    )
