"""Tests for ganzoo.models: conditioning layers, builders, configs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.models import (  # noqa: E402
    LabelMap,
    OneHot,
    dcgan_discriminator,
    dcgan_generator,
    describe_generator,
    upsampling_plan,
)

pytestmark = pytest.mark.backends


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


from helpers import LATENT_DIM, NUM_CLASSES, tiny_discriminator, tiny_generator  # noqa: E402


def test_one_hot_matches_identity_rows():
    labels = np.array([0, 4, 2, 2, 1], "int32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(OneHot(5)(labels)), np.eye(5)[labels])


def test_label_map_is_one_channel_per_class():
    """label_map[b, h, w, c] == one_hot[b, c] at every pixel (not keras-io's band of rows)."""
    labels = np.array([3, 0, 1, 3], "int32")
    height, width, classes = 5, 7, 4  # non-square, so a transposed layout would fail
    label_map = keras.ops.convert_to_numpy(LabelMap(classes, height, width)(labels))
    assert label_map.shape == (4, height, width, classes)
    one_hot = np.eye(classes)[labels]
    for b in range(4):
        for h in range(height):
            for w in range(width):
                for c in range(classes):
                    assert label_map[b, h, w, c] == one_hot[b, c]


def test_label_channels_are_one_channel_per_class():
    """The Keras-layers-only label map of the conditional discriminator: out[b, h, w, c] == one_hot[b, c]."""
    from ganzoo.models import label_channels

    labels = np.array([3, 0, 1, 3], "int32")
    height, width, classes = 5, 7, 4
    label = keras.Input((), dtype="int32")
    model = keras.Model(label, label_channels(label, classes, (height, width, 1)))
    label_map = keras.ops.convert_to_numpy(model(labels))
    assert label_map.shape == (4, height, width, classes)
    expected = np.broadcast_to(np.eye(classes)[labels][:, None, None, :], label_map.shape)
    np.testing.assert_array_equal(label_map, expected)
    assert not any(type(layer).__module__.startswith("ganzoo") for layer in model.layers)


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "cls, args", [(OneHot, (1,)), (LabelMap, (1, 4, 4)), (LabelMap, (3, 0, 4)), (LabelMap, (3, 4, None))]
)
def test_conditioning_layers_reject_bad_sizes(cls, args):
    with pytest.raises(ValueError, match="num_classes|height|width"):
        cls(*args)


def test_generator_output_depends_on_label():
    """Same z, different labels -> different images; same z and label -> the same image."""
    keras.utils.set_random_seed(0)
    generator = tiny_generator(NUM_CLASSES)
    z = np.random.default_rng(0).standard_normal((4, LATENT_DIM)).astype("float32")
    images = [
        keras.ops.convert_to_numpy(generator([z, np.full((4,), c, "int32")], training=False))
        for c in range(NUM_CLASSES)
    ]
    again = keras.ops.convert_to_numpy(generator([z, np.zeros((4,), "int32")], training=False))
    np.testing.assert_array_equal(again, images[0])
    for a in range(NUM_CLASSES):
        for b in range(a + 1, NUM_CLASSES):
            per_sample = np.abs(images[a] - images[b]).reshape(4, -1).max(axis=1)
            assert np.all(per_sample > 1e-6), (a, b, per_sample)


def test_discriminator_output_depends_on_label():
    """Same image, different labels -> different logits."""
    keras.utils.set_random_seed(0)
    discriminator = tiny_discriminator(NUM_CLASSES)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    logits = [
        keras.ops.convert_to_numpy(discriminator([images, np.full((4,), c, "int32")], training=False))
        for c in range(NUM_CLASSES)
    ]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(discriminator([images, np.zeros((4,), "int32")], training=False)), logits[0]
    )
    for a in range(NUM_CLASSES):
        for b in range(a + 1, NUM_CLASSES):
            assert np.all(np.abs(logits[a] - logits[b]) > 1e-7), (a, b)


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "image_shape, plan",
    [((16, 16, 1), (4, 4, 2)), ((28, 28, 1), (7, 7, 2)), ((32, 32, 3), (4, 4, 3)), ((64, 64, 3), (4, 4, 4))],
)
def test_builders_produce_the_requested_shapes(image_shape, plan):
    assert upsampling_plan(image_shape) == plan
    generator = dcgan_generator(image_shape, 4, filters=4)
    discriminator = dcgan_discriminator(image_shape, filters=4)
    images = keras.ops.convert_to_numpy(generator(np.zeros((2, 4), "float32")))
    assert images.shape == (2, *image_shape)
    assert np.all(np.abs(images) <= 1.0)  # tanh output
    assert discriminator(images).shape == (2, 1)
    assert describe_generator(generator) == {"latent_dim": 4, "num_classes": None, "image_shape": image_shape}


def test_describe_conditional_generator():
    assert describe_generator(tiny_generator(NUM_CLASSES)) == {
        "latent_dim": LATENT_DIM,
        "num_classes": NUM_CLASSES,
        "image_shape": (16, 16, 1),
    }


def test_output_layers_are_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        generator = tiny_generator()
        discriminator = tiny_discriminator(normalization=None)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    z = np.zeros((2, LATENT_DIM), "float32")
    images = generator(z)
    assert _dtype(images) == "float32"
    assert _dtype(discriminator(images)) == "float32"


BUILDERS = {
    "generator": lambda: tiny_generator(),
    "conditional_generator": lambda: tiny_generator(NUM_CLASSES),
    "discriminator": lambda: tiny_discriminator(),
    "critic": lambda: tiny_discriminator(normalization=None),
    "layer_norm_critic": lambda: tiny_discriminator(normalization="layer"),
    "conditional_discriminator": lambda: tiny_discriminator(NUM_CLASSES),
}


def _inputs(model, n=3):
    rng = np.random.default_rng(0)
    first = rng.uniform(-1, 1, (n, *model.inputs[0].shape[1:])).astype("float32")
    if len(model.inputs) == 1:
        return first
    return [first, rng.integers(0, NUM_CLASSES, n).astype("int32")]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_config_round_trip(name):
    """from_config(get_config()) rebuilds the same architecture; with the weights copied
    it computes the same function (layers OneHot/LabelMap included)."""
    model = BUILDERS[name]()
    clone = keras.Model.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    inputs = _inputs(model)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(clone(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
    )


@pytest.mark.parametrize("layer", [OneHot(4, name="h"), LabelMap(4, 3, 5, name="m")])
def test_conditioning_layer_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    labels = np.array([0, 3, 1], "int32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(labels)), keras.ops.convert_to_numpy(layer(labels)))


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: dcgan_generator((16, 16), 8), "image_shape"),
        (lambda: dcgan_generator((16, 16, 1), 0), "latent_dim"),
        (lambda: dcgan_generator((16, 16, 1), 8, filters=0), "filters"),
        (lambda: dcgan_generator((16, 16, 1), 8, num_classes=1), "num_classes"),
        (lambda: dcgan_generator((15, 15, 1), 8), "image_shape"),
        (lambda: dcgan_discriminator((16, 32, 1)), "image_shape"),
        (lambda: dcgan_discriminator((16, 16, 1), normalization="instance"), "normalization"),
    ],
)
def test_builders_reject_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# -- the ResNet family -------------------------------------------------------------


def _resnet_generator_parameters(latent_dim, f, image_shape, num_classes=None):
    from ganzoo.models import upsampling_plan

    h0, w0, stages = upsampling_plan(image_shape)
    inputs = latent_dim + (num_classes or 0)
    block = (f * f + f) + 4 * f + (9 * f * f + f) + 4 * f + (9 * f * f + f)  # skip 1x1, bn, conv, bn, conv
    return inputs * h0 * w0 * f + h0 * w0 * f + stages * block + 4 * f + 9 * f * image_shape[-1] + image_shape[-1]


def _resnet_discriminator_parameters(f, image_shape, num_classes=None):
    from ganzoo.models import upsampling_plan

    _, _, stages = upsampling_plan(image_shape)
    c = image_shape[-1] + (num_classes or 0)
    first = (9 * c * f + f) + (9 * f * f + f) + (c * f + f)
    down = 2 * (9 * f * f + f) + (f * f + f)
    last = 2 * (9 * f * f + f)  # same width, no resampling: identity shortcut
    return first + (stages - 1) * down + last + f + 1


@pytest.mark.one_backend
@pytest.mark.parametrize("image_shape", [(16, 16, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)])
@pytest.mark.parametrize("num_classes", [None, 5])
def test_resnet_networks_have_the_papers_shapes(image_shape, num_classes):
    from ganzoo.models import resnet_discriminator, resnet_generator

    generator = resnet_generator(image_shape, 16, num_classes=num_classes, filters=8)
    discriminator = resnet_discriminator(image_shape, num_classes=num_classes, filters=8)
    assert generator.count_params() == _resnet_generator_parameters(16, 8, image_shape, num_classes)
    assert discriminator.count_params() == _resnet_discriminator_parameters(8, image_shape, num_classes)
    assert describe_generator(generator) == {"latent_dim": 16, "num_classes": num_classes, "image_shape": image_shape}
    z = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    inputs = z if num_classes is None else [z, np.array([0, 1, 4], "int32")]
    images = keras.ops.convert_to_numpy(generator(inputs))
    assert images.shape == (3, *image_shape) and np.abs(images).max() <= 1.0
    d_inputs = images if num_classes is None else [images, np.array([0, 1, 4], "int32")]
    assert tuple(discriminator(d_inputs).shape) == (3, 1)


def test_resnet_residual_connection_is_an_identity_plus_branch():
    """With the branch's last convolution zeroed, a block's output is its shortcut alone."""
    from ganzoo.models import resnet_discriminator

    discriminator = resnet_discriminator((16, 16, 1), filters=4)
    last = discriminator.get_layer("block2_conv2")
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    probe = keras.Model(
        discriminator.inputs,
        [discriminator.get_layer("block1_add").output, discriminator.get_layer("block2_add").output],
    )
    x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    before, after = (keras.ops.convert_to_numpy(t) for t in probe(x))
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)


def test_resnet_outputs_stay_float32_under_mixed_precision():
    from ganzoo.models import resnet_discriminator, resnet_generator

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        generator = resnet_generator((16, 16, 1), 8, filters=8)
        discriminator = resnet_discriminator((16, 16, 1), filters=8, spectral_norm=True)
    finally:
        keras.config.set_dtype_policy(previous)
    assert generator.get_layer("block0_conv1").compute_dtype == "bfloat16"
    assert generator.get_layer("image").compute_dtype == "float32"
    assert discriminator.get_layer("logit").compute_dtype == "float32"
    images = generator(np.zeros((2, 8), "float32"))
    assert keras.backend.standardize_dtype(images.dtype) == "float32"
    assert keras.backend.standardize_dtype(discriminator(images).dtype) == "float32"
