"""A hostile preset is refused from its numbers, in one line naming the key, before anything is allocated.

Issue 18, item 1: a hub preset with `filters` 4096 took `load_generator` to 11.4 GB and `ganzoo train` to a kernel
kill; `latent_dim` 10**7 and 8192-pixel images ended in TensorFlow tracebacks. Also the schema's other bounds
(label smoothing only with target losses, 32-bit seeds) and NumPy integers given to `GAN`.
"""

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.client import network_args, preset_schema  # noqa: E402
from ganzoo.training.config import validate_config  # noqa: E402

ZOO = Path(__file__).resolve().parents[1] / "zoo_configs"
PRESET = json.loads((ZOO / "dcgan_digits.json").read_text())


def _preset(latent_dim=None, classes=None, side=None, channels=None, filters=None, d_filters=None):
    """The shipped dcgan_digits preset with its networks resized consistently (parameters left to the schema)."""
    config = copy.deepcopy(PRESET)
    g, d, gan = config["generator"], config["discriminator"], config["gan"]
    g["parameters"] = d["parameters"] = None
    if latent_dim is not None:
        g["args"]["latent_dim"] = gan["latent_dim"] = latent_dim
    if classes is not None:
        g["args"]["num_classes"] = d["args"]["num_classes"] = gan["num_classes"] = classes
    for network, key, value in ((g, "filters", filters), (d, "filters", d_filters)):
        if value is not None:
            network["args"][key] = value
    for network in (g, d):
        shape = network["args"]["image_shape"]
        network["args"]["image_shape"] = [side or shape[0], side or shape[1], channels or shape[2]]
    config["recipe"]["image_size"] = g["args"]["image_shape"][0]
    return config


@pytest.mark.parametrize(
    "at_bound, over_bound, key",
    [
        ({"filters": 1024}, {"filters": 1025}, "generator.args.filters"),
        ({"d_filters": 1024}, {"d_filters": 4096}, "discriminator.args.filters"),
        ({"latent_dim": 4096}, {"latent_dim": 4097}, "gan.latent_dim"),
        ({"classes": 10_000}, {"classes": 10_001}, "gan.num_classes"),
        (
            {"side": 1024, "filters": 4, "d_filters": 4},
            {"side": 2048, "filters": 4, "d_filters": 4},
            "recipe.image_size",
        ),
        ({"channels": 4}, {"channels": 5}, "generator.args.image_shape"),
    ],
)
def test_every_network_argument_is_bounded_naming_the_key(at_bound, over_bound, key):
    validate_config(_preset(**at_bound))
    with pytest.raises(ValueError, match=rf"^Expected {key.replace('.', '[.]')} [^\n]*Received: {key}=[^\n]*$"):
        validate_config(_preset(**over_bound))


def _small_args(builder):
    latent = {"latent_dim": 4} if "latent_dim" in network_args.BUILDERS[builder].args else {}
    return {"image_shape": [8, 8, 1], **latent}


@pytest.mark.parametrize(
    "builder, arg",
    [
        (builder, arg)
        for builder, spec in network_args.BUILDERS.items()
        for arg, rule in spec.args.items()
        if rule.kind in ("int", "classes")
    ],
)
def test_each_declared_argument_is_bounded_at_its_limits(builder, arg):
    rule = network_args.BUILDERS[builder].args[arg]
    for value in (rule.low, rule.high):
        network_args.check_args(builder, {**_small_args(builder), arg: value})
    for value in (rule.low - 1, rule.high + 1):
        with pytest.raises(
            ValueError,
            match=rf"^Expected {arg} to be (null or )?an int in \[{rule.low}, {rule.high}\]\. Received: {arg}={value}$",
        ):
            network_args.check_args(builder, {**_small_args(builder), arg: value})


def _odd_sides(config):
    for key in ("generator", "discriminator"):
        config[key]["args"]["image_shape"] = [15, 15, 1]
    config["recipe"]["image_size"] = 15


@pytest.mark.parametrize(
    "change, key",
    [
        (_odd_sides, "generator.args.image_shape"),  # in bounds and in agreement, but the networks cannot halve 15
        (lambda c: c["generator"]["args"].update(filters=[64]), "generator.args.filters"),
        (lambda c: c["discriminator"]["args"].update(spectral_norm=1), "discriminator.args.spectral_norm"),
        (lambda c: c["discriminator"]["args"].update(normalization="instance"), "discriminator.args.normalization"),
        (lambda c: c["generator"]["args"].update(kernel_size=3), "generator.args.kernel_size"),
        (lambda c: c["generator"]["args"].pop("latent_dim"), "generator.args.latent_dim"),
    ],
)
def test_a_networks_own_arguments_are_checked_naming_the_key(change, key):
    config = _preset()
    change(config)
    key = key.replace(".", "[.]")
    with pytest.raises(ValueError, match=rf"^Expected (the argument )?{key} |^Expected [^\n]*unknown argument {key}$"):
        validate_config(config)


def test_the_weight_count_is_capped_before_anything_is_built():
    # Each argument within its bounds, together 183 G weights (733 GB of float32).
    config = _preset(side=1024, filters=1024)
    with pytest.raises(ValueError, match=r"^Expected generator\.args to give at most 100000000 parameters\. [^\n]*$"):
        validate_config(config)


def test_parameters_must_be_the_count_the_arguments_give():
    config = copy.deepcopy(PRESET)
    validate_config(copy.deepcopy(config))
    config["discriminator"]["parameters"] += 1
    with pytest.raises(ValueError, match=r"discriminator\.parameters.*the 34657 weights"):
        validate_config(config)


@pytest.mark.parametrize("seed, ok", [(0, True), (2**32 - 1, True), (2**32, False), (2**70, False), (-1, False)])
def test_seeds_are_32_bit_naming_recipe_seed(seed, ok):
    config = copy.deepcopy(PRESET)
    config["recipe"]["seed"] = seed
    if ok:
        validate_config(config)
    else:
        with pytest.raises(
            ValueError, match=r"^Expected recipe\.seed to be in \[0, 2\*\*32\)\. Received: recipe\.seed="
        ):
            validate_config(config)


def test_label_smoothing_only_with_the_losses_that_have_targets():
    from ganzoo.training import losses

    assert set(preset_schema._TARGET_LOSSES) == {name for name, loss in losses.LOSSES.items() if loss.smoothable}


@pytest.mark.parametrize("loss", preset_schema.LOSS_NAMES)
@pytest.mark.parametrize("key", ["label_smoothing", "fake_label_smoothing"])
def test_the_schema_and_the_gan_agree_on_label_smoothing(loss, key):
    from ganzoo.training.config import build_gan

    config = copy.deepcopy(PRESET)
    config["gan"]["loss"], config["gan"][key] = loss, 0.1
    config["discriminator"]["args"]["normalization"] = None
    config["discriminator"]["parameters"] = None
    try:  # the GAN is the reference: it refuses smoothing for losses without target labels
        from ganzoo.training.gan import GAN
        from ganzoo.models import registry

        GAN(
            registry.build_network(config["generator"]),
            registry.build_network(config["discriminator"]),
            **config["gan"],
        )
        gan_accepts = True
    except ValueError as error:
        assert key in str(error)
        gan_accepts = False
    if gan_accepts:
        build_gan(config, compile=False)
    else:
        with pytest.raises(ValueError, match=rf"^Expected gan\.{key} to be 0 with gan\.loss='{loss}'"):
            validate_config(config)


def test_gan_takes_numpy_integers_for_its_integer_arguments():
    from ganzoo.training.gan import GAN
    from ganzoo.models import dcgan_discriminator, dcgan_generator

    generator = dcgan_generator((16, 16, 1), 8, num_classes=3, filters=4)
    discriminator = dcgan_discriminator((16, 16, 1), num_classes=3, filters=4, normalization=None)
    gan = GAN(
        generator, discriminator, latent_dim=np.int64(8), num_classes=np.int64(3), discriminator_steps=np.int32(2)
    )
    config = gan.get_config()
    for key, value in (("latent_dim", 8), ("num_classes", 3), ("discriminator_steps", 2)):
        assert type(config[key]) is int and config[key] == value, key
    with pytest.raises(ValueError, match=r"latent_dim=np\.int64\(9\)|latent_dim=9"):
        GAN(generator, discriminator, latent_dim=np.int64(9), num_classes=3)


# -- memory: a hostile preset never reaches the allocator ------------------------------------------------

CEILING_KB = 512 * 1024  # the largest network allowed holds 400 MB; a refused one must hold nothing
CHILD = r"""
import contextlib, io, json, os, resource, sys
import numpy as np
import ganzoo
from ganzoo import cli
from ganzoo.models import registry

hub, out = sys.argv[1], sys.argv[2]
tiny = {"builder": "dcgan_generator", "args": {"image_shape": [16, 16, 1], "latent_dim": 8, "filters": 4}}
registry.build_network(tiny)(np.zeros((2, 8), "float32"))  # Keras and TensorFlow set up their own state first
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, flush=True)
sys.stdin.readline()  # the parent watches this process's memory from here on


def refused(call):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            call()
    except ValueError as error:
        return str(error)
    return None


def train(name):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["train", name, "--out", os.path.join(out, name)])
    return err.getvalue().strip() if code == 2 else f"exit {code}: {err.getvalue()}"


def entry(**args):
    return {"builder": "dcgan_generator", "args": {"image_shape": [16, 16, 1], "latent_dim": 8, **args}}


cases = {
    "load_generator": lambda: refused(lambda: ganzoo.load_generator("big_filters", hub=hub)),
    "GAN.from_preset": lambda: refused(lambda: ganzoo.GAN.from_preset("big_filters", hub=hub)),
    "ganzoo train": lambda: train("big_filters"),
    "latent_dim": lambda: refused(lambda: ganzoo.load_generator("big_latent", hub=hub)),
    "image side": lambda: refused(lambda: ganzoo.load_generator("big_images", hub=hub)),
    "build_network": lambda: refused(lambda: registry.build_network(entry(filters=4096), source="generator")),
    "build_network cap": lambda: refused(
        lambda: registry.build_network(entry(image_shape=[1024, 1024, 3], filters=1024), source="generator")
    ),
}
results = {}
for name, case in cases.items():
    print("case:", name, file=sys.stderr, flush=True)
    results[name] = case()
results["growth_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
print(json.dumps(results), flush=True)
"""


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_hostile_presets_are_refused_without_allocating(tmp_path):
    hub = tmp_path / "hub"
    hub.mkdir()
    for name, config in (
        ("big_filters", _preset(filters=4096)),
        ("big_latent", _preset(latent_dim=10**7)),
        ("big_images", _preset(side=8192)),
    ):
        config["weights"] = {"file": f"{name}.keras", "sha256": "0" * 64, "size_bytes": 10**6}
        config["onnx"] = None
        (hub / f"{name}.json").write_text(json.dumps(config))
    env = {**os.environ, "GANZOO_HUB_URL": str(hub), "GANZOO_CACHE": str(tmp_path / "cache"), "GANZOO_OFFLINE": "1"}
    with open(tmp_path / "stderr.txt", "w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(hub), str(tmp_path / "runs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
        try:
            base_kb = int(child.stdout.readline())
            child.stdin.write("go\n")
            child.stdin.flush()
            deadline, peak_kb = time.monotonic() + 120, 0
            while child.poll() is None:  # killed at the ceiling, so that a regression fails instead of swapping
                try:
                    peak_kb = max(peak_kb, _rss_kb(child.pid))
                except (OSError, StopIteration):
                    break  # the process has just ended
                if peak_kb > base_kb + CEILING_KB or time.monotonic() > deadline:
                    child.kill()
                    break
                time.sleep(0.002)
            output = child.communicate(timeout=60)[0]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    log = (tmp_path / "stderr.txt").read_text()
    assert peak_kb <= base_kb + CEILING_KB, f"RSS grew by {(peak_kb - base_kb) // 1024} MiB; {log[-2000:]}"
    assert child.returncode == 0, log[-3000:]
    results = json.loads(output.strip().splitlines()[-1])
    assert results.pop("growth_kb") <= CEILING_KB
    expected = {
        "load_generator": "generator.args.filters",
        "GAN.from_preset": "generator.args.filters",
        "ganzoo train": "generator.args.filters",
        "latent_dim": "gan.latent_dim",
        "image side": "recipe.image_size",
        "build_network": "args.filters",
        "build_network cap": "at most 100000000 parameters",
    }
    assert set(results) == set(expected)
    for case, key in expected.items():
        message = results[case]
        assert message is not None and "\n" not in message and key in message, (case, message)
