"""Metric math against independent float64 references and closed forms."""

import itertools

import numpy as np
import pytest
import scipy.linalg

from ganzoo.metrics import class_histogram_entropy
from ganzoo.metrics import feature_statistics
from ganzoo.metrics import frechet_distance
from ganzoo.metrics import frechet_distance_from_statistics
from ganzoo.metrics import kernel_inception_distance
from ganzoo.metrics import label_accuracy
from ganzoo.metrics import precision_recall


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- Frechet


def sqrtm_frechet_reference(a, b):
    """Textbook FID with scipy.linalg.sqrtm (pytorch-fid style)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)


def nuclear_norm_frechet_reference(a, b):
    """FID via Tr((S1 S2)^(1/2)) = ||A_c B_c^T||_* / sqrt((n1-1)(n2-1)).

    Valid for singular covariances, where sqrtm is unreliable.
    """
    a_c, b_c = a - a.mean(0), b - b.mean(0)
    singular_values = np.linalg.svd(a_c @ b_c.T, compute_uv=False)
    trace_sqrt = singular_values.sum() / np.sqrt((len(a) - 1) * (len(b) - 1))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mean_term = np.sum((a.mean(0) - b.mean(0)) ** 2)
    return mean_term + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt


@pytest.mark.parametrize("n, d", [(200, 8), (500, 64)])
def test_frechet_matches_sqrtm_reference(n, d):
    a = rng(1).normal(size=(n, d)) @ rng(2).normal(size=(d, d))
    b = rng(3).normal(size=(n + 17, d)) * 1.5 + 0.3
    np.testing.assert_allclose(frechet_distance(a, b), sqrtm_frechet_reference(a, b), rtol=1e-9)


def test_frechet_singular_covariance_matches_nuclear_norm_reference():
    # Fewer samples than dimensions and a dead (constant) feature column:
    # both covariances are singular.
    a = rng(4).normal(size=(10, 30))
    b = rng(5).normal(size=(12, 30)) + 0.5
    a[:, 0] = 0.0
    b[:, 0] = 0.0
    np.testing.assert_allclose(frechet_distance(a, b), nuclear_norm_frechet_reference(a, b), rtol=1e-9)


@pytest.mark.parametrize("singular", ["a", "b"])
def test_frechet_with_one_singular_covariance_matches_nuclear_norm_reference(singular):
    """One covariance singular (fewer samples than dimensions), the other not: the Cholesky factor of
    the positive definite one carries the computation, whichever argument it is."""
    few, many = rng(7).normal(size=(12, 30)), rng(8).normal(size=(400, 30)) * 0.7 + 0.2
    a, b = (few, many) if singular == "a" else (many, few)
    np.testing.assert_allclose(frechet_distance(a, b), nuclear_norm_frechet_reference(a, b), rtol=1e-9)


def test_frechet_identical_sets_is_zero():
    a = rng(6).normal(size=(300, 16))
    np.testing.assert_allclose(frechet_distance(a, a), 0.0, atol=1e-9)
    np.testing.assert_allclose(frechet_distance(a, a.astype(np.float32)), 0.0, atol=1e-5)


def test_frechet_from_statistics_closed_forms():
    d = 6
    root = rng(7).normal(size=(d, d))
    sigma = root @ root.T
    mu1, mu2 = rng(8).normal(size=d), rng(9).normal(size=d)
    # Same covariance: only the mean term remains.
    np.testing.assert_allclose(
        frechet_distance_from_statistics(mu1, sigma, mu2, sigma), np.sum((mu1 - mu2) ** 2), rtol=1e-9
    )
    # Diagonal covariances: sum(s1 + s2 - 2 sqrt(s1 s2)).
    s1, s2 = rng(10).uniform(0.1, 3, size=d), rng(11).uniform(0.1, 3, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    np.testing.assert_allclose(
        frechet_distance_from_statistics(mu1, np.diag(s1), mu2, np.diag(s2)), expected, rtol=1e-9
    )
    # A singular (rank-deficient) covariance against a zero one.
    np.testing.assert_allclose(
        frechet_distance_from_statistics(mu1, np.diag([1.0, 0, 0, 0, 0, 0]), mu1, np.zeros((d, d))), 1.0, rtol=1e-9
    )


def test_frechet_gaussian_samples_approach_closed_form():
    d, n = 4, 100_000
    root = rng(12).normal(size=(d, d)) * 0.5
    m1, m2 = np.zeros(d), np.array([1.0, -0.5, 0.25, 2.0])
    a = rng(13).normal(size=(n, d)) @ root.T + m1
    b = rng(14).normal(size=(n, d)) @ root.T + m2
    np.testing.assert_allclose(frechet_distance(a, b), np.sum((m1 - m2) ** 2), rtol=0.01)
    s1, s2 = np.array([1.0, 2.0, 0.5, 4.0]), np.array([2.0, 2.0, 1.0, 1.0])
    a = rng(15).normal(size=(n, d)) * np.sqrt(s1)
    b = rng(16).normal(size=(n, d)) * np.sqrt(s2)
    expected = np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    np.testing.assert_allclose(frechet_distance(a, b), expected, rtol=0.05)


def test_feature_statistics_are_float64_mean_and_unbiased_covariance():
    a = rng(17).normal(size=(50, 3)).astype(np.float32)
    mu, sigma = feature_statistics(a)
    assert mu.dtype == np.float64 and sigma.shape == (3, 3)
    centred = a.astype(np.float64) - a.astype(np.float64).mean(0)
    np.testing.assert_allclose(sigma, centred.T @ centred / 49, rtol=1e-12)
    mu_b, sigma_b = feature_statistics(a + 1)
    np.testing.assert_allclose(frechet_distance_from_statistics(mu, sigma, mu_b, sigma_b), 3.0, rtol=1e-6)


def test_frechet_accepts_singular_statistics_cached_in_float32():
    # n < d and ReLU-like features: float32 storage makes tiny eigenvalues
    # negative, which must count as round-off, not as a non-PSD input.
    a = np.maximum(rng(19).normal(size=(100, 300)), 0)
    b = np.maximum(rng(20).normal(size=(120, 300)) + 0.1, 0)
    (mu_a, sigma_a), (mu_b, sigma_b) = feature_statistics(a), feature_statistics(b)
    stored = [x.astype(np.float32) for x in (mu_a, sigma_a, mu_b, sigma_b)]
    assert np.linalg.eigvalsh(stored[1].astype(np.float64))[0] < 0
    np.testing.assert_allclose(
        frechet_distance_from_statistics(*stored), nuclear_norm_frechet_reference(a, b), rtol=1e-3
    )


def test_frechet_rejects_bad_inputs():
    a = rng(18).normal(size=(10, 4))
    with pytest.raises(ValueError, match="same feature dimension"):
        frechet_distance(a, a[:, :3])
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(a, a[:1])
    with pytest.raises(ValueError, match="2-D array"):
        frechet_distance(a.ravel(), a)
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        frechet_distance(a, bad)
    with pytest.raises(ValueError, match="positive semi-definite"):
        frechet_distance_from_statistics(np.zeros(2), -np.eye(2), np.zeros(2), np.eye(2))
    indefinite = np.diag([1.0, -0.5])
    with pytest.raises(ValueError, match="`sigma1` to be positive semi-definite"):
        frechet_distance_from_statistics(np.zeros(2), indefinite, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="`sigma2` to be positive semi-definite"):
        frechet_distance_from_statistics(np.zeros(2), np.eye(2), np.zeros(2), indefinite)
    with pytest.raises(ValueError, match="symmetric"):
        frechet_distance_from_statistics(np.zeros(2), np.array([[1.0, 1.0], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="shape"):
        frechet_distance_from_statistics(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


# ---------------------------------------------------------------- KID


def brute_force_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, as explicit loops."""
    m, d = x.shape
    kernel = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3  # noqa: E731
    xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m)


def test_kid_matches_brute_force_double_loop():
    x = rng(20).normal(size=(7, 3))
    y = rng(21).normal(size=(7, 3)) + 0.4
    # One subset of all samples: MMD^2 does not depend on the sample order.
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=7)
    np.testing.assert_allclose(mean, brute_force_mmd2(x, y), rtol=1e-10)
    assert std == 0.0


def test_kid_subsets_average_brute_force_values():
    x = rng(22).normal(size=(9, 2))
    y = rng(23).normal(size=(9, 2)) * 2
    mean, std = kernel_inception_distance(x, y, num_subsets=5, subset_size=4, seed=3)
    # Every 4-subset value lies within the range over all 4-subsets.
    values = [
        brute_force_mmd2(x[list(i)], y[list(j)])
        for i in itertools.combinations(range(9), 4)
        for j in itertools.combinations(range(9), 4)
    ][::97]
    assert min(values) - 1e-9 <= mean <= max(values) + 1e-9
    assert std > 0
    assert kernel_inception_distance(x, y, num_subsets=5, subset_size=4, seed=3) == (mean, std)


def test_kid_same_distribution_is_near_zero_and_shift_is_positive():
    a = rng(24).normal(size=(2000, 16))
    b = rng(25).normal(size=(2000, 16))
    same, same_std = kernel_inception_distance(a, b, num_subsets=20, subset_size=500)
    shifted, _ = kernel_inception_distance(a, b + 0.5, num_subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.05 > abs(same) * 10


def test_kid_rejects_bad_inputs():
    a = rng(26).normal(size=(10, 4))
    with pytest.raises(ValueError, match="at least 20 samples"):
        kernel_inception_distance(a, a, subset_size=20)
    with pytest.raises(ValueError, match="same feature dimension"):
        kernel_inception_distance(a, a[:, :2], subset_size=5)
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(a, a, subset_size=1)
    with pytest.raises(TypeError, match="num_subsets"):
        kernel_inception_distance(a, a, num_subsets=2.5, subset_size=5)


# ---------------------------------------------------------------- precision/recall


def brute_force_precision_recall(real, fake, k):
    def radii(points):
        out = []
        for i, p in enumerate(points):
            dists = sorted(np.linalg.norm(p - q) for j, q in enumerate(points) if j != i)
            out.append(dists[k - 1])
        return out

    def coverage(queries, points):
        r = radii(points)
        inside = [any(np.linalg.norm(q - p) <= r[j] for j, p in enumerate(points)) for q in queries]
        return float(np.mean(inside))

    return coverage(fake, real), coverage(real, fake)


@pytest.mark.parametrize("k", [1, 3])
def test_precision_recall_matches_brute_force(k):
    real = rng(30).normal(size=(15, 3))
    fake = rng(31).normal(size=(12, 3)) * 1.5 + 0.7
    expected = brute_force_precision_recall(real, fake, k)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1  # a non-trivial case
    np.testing.assert_allclose(precision_recall(real, fake, k=k, batch_size=4), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(precision_recall(real, fake, k=k), expected, rtol=0, atol=1e-12)


def test_precision_recall_known_cases():
    real = rng(32).normal(size=(300, 8))
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    # Mode collapse: fakes are copies of a few real samples: precise, low recall.
    precision, recall = precision_recall(real, np.repeat(real[:5], 20, axis=0))
    assert precision == 1.0 and recall < 0.1


def test_precision_recall_rejects_bad_inputs():
    a = rng(33).normal(size=(10, 4))
    with pytest.raises(ValueError, match="at least 4 samples"):
        precision_recall(a, a[:3], k=3)
    with pytest.raises(ValueError, match="same feature dimension"):
        precision_recall(a, a[:, :2])
    with pytest.raises(ValueError, match="k"):
        precision_recall(a, a, k=0)


# ---------------------------------------------------------------- labels


def test_label_accuracy_hand_computed():
    assert label_accuracy([0, 1, 2, 2], [0, 1, 2, 0]) == 0.75
    assert label_accuracy(np.array([3, 3, 3]), np.array([3, 3, 3])) == 1.0
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    assert label_accuracy(probabilities, [0, 1, 1]) == pytest.approx(2 / 3)


def test_class_histogram_entropy_hand_computed():
    assert class_histogram_entropy(np.arange(10).repeat(7), 10) == pytest.approx(1.0, abs=1e-12)
    assert class_histogram_entropy([4] * 50, 10) == 0.0
    assert class_histogram_entropy([0, 0, 1, 1], 4) == pytest.approx(0.5)  # ln2 / ln4
    p = np.array([0.75, 0.25])
    assert class_histogram_entropy([0, 0, 0, 1], 2) == pytest.approx(-np.sum(p * np.log(p)) / np.log(2))
    one_hot = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    assert class_histogram_entropy(one_hot, 3) == pytest.approx(1.0)


def test_label_metrics_reject_bad_inputs():
    with pytest.raises(ValueError, match="same number of samples"):
        label_accuracy([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="integer class labels"):
        label_accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="shape \\(n,\\)"):
        label_accuracy([0, 1], [[0], [1]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        class_histogram_entropy([0, 1, 3], 3)
    with pytest.raises(ValueError, match="num_classes"):
        class_histogram_entropy([0, 0], 1)
    with pytest.raises(ValueError, match="non-empty"):
        class_histogram_entropy([], 3)
