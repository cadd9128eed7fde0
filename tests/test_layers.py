"""The import-linter contracts of pyproject.toml hold, and would catch a broken layer.

`scripts/lint_imports.py` checks the installed view (`export/` as
`ganzoo/export/`); these tests run it on the tree, then on copies with one
deliberate violation each, so a contract that checks nothing fails here.
"""

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed")


def _script():
    spec = importlib.util.spec_from_file_location("lint_imports", ROOT / "scripts" / "lint_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lint(view):
    env = {**os.environ, "PYTHONPATH": str(view)}
    command = [shutil.which("lint-imports"), str(ROOT / "pyproject.toml")]
    result = subprocess.run(command, cwd=view, env=env, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def test_the_tree_keeps_every_contract():
    result = subprocess.run(
        ["python", str(ROOT / "scripts" / "lint_imports.py")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout


def _append(path, line):
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("client/files.py", "import keras", "import no deep-learning framework"),
        ("export/runtime.py", "import onnx", "import no deep-learning framework"),
        ("client/presets.py", "from ganzoo.training import generators", "point one way"),
        ("models/blocks.py", "import ganzoo.runs.run", "point one way"),
        ("training/losses.py", "from ganzoo.training import gan", "No import cycles"),
    ],
)
def test_a_violation_breaks_its_contract(tmp_path, module, line, contract):
    view = _script().installed_view(tmp_path)
    _append(view / "ganzoo" / module, line)
    code, output = _lint(view)
    assert code != 0, output
    broken = output[output.index("Broken contracts") :]
    assert contract in broken, output
