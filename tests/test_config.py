"""Tests for ganzoo.training.config: the strict preset schema, paper defaults, builders."""

import copy
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

from ganzoo.training import config as cfg  # noqa: E402
from ganzoo.training import losses  # noqa: E402
from ganzoo.training.config import VARIANTS, build_gan, build_network, default_config, validate_config  # noqa: E402
from ganzoo.models import registry  # noqa: E402


@pytest.fixture(scope="module")
def configs():
    return {variant: default_config(variant, latent_dim=8, filters=8) for variant in VARIANTS}


def _serialized(model):
    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


# -- schema strictness -----------------------------------------------------------


def test_loss_names_match_the_loss_registry():
    assert set(cfg.LOSS_NAMES) == set(losses.LOSSES)


def test_builder_names_match_the_network_registry():
    from ganzoo.client import preset_schema

    assert set(preset_schema.GENERATOR_BUILDERS + preset_schema.DISCRIMINATOR_BUILDERS) == set(registry.BUILDERS)
    assert set(preset_schema.GENERATOR_BUILDERS) == set(registry.GENERATOR_BUILDERS)


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
        (("gan", "num_classes"), 10, "generator.args.num_classes"),  # the networks are unconditional
        (("gan", "label_smoothing"), 1.0, "gan.label_smoothing"),
        (("gan", "fake_label_smoothing"), -0.1, "gan.fake_label_smoothing"),
        (("generator", "builder"), "biggan_generator", "generator.builder"),
        (("generator", "builder"), "dcgan_discriminator", "generator.builder"),
        (("generator", "args", "latent_dim"), 9, "generator.args.latent_dim"),
        (("generator", "args", "dtype"), "float16", "generator.args.dtype"),
        (("generator", "args", "filters"), {"class_name": "Lambda"}, "generator.args.filters"),
        (("discriminator", "args", "image_shape"), [16, 16], "discriminator.args.image_shape"),
        (("discriminator", "args", "image_shape"), [32, 32, 1], "discriminator.args.image_shape"),
        (("discriminator", "parameters"), 0, "discriminator.parameters"),
        (("recipe", "image_size"), 32, "recipe.image_size"),
        (("recipe", "d_optimizer", "class_name"), "MyOptimizer", r"recipe\.d_optimizer\.class_name"),
        (("recipe", "d_optimizer", "module"), "os", r"recipe\.d_optimizer"),
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


def test_two_sided_smoothing_keeps_the_targets_ordered(configs):
    config = copy.deepcopy(configs["dcgan"])
    config["gan"]["label_smoothing"], config["gan"]["fake_label_smoothing"] = 0.1, 0.1
    validate_config(config)
    config["gan"]["fake_label_smoothing"] = 0.9
    with pytest.raises(ValueError, match="gan.fake_label_smoothing"):
        validate_config(config)


def test_a_serialized_graph_preset_gets_a_clear_error(configs):
    """ganzoo 0.1 presets stored Keras graphs; they are refused with what to do, not half-read."""
    config = copy.deepcopy(configs["dcgan"])
    config["generator"] = {"module": "keras", "class_name": "Functional", "config": {"layers": []}}
    with pytest.raises(ValueError, match="serialized Keras graph.*ganzoo migrate"):
        validate_config(config, source="old.json")


def test_a_planted_optimizer_module_is_refused_before_keras_sees_it(configs):
    config = copy.deepcopy(configs["dcgan"])
    config["recipe"]["d_optimizer"]["config"]["learning_rate"] = {
        "module": "builtins",
        "class_name": "ExponentialDecay",
        "config": {},
    }
    with pytest.raises(ValueError, match="builtins"):
        validate_config(config)
    config["recipe"]["d_optimizer"]["config"]["learning_rate"] = {"class_name": "Lambda", "config": {}}
    with pytest.raises(ValueError, match="Lambda"):
        validate_config(config)


@pytest.mark.parametrize("where", ["optimizer", "schedule"])
def test_an_optimizer_naming_a_registered_class_is_refused(configs, where):
    """A Keras module with a `registered_name` would make Keras look the class up in its registry
    (where a user's or an attacker's import could have put anything): refused naming it."""
    config = copy.deepcopy(configs["dcgan"])
    spec = config["recipe"]["g_optimizer"]
    if where == "schedule":
        spec["config"]["learning_rate"] = {
            "module": "keras.optimizers.schedules",
            "class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 1e-3, "decay_steps": 10, "decay_rate": 0.9},
            "registered_name": "evil>ExponentialDecay",
        }
    else:
        spec["registered_name"] = "evil>Adam"
    with pytest.raises(ValueError, match=r"Expected only Keras classes in .*Received: registered_name='evil>"):
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


def _layer_classes(entry):
    return [type(layer).__name__ for layer in build_network(entry).layers]


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


def test_sngan_hyperparameters(configs):
    config = configs["sngan"]
    assert config["gan"]["loss"] == "hinge" and config["gan"]["discriminator_steps"] == 1
    for key in ("d_optimizer", "g_optimizer"):
        assert _adam(config["recipe"][key]) == (2e-4, 0.5, 0.999)
    classes = _layer_classes(config["discriminator"])
    assert classes.count("SpectralNorm") == 3 and "BatchNormalization" not in classes  # 2 convs and the logit
    assert _layer_classes(config["generator"]) == _layer_classes(configs["dcgan"]["generator"])


def test_generators_are_bn_relu_with_tanh_output(configs):
    for config in configs.values():
        generator = build_network(config["generator"])
        classes = [type(layer).__name__ for layer in generator.layers]
        assert "BatchNormalization" in classes and "ReLU" in classes
        assert generator.layers[-1].get_config()["activation"] == "tanh"


def test_cgan_takes_num_classes_from_the_dataset(configs):
    assert configs["cgan"]["gan"]["num_classes"] == 10
    assert all(configs[v]["gan"]["num_classes"] is None for v in ("dcgan", "lsgan", "wgan_gp", "sngan"))


@pytest.mark.parametrize("variant", ["lsgan", "wgan_gp", "sngan"])
def test_any_variant_can_be_conditional(variant):
    config = default_config(variant, latent_dim=8, filters=8, conditional=True)
    assert config["gan"]["num_classes"] == 10 and config["gan"]["loss"] == configs_loss(variant)
    gan = build_gan(config, compile=False)
    assert [i.name for i in gan.generator.inputs] == ["z", "label"]
    assert len(gan.discriminator.inputs) == 2
    with pytest.raises(ValueError, match="conditional"):
        default_config("cgan", conditional=False)


def configs_loss(variant):
    return {"lsgan": "least_squares", "wgan_gp": "wasserstein", "sngan": "hinge"}[variant]


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "sngan"])
def test_resnet_architecture_builds_the_papers_blocks(variant):
    config = default_config(variant, latent_dim=8, filters=8, architecture="resnet")
    assert config["generator"]["builder"] == "resnet_generator"
    d_classes = _layer_classes(config["discriminator"])
    assert "Add" in d_classes and "AveragePooling2D" in d_classes
    assert ("SpectralNorm" in d_classes) == (variant == "sngan")
    assert ("BatchNormalization" in d_classes) == (variant == "dcgan")
    build_gan(config, compile=False)


def test_default_sizes_and_overrides():
    config = default_config("dcgan")
    assert config["recipe"]["dataset"] == "digits" and config["recipe"]["image_size"] == 16
    assert config["gan"]["latent_dim"] == cfg.DATASET_DEFAULTS["digits"]["latent_dim"]
    assert config["recipe"]["epochs"] == cfg.DATASET_DEFAULTS["digits"]["epochs"]
    config = default_config("wgan_gp", image_size=32, epochs=3, batch_size=16, seed=7, latent_dim=5, filters=4)
    assert config["recipe"]["image_size"] == 32 and config["recipe"]["epochs"] == 3
    assert config["recipe"]["batch_size"] == 16 and config["recipe"]["seed"] == 7
    assert config["gan"]["latent_dim"] == 5
    assert config["discriminator"]["args"]["image_shape"] == [32, 32, 1]
    with pytest.raises(ValueError, match="variant"):
        default_config("biggan")


def test_default_config_is_deterministic():
    assert default_config("cgan", latent_dim=8, filters=8) == default_config("cgan", latent_dim=8, filters=8)


# -- building ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_default_configs_build_and_round_trip(configs, variant):
    config = configs[variant]
    gan = build_gan(config)
    # The built networks are exactly what their builders give for the stored arguments.
    for key, network in (("generator", gan.generator), ("discriminator", gan.discriminator)):
        entry = config[key]
        args = {**entry["args"], "image_shape": tuple(entry["args"]["image_shape"])}
        assert _serialized(network) == _serialized(registry.BUILDERS[entry["builder"]](**args))
        assert network.count_params() == entry["parameters"]
    for key, value in config["gan"].items():
        assert getattr(gan, "loss_name" if key == "loss" else key) == value
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(
        config["recipe"]["d_optimizer"]["config"]["learning_rate"]
    )
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


def test_dtype_argument_builds_float32_without_touching_the_global_policy(configs):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        for variant in ("cgan", "sngan"):
            gan = build_gan(configs[variant], compile=False, dtype="float32")
            for network in (gan.generator, gan.discriminator):
                assert {layer.compute_dtype for layer in network.layers if layer.weights} == {"float32"}
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy(previous)


def test_recorded_parameter_count_must_match(configs):
    entry = copy.deepcopy(configs["dcgan"]["generator"])
    entry["parameters"] += 1
    with pytest.raises(ValueError, match="parameters"):
        build_network(entry, source="generator")
    with pytest.raises(ValueError, match=r"unknown argument args\.bogus"):
        build_network({**entry, "parameters": None, "args": {**entry["args"], "bogus": 1}})


def test_build_optimizers_returns_fresh_instances(configs):
    d1, g1 = cfg.build_optimizers(configs["wgan_gp"])
    d2, _ = cfg.build_optimizers(configs["wgan_gp"])
    assert d1 is not d2 and d1 is not g1
    assert (float(d1.learning_rate), float(d1.beta_1), float(d1.beta_2)) == pytest.approx((1e-4, 0.0, 0.9))
