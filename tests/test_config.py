"""Tests for ganzoo.config: the strict preset schema, paper defaults, builders."""

import copy
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

from ganzoo import config as cfg  # noqa: E402
from ganzoo import losses  # noqa: E402
from ganzoo.config import VARIANTS, build_gan, default_config, materialize_dtypes, validate_config  # noqa: E402


@pytest.fixture(scope="module")
def configs():
    return {variant: default_config(variant, latent_dim=8, filters=8) for variant in VARIANTS}


def _serialized(model):
    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


# -- schema strictness -----------------------------------------------------------


def test_loss_names_match_the_loss_registry():
    assert set(cfg.LOSS_NAMES) == set(losses.LOSSES)


def test_valid_config_passes_and_is_pure_json(configs):
    for config in configs.values():
        assert validate_config(config) is config
        assert json.loads(json.dumps(config)) == config


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("recipe", "bogus"), 1, "recipe.bogus"),
        (("gan", "nz"), 64, "gan.nz"),
        (("weights", "url"), "x", "weights.url"),
        (("surprise",), 1, "surprise"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key_path(configs, path, value, message):
    config = copy.deepcopy(configs["dcgan"])
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=rf"unknown key {message}\b"):
        validate_config(config, source="my.json")


@pytest.mark.parametrize(
    "path, value",
    [
        (("recipe", "batch_size"), "64"),
        (("recipe", "batch_size"), 64.0),
        (("recipe", "epochs"), True),  # a bool is not an int
        (("recipe", "ema_decay"), "0.999"),
        (("recipe", "d_optimizer"), "adam"),
        (("gan", "latent_dim"), None),
        (("gan", "gradient_penalty_weight"), "10"),
        (("gan", "loss"), 3),
        (("weights", "size_bytes"), "12"),
        (("description",), None),
        (("generator",), "dcgan"),
    ],
)
def test_wrong_types_are_errors_naming_the_key_path(configs, path, value):
    config = copy.deepcopy(configs["dcgan"])
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=r"\b" + r"\.".join(path) + r"\b") as error:
        validate_config(config, source="my.json")
    assert "my.json" in str(error.value)


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("variant",), "biggan", "variant"),
        (("gan", "loss"), "wgan", "gan.loss"),
        (("gan", "num_classes"), 10, "gan.num_classes"),  # dcgan is unconditional
        (("gan", "label_smoothing"), 1.0, "gan.label_smoothing"),
        (("recipe", "batch_size"), 0, "recipe.batch_size"),
        (("recipe", "ema_decay"), 1.0, "recipe.ema_decay"),
        (("recipe", "d_optimizer", "config", "learning_rate"), -1e-4, r"recipe\.d_optimizer\.config\.learning_rate"),
        (("recipe", "g_optimizer", "config", "learning_rate"), "fast", r"recipe\.g_optimizer\.config\.learning_rate"),
        (("recipe", "g_optimizer", "config", "learning_rate"), float("nan"), "learning_rate"),
    ],
)
def test_out_of_range_values_are_errors(configs, path, value, message):
    config = copy.deepcopy(configs["dcgan"])
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        validate_config(config)


def test_missing_keys_are_errors(configs):
    config = copy.deepcopy(configs["dcgan"])
    del config["recipe"]["seed"]
    with pytest.raises(ValueError, match=r"recipe\.seed"):
        validate_config(config)
    config = copy.deepcopy(configs["dcgan"])
    del config["quality"]
    with pytest.raises(ValueError, match="quality"):
        validate_config(config)


def test_ints_are_accepted_for_floats_and_training_is_checked(configs):
    config = copy.deepcopy(configs["wgan_gp"])
    config["gan"]["gradient_penalty_weight"] = 10
    config["training"] = {"seconds": 3, "command": "ganzoo train wgan_gp", "ganzoo_version": "0.1.0"}
    validate_config(config)
    config["training"]["extra"] = 1
    with pytest.raises(ValueError, match=r"training\.extra"):
        validate_config(config)


def test_load_config_file_names_the_file(tmp_path, configs):
    path = tmp_path / "broken.json"
    config = copy.deepcopy(configs["lsgan"])
    config["recipe"]["epochs"] = "ten"
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"recipe\.epochs.*broken\.json|broken\.json.*recipe\.epochs"):
        cfg.load_config_file(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        cfg.load_config_file(path)


# -- paper defaults ---------------------------------------------------------------


def _adam(spec):
    assert spec["class_name"] == "Adam"
    c = spec["config"]
    return c["learning_rate"], c["beta_1"], c["beta_2"]


def _layer_classes(spec):
    return [layer["class_name"] for layer in spec["config"]["layers"]]


@pytest.mark.parametrize("variant", ["dcgan", "lsgan", "cgan"])
def test_dcgan_family_hyperparameters(configs, variant):
    config = configs[variant]
    gan = config["gan"]
    assert gan["loss"] == {"dcgan": "non_saturating", "lsgan": "least_squares", "cgan": "non_saturating"}[variant]
    assert gan["discriminator_steps"] == 1 and gan["gradient_penalty_weight"] == 0.0 and gan["label_smoothing"] == 0.0
    for key in ("d_optimizer", "g_optimizer"):
        assert _adam(config["recipe"][key]) == (2e-4, 0.5, 0.999)
    assert "BatchNormalization" in _layer_classes(config["discriminator"])
    assert "LeakyReLU" in _layer_classes(config["discriminator"])
    assert config["recipe"]["ema_decay"] is None


def test_wgan_gp_hyperparameters(configs):
    config = configs["wgan_gp"]
    assert config["gan"]["loss"] == "wasserstein"
    assert config["gan"]["gradient_penalty_weight"] == 10.0
    assert config["gan"]["discriminator_steps"] == 5
    for key in ("d_optimizer", "g_optimizer"):
        assert _adam(config["recipe"][key]) == (1e-4, 0.0, 0.9)
    classes = _layer_classes(config["discriminator"])
    assert "BatchNormalization" not in classes and "LayerNormalization" not in classes


def test_generators_are_bn_relu_with_tanh_output(configs):
    for config in configs.values():
        layers = config["generator"]["config"]["layers"]
        classes = [layer["class_name"] for layer in layers]
        assert "BatchNormalization" in classes and "ReLU" in classes
        assert layers[-1]["config"]["activation"] == "tanh"


def test_cgan_takes_num_classes_from_the_dataset(configs):
    assert configs["cgan"]["gan"]["num_classes"] == 10
    assert all(configs[v]["gan"]["num_classes"] is None for v in ("dcgan", "lsgan", "wgan_gp"))


def test_default_sizes_and_overrides():
    config = default_config("dcgan")
    assert config["recipe"]["dataset"] == "digits" and config["recipe"]["image_size"] == 16
    assert config["gan"]["latent_dim"] == cfg.DATASET_DEFAULTS["digits"]["latent_dim"]
    assert config["recipe"]["epochs"] == cfg.DATASET_DEFAULTS["digits"]["epochs"]
    config = default_config("wgan_gp", image_size=32, epochs=3, batch_size=16, seed=7, latent_dim=5, filters=4)
    assert config["recipe"]["image_size"] == 32 and config["recipe"]["epochs"] == 3
    assert config["recipe"]["batch_size"] == 16 and config["recipe"]["seed"] == 7
    assert config["gan"]["latent_dim"] == 5
    assert config["discriminator"]["config"]["layers"][0]["config"]["batch_shape"] == [None, 32, 32, 1]
    with pytest.raises(ValueError, match="variant"):
        default_config("biggan")


def test_default_config_is_deterministic():
    assert default_config("cgan", latent_dim=8, filters=8) == default_config("cgan", latent_dim=8, filters=8)


# -- building ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_default_configs_build_and_round_trip(configs, variant):
    config = configs[variant]
    gan = build_gan(config)
    # The built networks serialize back to the config's specs (null dtypes = the float32 policy).
    assert _serialized(gan.generator) == materialize_dtypes(config["generator"], "float32")
    assert _serialized(gan.discriminator) == materialize_dtypes(config["discriminator"], "float32")
    for key, value in config["gan"].items():
        assert getattr(gan, "loss_name" if key == "loss" else key) == value
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(config["recipe"]["d_optimizer"]["config"]["learning_rate"])
    assert gan.d_optimizer is not gan.g_optimizer
    # Building does not modify the config.
    assert config == default_config(variant, latent_dim=8, filters=8)


def test_specs_follow_the_global_policy_except_pinned_float32_outputs(configs):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        gan = build_gan(configs["cgan"], compile=False)
    finally:
        keras.config.set_dtype_policy(previous)
    g = {layer.name: layer.dtype_policy.name for layer in gan.generator.layers}
    d = {layer.name: layer.dtype_policy.name for layer in gan.discriminator.layers}
    assert g["to_image"] == g["image"] == d["logit"] == "float32"
    assert g["project"] == g["up0"] == d["down0"] == d["down1_bn"] == "mixed_float16"


def test_build_optimizers_returns_fresh_instances(configs):
    d1, g1 = cfg.build_optimizers(configs["wgan_gp"])
    d2, _ = cfg.build_optimizers(configs["wgan_gp"])
    assert d1 is not d2 and d1 is not g1
    assert (float(d1.learning_rate), float(d1.beta_1), float(d1.beta_2)) == pytest.approx((1e-4, 0.0, 0.9))
