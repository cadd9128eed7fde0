"""Tests for `ganzoo train` and `ganzoo generate` through `ganzoo.cli.main`."""

import importlib.util
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from ganzoo.cli import main  # noqa: E402
from ganzoo.training.config import build_network, default_config, validate_config  # noqa: E402

TINY = ["--latent-dim", "8", "--filters", "8", "--batch-size", "64", "--verbose", "0"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "dcgan"
    assert main(["train", "dcgan", "--epochs", "1", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def cgan_file(tmp_path_factory):
    """An untrained conditional generator saved as .keras (sampling needs no training)."""
    path = tmp_path_factory.mktemp("cgan") / "cgan.keras"
    build_network(default_config("cgan", latent_dim=8, filters=8)["generator"]).save(path)
    return path


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from ganzoo.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['generate', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TF', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "VARIANT_OR_PRESET" in result.stdout and "--labels" in result.stdout
    assert result.stdout.strip().endswith("TF False False")


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="the CLI imports TensorFlow only if there")
def test_argument_and_preset_errors_come_before_tensorflow_loads(tmp_path):
    """A typo costs a fraction of a second, not TensorFlow's start (about 13 s here): each error exits 2 naming what
    was wrong, and neither Keras nor TensorFlow was imported."""
    cases = [
        (["dcgan", "--epochs", "0"], "Expected --epochs to be an int >= 1. Received: '0'"),
        (["dcgan", "--batch-size", "-3"], "Expected --batch-size to be an int >= 1. Received: '-3'"),
        (["dcgan", "--seed", "-1"], "Expected --seed to be an int in [0, 4294967295]. Received: '-1'"),
        (["dcgan", "--seed", str(2**32)], "Expected --seed to be an int in [0, 4294967295]. Received: '4294967296'"),
        (
            ["dcgan", "--dataset", "fashoin_mnist"],
            "one of digits, fashion_mnist, mnist, cifar10, folder:PATH. Received: --dataset 'fashoin_mnist'",
        ),
        (["no_such_preset"], "Expected a variant (dcgan, lsgan"),
        (["dcgan_fashion_mnist", "--filters", "8"], "Expected --filters only with a variant"),
        (["wgan_gp_fashion_mnist", "--label-smoothing", "0.1"], "only with a loss that has targets"),
        ([str(tmp_path / "bad.json")], "Received invalid JSON"),
    ]
    (tmp_path / "bad.json").write_text("{not json")
    code = (
        "import contextlib, io, json, sys\n"
        "from ganzoo.cli import main\n"
        "out = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        try:\n"
        "            rc = main(['train', *argv, '--out', sys.argv[2]])\n"
        "        except SystemExit as exit:\n"
        "            rc = exit.code\n"
        "    out.append([rc, err.getvalue()])\n"
        "print(json.dumps([out, 'tensorflow' in sys.modules, 'keras' in sys.modules]))\n"
    )
    argv = json.dumps([case for case, _ in cases])
    # As a user runs it: with no TF_CPP_MIN_LOG_LEVEL of their own, the CLI imports TensorFlow (quietly) itself.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GANZOO_DEFAULT_TF_LOG_LEVEL")}
    result = subprocess.run(
        [sys.executable, "-c", code, argv, str(tmp_path / "run")], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    out, tensorflow, keras_loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for (case, message), (rc, err) in zip(cases, out):
        assert rc == 2 and message in err, (case, err)
    assert (tensorflow, keras_loaded) == (False, False)
    assert not (tmp_path / "run").exists()


def test_train_writes_all_artefacts(run_dir, capsys):
    names = set(os.listdir(run_dir))
    assert {"generator.keras", "config.json", "metrics.csv", "metrics.png", "samples"} <= names
    assert os.listdir(run_dir / "samples") == ["epoch_001.png"]
    export_available = True
    try:
        from ganzoo import export  # noqa: F401
    except ImportError:
        export_available = False
    assert ("generator.onnx" in names) == export_available
    config = json.loads((run_dir / "config.json").read_text())
    validate_config(config)
    assert config["training"]["command"].startswith("ganzoo train dcgan --latent-dim 8 --filters 8 --epochs 1")
    assert config["gan"]["latent_dim"] == 8 and config["recipe"]["epochs"] == 1


def test_generate_from_a_run_folder_and_a_keras_file(run_dir, tmp_path):
    assert main(["generate", str(run_dir), "-n", "10", "-o", str(tmp_path / "a.png")]) == 0
    with Image.open(tmp_path / "a.png") as png:
        assert png.size == (4 * 66 + 2, 3 * 66 + 2)  # 10 images: 4 per row, 3 rows
    assert (
        main(["generate", str(run_dir / "generator.keras"), "-n", "10", "--nrow", "5", "-o", str(tmp_path / "b.png")])
        == 0
    )
    with Image.open(tmp_path / "b.png") as png:
        assert png.size == (5 * 66 + 2, 2 * 66 + 2)


def test_generate_conditional_labels(cgan_file, tmp_path):
    out = tmp_path / "c.png"
    assert main(["generate", str(cgan_file), "-n", "20", "-o", str(out)]) == 0
    with Image.open(out) as png:
        assert png.size == (10 * 66 + 2, 2 * 66 + 2)  # one column per class
    assert main(["generate", str(cgan_file), "-n", "4", "--labels", "3", "-o", str(out)]) == 0
    with Image.open(out) as png:
        assert png.size == (2 * 66 + 2, 2 * 66 + 2)


@pytest.mark.parametrize(
    "labels, message",
    [
        ("12", r"labels in \[0, 10\)"),
        ("-1", r"labels in \[0, 10\)"),
        ("a,b", "comma-separated class ids"),
        ("1,,2", "comma-separated"),
    ],
)
def test_generate_bad_labels_are_clear_errors(cgan_file, tmp_path, capsys, labels, message):
    assert main(["generate", str(cgan_file), "--labels", labels, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganzoo generate: error:")
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "x.png").exists()


def test_generate_labels_for_an_unconditional_generator_is_an_error(run_dir, tmp_path, capsys):
    assert main(["generate", str(run_dir), "--labels", "1", "-o", str(tmp_path / "x.png")]) == 2
    assert "unconditional" in capsys.readouterr().err


def test_generate_missing_file_is_an_error(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "x.png")]) == 2
    assert "nope.keras" in capsys.readouterr().err


def test_train_unknown_name_lists_variants_and_presets(capsys):
    assert main(["train", "biggan", "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    assert "dcgan, lsgan, wgan_gp, cgan" in err and "biggan" in err


def test_train_preset_file_refuses_variant_options(tmp_path, capsys):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(default_config("lsgan", latent_dim=8, filters=8)))
    assert main(["train", str(path), "--dataset", "fashion_mnist", "--latent-dim", "4"]) == 2
    assert "--dataset, --latent-dim" in capsys.readouterr().err
    broken = default_config("lsgan", latent_dim=8, filters=8)
    broken["recipe"]["batch_size"] = "64"
    path.write_text(json.dumps(broken))
    assert main(["train", str(path)]) == 2
    assert "recipe.batch_size" in capsys.readouterr().err


def test_resolve_config_applies_overrides_to_a_preset_file(tmp_path):
    from ganzoo.cli import build_parser
    from ganzoo.commands.train import resolve_config

    path = tmp_path / "mine.json"
    path.write_text(json.dumps(default_config("wgan_gp", latent_dim=8, filters=8)))
    args = build_parser().parse_args(
        ["train", str(path), "--epochs", "3", "--batch-size", "16", "--seed", "5", "--ema-decay", "0.99"]
    )
    name, config = resolve_config(args)
    assert name == "mine"
    assert config["recipe"]["epochs"] == 3 and config["recipe"]["batch_size"] == 16 and config["recipe"]["seed"] == 5
    assert config["recipe"]["ema_decay"] == 0.99 and config["gan"]["discriminator_steps"] == 5
    args = build_parser().parse_args(["train"])
    name, config = resolve_config(args)
    assert name == "dcgan" and config["recipe"]["dataset"] == "digits"
    assert keras.config.dtype_policy().name == "float32"


def test_conditional_lsgan_with_two_sided_smoothing_trains_from_the_cli(tmp_path):
    out = tmp_path / "lsgan"
    argv = [
        "train",
        "lsgan",
        "--conditional",
        "--label-smoothing",
        "0.1",
        "--fake-label-smoothing",
        "0.1",
        "--epochs",
        "1",
        *TINY,
        "--out",
        str(out),
        "--no-export",
    ]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["gan"]["num_classes"] == 10 and config["gan"]["loss"] == "least_squares"
    assert (config["gan"]["label_smoothing"], config["gan"]["fake_label_smoothing"]) == (0.1, 0.1)
    assert (
        "--conditional" in config["training"]["command"]
        and "--fake-label-smoothing 0.1" in config["training"]["command"]
    )
    generator = keras.saving.load_model(out / "generator.keras")
    assert [tensor.name for tensor in generator.inputs] == ["z", "label"]


def test_conditional_resnet_sngan_trains_from_the_cli(tmp_path):
    out = tmp_path / "sngan"
    assert (
        main(
            [
                "train",
                "sngan",
                "--architecture",
                "resnet",
                "--conditional",
                "--epochs",
                "1",
                *TINY,
                "--out",
                str(out),
                "--no-export",
            ]
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["generator"]["builder"] == "resnet_generator" and config["gan"]["loss"] == "hinge"
    assert config["discriminator"]["args"]["spectral_norm"] is True and config["gan"]["num_classes"] == 10


@pytest.mark.parametrize(
    "argv, message",
    [
        (["wgan_gp", "--label-smoothing", "0.1"], "--label-smoothing only with a loss that has targets"),
        (["dcgan", "--label-smoothing", "0.7"], r"--label-smoothing in \[0, 0.5\)"),
        (["dcgan", "--fake-label-smoothing", "nan"], "--fake-label-smoothing in"),
        (["dcgan_digits", "--conditional"], "--conditional only with a variant"),
        (["dcgan_digits", "--architecture", "resnet"], "--architecture only with a variant"),
        (
            ["dcgan", "--ada-target", "0.6"],
            r"Expected --augment POLICY while the ADA controller is on \(ada_target=0.6\)",
        ),
    ],
)
def test_new_training_options_have_clear_errors(argv, message, capsys, tmp_path):
    assert main(["train", *argv, "--verbose", "0", "--out", str(tmp_path / "run")]) == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--augment", "translation,zoom"],
            "Expected --augment to name each of color, translation, cutout at most once",
        ),
        (["--augment", "cutout,cutout"], "Expected --augment to name each of"),
        (
            ["--augment-probability", "1.5"],
            "Expected --augment-probability to be a finite float in [0, 1]. Received: '1.5'",
        ),
        (["--ada-target", "1"], "Expected --ada-target to be a finite float in (0, 1), or 'none'. Received: '1'"),
        (["--ada-target", "0"], "Expected --ada-target to be a finite float in (0, 1), or 'none'. Received: '0'"),
        (["--r1-weight", "inf"], "Expected --r1-weight to be a finite float >= 0. Received: 'inf'"),
        (["--r1-weight", "1e400"], "Expected --r1-weight to be a finite float >= 0. Received: '1e400'"),
        (["--r1-weight", "nan"], "Expected --r1-weight to be a finite float >= 0. Received: 'nan'"),
        (["--r1-interval", "0"], "Expected --r1-interval to be an int >= 1. Received: '0'"),
    ],
)
def test_stabiliser_flags_are_checked_while_parsing(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dcgan", *argv, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_stabiliser_flags_reach_the_gan_and_the_recorded_command(tmp_path):
    """DiffAugment with ADA and lazy R1 from the command line: stored in config.json and active while training."""
    out = tmp_path / "run"
    argv = ["--augment", "cutout,translation", "--augment-probability", "0.25", "--ada-target", "0.6"]
    argv += ["--r1-weight", "5", "--r1-interval", "2"]
    assert main(["train", "dcgan", *argv, "--epochs", "2", *TINY, "--out", str(out), "--no-export"]) == 0
    config = json.loads((out / "config.json").read_text())
    gan = {k: config["gan"][k] for k in ("augment", "augment_probability", "ada_target", "r1_weight", "r1_interval")}
    assert gan == {
        "augment": "translation,cutout",  # the paper's order
        "augment_probability": 0.25,
        "ada_target": 0.6,
        "r1_weight": 5.0,
        "r1_interval": 2,
    }
    command = config["training"]["command"]
    assert "--augment translation,cutout --augment-probability 0.25 --ada-target 0.6" in command
    assert "--r1-weight 5.0 --r1-interval 2" in command
    import csv

    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(row["r1"]) > 0 for row in rows)
    p = [float(row["augment_p"]) for row in rows]
    assert all(0 <= v <= 1 for v in p) and p != [0.25, 0.25]  # the controller moved it


def test_stabiliser_flags_override_a_preset_and_none_turns_its_policy_off(tmp_path):
    from ganzoo.cli import build_parser
    from ganzoo.commands.train import resolve_config

    path = tmp_path / "mine.json"
    config = default_config("dcgan", latent_dim=8, filters=8)
    config["gan"].update(augment="color,cutout", r1_weight=1.0)
    path.write_text(json.dumps(config))
    _, resolved = resolve_config(build_parser().parse_args(["train", str(path)]))
    assert resolved["gan"]["augment"] == "color,cutout" and resolved["gan"]["r1_weight"] == 1.0
    args = build_parser().parse_args(["train", str(path), "--augment", "none", "--r1-weight", "0"])
    _, resolved = resolve_config(args)
    assert resolved["gan"]["augment"] is None and resolved["gan"]["r1_weight"] == 0.0
    config["gan"]["ada_target"] = 0.6
    path.write_text(json.dumps(config))
    for off in (["--augment", "none"], ["--augment", "None", "--ada-target", "none"]):  # no policy: no ADA either
        _, resolved = resolve_config(build_parser().parse_args(["train", str(path), *off]))
        assert resolved["gan"]["augment"] is None and resolved["gan"]["ada_target"] is None
    _, resolved = resolve_config(build_parser().parse_args(["train", str(path), "--ada-target", "none"]))
    assert resolved["gan"]["augment"] == "color,cutout" and resolved["gan"]["ada_target"] is None
    with pytest.raises(ValueError, match=r"Expected --augment POLICY while the ADA controller is on \(ada_target=0.5"):
        resolve_config(build_parser().parse_args(["train", str(path), "--augment", "none", "--ada-target", "0.5"]))


def test_the_recorded_command_with_stabiliser_flags_resolves_to_the_same_config():
    import shlex

    from ganzoo.cli import build_parser
    from ganzoo.commands.train_config import command_line, resolve_config

    argv = ["train", "dcgan", "--augment", "Cutout, Translation", "--ada-target", "0.6", "--r1-weight", "5"]
    args = build_parser().parse_args(argv + ["--r1-interval", "4", "--augment-probability", "0"])
    _, config = resolve_config(args)
    recorded = command_line(args)
    again = build_parser().parse_args(shlex.split(recorded)[1:])
    _, config_again = resolve_config(again)
    assert config_again == config and command_line(again) == recorded
    assert config["gan"]["augment"] == "translation,cutout" and config["gan"]["r1_interval"] == 4
