"""Tests for ganzoo.client.network_args: each builder's declared arguments and its pure parameter count.

The reference for the count is Keras itself: the built network's `count_params()`.
"""

import inspect
import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from ganzoo.client import network_args  # noqa: E402
from ganzoo.models import registry  # noqa: E402

SHAPES = [(8, 8, 2), (12, 12, 3), (16, 28, 1), (32, 32, 3)]  # 1, 1, 2 and 3 stages; a 7-wide start; non-square


def _grid(builder):
    if network_args.BUILDERS[builder].role == "generator":
        for shape, classes, filters in itertools.product(SHAPES, (None, 3), (3, 4)):
            yield {"image_shape": shape, "latent_dim": 5, "num_classes": classes, "filters": filters}
    else:
        for shape, classes, normalization, spectral_norm in itertools.product(
            SHAPES, (None, 3), network_args.NORMALIZATIONS, (False, True)
        ):
            yield {
                "image_shape": shape,
                "num_classes": classes,
                "filters": 3,
                "normalization": normalization,
                "spectral_norm": spectral_norm,
            }


@pytest.mark.parametrize("builder", sorted(network_args.BUILDERS))
def test_the_pure_count_is_what_keras_counts(builder):
    for args in _grid(builder):
        built = registry.BUILDERS[builder](**args).count_params()
        assert network_args.check_args(builder, args)[1] == built, args


@pytest.mark.parametrize("builder", sorted(network_args.BUILDERS))
def test_the_declaration_is_the_builders_signature(builder):
    parameters = inspect.signature(registry.BUILDERS[builder]).parameters
    declared = network_args.BUILDERS[builder].args
    assert [name for name in parameters if name not in network_args.RESERVED_ARGS] == list(declared)
    for name, rule in declared.items():
        default = parameters[name].default
        assert (rule.default == network_args.REQUIRED) == (default is inspect.Parameter.empty), name
        if default is not inspect.Parameter.empty:
            assert rule.default == default, name


def test_the_registry_builds_exactly_the_declared_builders():
    assert list(registry.BUILDERS) == list(network_args.BUILDERS)
    for name, builder in network_args.BUILDERS.items():
        assert builder.role in registry.BUILDERS[name].__name__
    assert registry.GENERATOR_BUILDERS == ("dcgan_generator", "resnet_generator")


@pytest.mark.parametrize(
    "args, key",
    [
        ({"filters": 4096}, "args.filters"),
        ({"filters": 0}, "args.filters"),
        ({"filters": 8.0}, "args.filters"),
        ({"latent_dim": 10**7}, "args.latent_dim"),
        ({"num_classes": 1}, "args.num_classes"),
        ({"num_classes": 10_001}, "args.num_classes"),
        ({"image_shape": [8192, 8192, 3]}, "args.image_shape"),
        ({"image_shape": [16, 16, 5]}, "args.image_shape"),
        ({"image_shape": [15, 15, 1]}, "args.image_shape"),
        ({"image_shape": [1024, 1024, 3], "filters": 1024}, "args in generator to give at most 100000000 parameters"),
        ({"dtype": "float16"}, "args.dtype"),
        ({"kernel_size": 3}, "args.kernel_size"),
    ],
)
def test_build_network_refuses_hostile_arguments_before_building(monkeypatch, args, key):
    def never(*args, **kwargs):
        raise AssertionError("the builder ran")

    monkeypatch.setitem(registry.BUILDERS, "dcgan_generator", never)
    entry = {"builder": "dcgan_generator", "args": {"image_shape": [16, 16, 1], "latent_dim": 8, **args}}
    with pytest.raises(ValueError, match=rf"^Expected[^\n]*{key.replace('.', '[.]')}[^\n]*$"):
        registry.build_network(entry, source="generator")


def test_build_network_checks_the_recorded_count_before_building(monkeypatch):
    entry = registry.network_entry("dcgan_generator", image_shape=[16, 16, 1], latent_dim=8, filters=4)
    monkeypatch.setitem(registry.BUILDERS, "dcgan_generator", None)  # calling it would be a TypeError
    with pytest.raises(ValueError, match="parameters="):
        registry.build_network({**entry, "parameters": entry["parameters"] + 1})


def test_the_builders_apply_the_declaration():
    with pytest.raises(ValueError, match=r"Expected filters to be an int in \[1, 1024\]\. Received: filters=2048"):
        registry.BUILDERS["resnet_generator"]((16, 16, 1), 8, filters=2048)
    with pytest.raises(ValueError, match="at most 100000000 parameters"):
        registry.BUILDERS["dcgan_discriminator"]((1024, 1024, 3), filters=1024)


def test_numpy_integers_are_ints_and_bools_are_not():
    import numpy as np

    args, _ = network_args.check_args(
        "dcgan_generator", {"image_shape": [np.int64(16), 16, 1], "latent_dim": np.int32(8), "filters": np.int64(4)}
    )
    assert args == {"image_shape": (16, 16, 1), "latent_dim": 8, "num_classes": None, "filters": 4}
    assert all(type(value) is int for value in (*args["image_shape"], args["latent_dim"], args["filters"]))
    with pytest.raises(ValueError, match="latent_dim=True"):
        network_args.check_args("dcgan_generator", {"image_shape": [16, 16, 1], "latent_dim": True})
