"""Tests for ganzoo.client.labels and ganzoo.client.generation against plain NumPy references."""

import numpy as np
import pytest

from ganzoo.client import generation, labels


@pytest.mark.parametrize("n, num_classes", [(1, 2), (7, 3), (10, 10), (23, 4)])
def test_cycled_labels_are_the_classes_in_turn(n, num_classes):
    reference = np.array([i % num_classes for i in range(n)])
    got = labels.cycled_labels(n, num_classes)
    assert got.dtype == np.int32 and got.shape == (n,)
    np.testing.assert_array_equal(got, reference)


def test_cycle_repeats_given_ids_in_order():
    np.testing.assert_array_equal(labels.cycle([4, 7], 5), [4, 7, 4, 7, 4])
    np.testing.assert_array_equal(labels.cycle([1, 2, 3], 2), [1, 2])
    assert labels.cycle([5], 3).dtype == np.int32


@pytest.mark.parametrize(
    "values, bad",
    [([], False), ([0, 1, 2], False), ([0, 3], True), ([-1, 0], True), (np.zeros((2, 1), "int64"), False)],
)
def test_out_of_range_against_a_python_loop(values, bad):
    reference = any(not 0 <= v < 3 for v in np.ravel(values))
    assert labels.out_of_range(values, 3) is bad is reference


def test_check_range_names_min_and_max():
    labels.check_range(np.array([0, 2, 1]), 3)
    labels.check_range(np.array([], "int32"), 3)
    with pytest.raises(ValueError, match=r"^Expected labels in \[0, 3\)\. Received: labels with min -1 and max 5$"):
        labels.check_range([-1, 5, 0], 3)
    with pytest.raises(
        ValueError,
        match=r"^Expected labels in \[0, 3\) because num_classes=3\. Received: labels with min 0 and max 3$",
    ):
        labels.check_range(np.array([0, 3]), 3, say_why=True)


def test_check_labels_returns_int32_copies():
    np.testing.assert_array_equal(labels.check_labels(2, 4, 3), np.full(4, 2))
    got = labels.check_labels(np.array([0, 1, 2], "int64"), 3, 3)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [0, 1, 2])
    np.testing.assert_array_equal(labels.check_labels(np.uint8(1), 2, 3), [1, 1])
    assert labels.check_labels(None, 5, None) is None


@pytest.mark.parametrize(
    "given, match",
    [
        (None, r"^Expected labels \(an int or 4 ints in \[0, 3\)\) for a conditional generator with num_classes=3"),
        (
            True,
            r"^Expected labels to be an int or a sequence of 4 ints\. Received: labels with shape \(4,\) and dtype bool",
        ),
        ([0.0, 1.0, 1.0, 0.0], r"dtype float64$"),
        (["0", "1", "2", "0"], r"^Expected labels to be an int or a sequence of 4 ints"),
        ([0, 1], r"Received: labels with shape \(2,\) and dtype int"),
        (np.zeros((4, 1), "int32"), r"shape \(4, 1\)"),
        ([0, 1, 3, 0], r"^Expected labels in \[0, 3\)\. Received: labels with min 0 and max 3$"),
        (-1, r"^Expected labels in \[0, 3\)\. Received: labels with min -1 and max -1$"),
    ],
    ids=["missing", "bool", "float", "str", "count", "rank", "too_big", "negative"],
)
def test_check_labels_refuses(given, match):
    with pytest.raises(ValueError, match=match):
        labels.check_labels(given, 4, 3)


def test_check_labels_refuses_labels_for_an_unconditional_generator():
    with pytest.raises(ValueError, match=r"^Expected labels=None for an unconditional generator\. Received: labels=0$"):
        labels.check_labels(0, 2, None)


def test_noise_is_numpys_default_rng():
    reference = np.random.default_rng(7).standard_normal((5, 3)).astype(np.float32)
    got = generation.sample_noise(5, 3, seed=7)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, reference)
    np.testing.assert_array_equal(generation.sample_noise(5, 3, seed=np.uint32(7)), reference)


@pytest.mark.parametrize(
    "n, seed, batch_size, match",
    [
        (0, None, 1, r"^Expected n to be a positive int\. Received: n=0$"),
        (True, None, 1, r"Received: n=True$"),
        (2.0, None, 1, r"Received: n=2\.0$"),
        (2, None, 0, r"^Expected batch_size to be a positive int\. Received: batch_size=0$"),
        (2, None, True, r"Received: batch_size=True$"),
        (2, -1, 1, r"^Expected seed to be None or an int in \[0, 2\*\*32\)\. Received: seed=-1$"),
        (2, 2**32, 1, r"Received: seed=4294967296$"),
        (2, 1.5, 1, r"Received: seed=1\.5$"),
        (2, False, 1, r"Received: seed=False$"),
    ],
)
def test_check_request_refuses(n, seed, batch_size, match):
    with pytest.raises(ValueError, match=match):
        generation.check_request(n, seed, batch_size)


def test_check_request_takes_numpy_ints():
    generation.check_request(np.int64(3), np.uint32(2**32 - 1), np.int32(2))


def _stand_in(weights):
    """A stand-in generator: images `(batch, 2, 2, 1)` from noise and one-hot labels, row by row.

    Row by row, so that a row's image does not depend on the batch it came in: one matmul over the batch does
    (BLAS and NumPy's SIMD tanh round a row differently by its batch's size; 1 ulp apart on an AVX2 CPU).
    """

    def run(z, labels):
        onehot = np.zeros((len(z), weights.shape[0] - z.shape[1]), np.float32)
        if labels is not None:
            onehot[np.arange(len(z)), labels] = 1
        rows = np.concatenate([z, onehot], axis=1)
        return np.stack([np.tanh(row @ weights) for row in rows]).reshape(-1, 2, 2, 1)

    return run


@pytest.mark.parametrize("n, batch_size", [(1, 1), (7, 2), (8, 4), (5, 64)])
def test_batches_equal_one_big_call(n, batch_size):
    run = _stand_in(np.random.default_rng(0).standard_normal((6 + 3, 4)).astype(np.float32))
    calls = []

    def counted(z, labels):
        calls.append(len(z))
        return run(z, labels)

    got = generation.generate(counted, n, 6, num_classes=3, seed=5, batch_size=batch_size)
    z = np.random.default_rng(5).standard_normal((n, 6)).astype(np.float32)
    np.testing.assert_array_equal(got, run(z, np.arange(n) % 3))  # the default labels cycle through the classes
    assert calls == [min(batch_size, n - start) for start in range(0, n, batch_size)]


def test_generate_unconditional_and_given_labels():
    run = _stand_in(np.random.default_rng(1).standard_normal((4 + 2, 4)).astype(np.float32))
    z = np.random.default_rng(9).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        generation.generate(run, 3, 4, num_classes=2, labels=[1, 0, 1], seed=9, batch_size=2), run(z, [1, 0, 1])
    )
    np.testing.assert_array_equal(generation.generate(run, 3, 4, num_classes=2, labels=1, seed=9), run(z, [1, 1, 1]))
    np.testing.assert_array_equal(generation.generate(run, 3, 4, seed=9, batch_size=1), run(z, None))
    with pytest.raises(ValueError, match="labels=None for an unconditional"):
        generation.generate(run, 3, 4, labels=0)
