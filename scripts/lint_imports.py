"""Checks the import-linter contracts of pyproject.toml over the installed layout.

The sources keep `export/` at the top of the repository (the project's
layout), while it installs as `ganzoo.export`. import-linter finds
subpackages by walking the package folder, so this script builds the
installed view (`ganzoo/` with `export/` as `ganzoo/export/`) in a temporary
folder and runs `lint-imports` there. Exit status: lint-imports'.

Usage:
    python scripts/lint_imports.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def installed_view(target):
    """Copies the Python sources into `target` as they install: `ganzoo/`, with `export/` as `ganzoo/export/`."""
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "web", "*.onnx", "*.h5")
    shutil.copytree(ROOT / "ganzoo", target / "ganzoo", ignore=ignore)
    shutil.copytree(ROOT / "export", target / "ganzoo" / "export", ignore=ignore)
    return target


def main():
    with tempfile.TemporaryDirectory(prefix="ganzoo-lint-") as folder:
        view = installed_view(Path(folder))
        env = {**os.environ, "PYTHONPATH": str(view)}
        command = [shutil.which("lint-imports") or "lint-imports", str(ROOT / "pyproject.toml")]
        return subprocess.run(command, cwd=view, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
