"""The train step's label check reads label values only where they already lie in host memory.

Before: `check_labels` converted the labels to NumPy on every step, on
PyTorch and eager TensorFlow, which on a GPU is a device-to-host copy that
stalls the step every batch. Now each driver's `host_values` hands back
values that are on the host for free and None for the rest (which `fit`
checks where they enter).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.backends import driver  # noqa: E402
from ganzoo.training import gradients  # noqa: E402
from helpers import NUM_CLASSES, assert_weights_equal, compiled_gan, random_images, weights  # noqa: E402

BACKEND = keras.backend.backend()


@pytest.mark.backends
def test_host_values_of_a_cpu_tensor_are_its_values():
    values = np.array([2, 0, 1, 2], "int32")
    got = driver.host_values(keras.ops.convert_to_tensor(values))
    np.testing.assert_array_equal(got, values)


@pytest.mark.backends
@pytest.mark.skipif(BACKEND != "torch", reason="a PyTorch tensor on the meta device stands for one on a GPU")
def test_labels_off_the_host_are_not_copied(monkeypatch):
    import torch

    copies = []
    real = keras.ops.convert_to_numpy
    monkeypatch.setattr(keras.ops, "convert_to_numpy", lambda x: copies.append(x) or real(x))
    labels = torch.empty(4, dtype=torch.int32, device="meta")
    assert driver.host_values(labels) is None
    assert gradients.check_labels(labels, NUM_CLASSES) is labels
    assert copies == []


@pytest.mark.backends
@pytest.mark.skipif(BACKEND != "tensorflow", reason="a TensorFlow graph tensor")
def test_graph_labels_have_no_host_values():
    import tensorflow as tf

    seen = []
    tf.function(lambda x: seen.append(driver.host_values(x)) or x)(tf.constant([1, 2]))
    assert seen == [None]


@pytest.mark.backends
@pytest.mark.skipif(BACKEND != "jax", reason="a traced JAX array")
def test_traced_labels_have_no_host_values():
    import jax

    seen = []
    jax.jit(lambda x: seen.append(driver.host_values(x)) or x)(np.array([1, 2]))
    assert seen == [None]


@pytest.mark.backends
@pytest.mark.skipif(BACKEND == "jax", reason="the JAX step is traced: labels are checked where they enter fit")
@pytest.mark.parametrize("bad_label", [NUM_CLASSES, -1])
def test_train_on_batch_refuses_host_labels_out_of_range(bad_label):
    """`train_on_batch` skips `fit`'s entry checks: the step's own check still sees CPU labels."""
    gan = compiled_gan("cgan", run_eagerly=True)
    labels = np.zeros(4, "int32")
    labels[2] = bad_label
    before = weights(gan.generator.weights)
    with pytest.raises(ValueError, match=rf"labels in \[0, {NUM_CLASSES}\).*min {min(bad_label, 0)}"):
        gan.train_on_batch(random_images(4), labels)
    assert_weights_equal(before, gan.generator.weights)
