"""One driver per Keras backend (`ganzoo.backends`): the one picked, their common shape, and no backend branches elsewhere."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ast  # noqa: E402
import importlib.util  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402

import ganzoo.backends  # noqa: E402
from ganzoo.backends import driver  # noqa: E402
from helpers import compiled_gan  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ganzoo"
DRIVERS = ("tensorflow", "jax", "torch", "unsupported")
JIT_REFUSAL = "Expected jit_compile=False (or 'auto') on the PyTorch backend"


def _public_names(module):
    """The top-level public functions and constants a driver file defines, read from its source."""
    tree = ast.parse((PACKAGE / "backends" / f"{module}.py").read_text())
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()}
    return names


@pytest.mark.backends
def test_the_driver_is_the_keras_backends():
    assert driver.NAME == keras.backend.backend()
    assert driver.__name__ == f"ganzoo.backends.{keras.backend.backend()}"
    ganzoo.backends.check_backend()  # a backend ganzoo trains on


def test_every_driver_defines_the_same_functions():
    reference = _public_names("tensorflow") - {"SUPPORTED_BACKENDS"}
    assert {"NAME", "minimize", "input_gradients", "train_step", "replica_context", "accelerator"} <= reference
    for module in DRIVERS[1:]:
        assert _public_names(module) - {"SUPPORTED_BACKENDS", "check_backend"} == reference, module


def _library_modules():
    """Every Python file of the ganzoo package outside ganzoo/backends/."""
    inside = [path for path in sorted(PACKAGE.rglob("*.py")) if "backends" not in path.relative_to(PACKAGE).parts]
    return inside + [path for path in sorted((ROOT / "export").glob("*.py"))]


def test_no_backend_branches_or_keras_internals_outside_the_drivers():
    """`backend() ==`/`!=` and `keras.src` live only in ganzoo/backends/ (the drivers and keras_private)."""
    branch = re.compile(r"backend\(\)\s*[!=]=")
    offenders = []
    for path in _library_modules():
        source = path.read_text()
        where = path.relative_to(ROOT)
        offenders += [f"{where}: backend() branch" for _ in branch.finditer(source)]
        offenders += [f"{where}: mentions keras.src" for _ in re.finditer(r"keras\.src\b", source)]
        for node in ast.walk(ast.parse(source)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            modules += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{where}: imports {m}" for m in modules if m == "keras.src" or m.startswith("keras.src.")]
    assert not offenders, "\n".join(offenders)
    assert len(_library_modules()) > 20  # the scan saw the package


def test_jit_compile_on_pytorch_is_refused_at_compile():
    """Keras would turn jit_compile=True into torch.compile of the step, which ganzoo does not support."""
    if keras.backend.backend() == "torch":
        compiled_gan("dcgan", jit_compile=False)
        compiled_gan("dcgan", jit_compile="auto")
        with pytest.raises(ValueError, match=re.escape(JIT_REFUSAL) + ".*Received: jit_compile=True"):
            compiled_gan("dcgan", jit_compile=True)
        return
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed")
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from helpers import compiled_gan\n"
        "compiled_gan('dcgan', jit_compile=False)\n"
        "compiled_gan('dcgan', jit_compile='auto')\n"
        "try:\n"
        "    compiled_gan('dcgan', jit_compile=True)\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert JIT_REFUSAL in result.stdout and "Received: jit_compile=True" in result.stdout, result.stdout
