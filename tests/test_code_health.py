"""ruff (lint and format) and vulture (dead code) over the whole tree, as CI runs them.

Each tool also gets a planted fault in a scratch copy, so a configuration that
checks nothing fails here instead of passing quietly.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name):
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return shutil.which(name)


def _run(command, cwd=ROOT):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def test_ruff_finds_nothing():
    code, output = _run([_tool("ruff"), "check", "."])
    assert code == 0, output


def test_the_tree_is_ruff_formatted():
    code, output = _run([_tool("ruff"), "format", "--check", "."])
    assert code == 0, output


def test_vulture_finds_no_dead_code():
    code, output = _run([_tool("vulture")])
    assert code == 0, output


def _scratch(tmp_path):
    for name in ("pyproject.toml", "ruff.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "ganzoo", tmp_path / "ganzoo", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    shutil.copytree(ROOT / "export", tmp_path / "export", ignore=shutil.ignore_patterns("__pycache__", "web", "*.onnx"))
    (tmp_path / "export" / "web").mkdir()
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "vulture_allowlist.py", tmp_path / "scripts")
    return tmp_path


def test_vulture_reports_a_planted_unused_function(tmp_path):
    scratch = _scratch(tmp_path)
    with open(scratch / "ganzoo" / "client" / "files.py", "a") as f:
        f.write("\n\ndef never_called_anywhere():\n    return 1\n")
    code, output = _run([_tool("vulture")], cwd=scratch)
    assert code != 0 and "never_called_anywhere" in output, output


def test_ruff_reports_a_planted_unused_import_and_bad_format(tmp_path):
    scratch = _scratch(tmp_path)
    with open(scratch / "ganzoo" / "client" / "files.py", "a") as f:
        f.write("\nimport json\nx = {  'a':1}\n")
    code, output = _run([_tool("ruff"), "check", "ganzoo/client/files.py"], cwd=scratch)
    assert code != 0 and "F401" in output, output
    code, output = _run([_tool("ruff"), "format", "--check", "ganzoo/client/files.py"], cwd=scratch)
    assert code != 0, output


def test_setup_cfg_lists_every_package_of_the_tree():
    """A package missing from setup.cfg's `packages` is missing from every wheel (the editable install hides it)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ganzoo").rglob("__init__.py")}
    found |= {"ganzoo.export", "ganzoo.zoo_configs"}  # mapped by package_dir from export/ and zoo_configs/
    assert found == listed
