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
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("ganzoo", "export")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert listed == on_disk | {"ganzoo.zoo_configs"}
    assert cfg["options"]["package_dir"].split() == ["ganzoo.zoo_configs", "=", "zoo_configs"]
    patterns = {p.strip() for p in cfg["options.package_data"]["ganzoo.zoo_configs"].split(",")}
    assert {"*.json", "*.keras", "index.txt"} <= patterns
    assert {p.suffix for p in (REPO / "zoo_configs").iterdir()} <= {".json", ".keras", ".txt", ".md"}


@pytest.mark.slow
def test_non_editable_install_runs_from_another_directory():
    # This interpreter's packages, whether it is a virtualenv's python or the system's.
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "check_install.sh")], capture_output=True, text=True, timeout=900, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "check_install: OK" in result.stdout
