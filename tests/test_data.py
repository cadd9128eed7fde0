"""Tests for ganzoo.data: sources, scaling, splits, download, tf.data."""

import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import functools  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import http.server  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from ganzoo import data  # noqa: E402

DEBIAN = data.DEBIAN_FASHION_MNIST_DIR  # captured before any monkeypatch
FILES = sorted(data.FASHION_MNIST_SHA256)
TEST_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
needs_debian = pytest.mark.skipif(
    not all(os.path.isfile(os.path.join(DEBIAN, f)) for f in FILES),
    reason="Debian package dataset-fashion-mnist is not installed",
)

# Zalando's published file sizes. Debian's copies are 23/24 bytes shorter:
# strip-nondeterminism dropped the gzip FNAME field and reset the mtime.
# Restoring the original header (these mtimes) rebuilds the upstream files
# byte for byte, so the pinned hashes can be checked offline.
UPSTREAM_SIZE = {
    "train-images-idx3-ubyte.gz": 26421880,
    "train-labels-idx1-ubyte.gz": 29515,
    "t10k-images-idx3-ubyte.gz": 4422102,
    "t10k-labels-idx1-ubyte.gz": 5148,
}
UPSTREAM_MTIME = {"train": 1504176606, "t10k": 1504176627}


def upstream_bytes(fname):
    with open(os.path.join(DEBIAN, fname), "rb") as f:
        debian = f.read()
    assert debian[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no flags
    mtime = UPSTREAM_MTIME[fname.split("-")[0]]
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03"
    return header + fname[:-3].encode() + b"\x00" + debian[10:]


def raw_idx(path, header):
    """Independent reader: skip the header bytes, take the rest."""
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read()[header:], np.uint8)


def write_idx(path, array, magic=None):
    array = np.asarray(array, np.uint8)
    magic = 0x0800 + array.ndim if magic is None else magic
    head = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + array.tobytes())


def bilinear_ref(img, out_h, out_w):
    """Float64 half-pixel bilinear resize of one (H, W, C) image."""

    def axis(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(src).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0

    y0, y1, fy = axis(img.shape[0], out_h)
    x0, x1, fx = axis(img.shape[1], out_w)
    rows = img[y0] * (1 - fy)[:, None, None] + img[y1] * fy[:, None, None]
    return rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]


@pytest.fixture(scope="module")
def fashion_debian():
    return {s: data.load_arrays("fashion_mnist", split=s) for s in ("train", "test")}


# --------------------------------------------------------------- metadata


def test_class_names_and_shapes():
    assert data.class_names("digits") == [str(i) for i in range(10)]
    assert data.class_names("mnist") == [str(i) for i in range(10)]
    assert data.class_names("fashion_mnist") == [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    assert data.class_names("cifar10") == [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    assert data.image_shape("digits") == (16, 16, 1)
    assert data.image_shape("fashion_mnist") == (28, 28, 1)
    assert data.image_shape("mnist") == (28, 28, 1)
    assert data.image_shape("cifar10") == (32, 32, 3)
    assert data.image_shape("folder:/anywhere") == (64, 64, 3)
    assert data.image_shape("digits", 32) == (32, 32, 1)
    assert data.image_shape("cifar10", (24, 40)) == (24, 40, 3)


# ----------------------------------------------------------------- digits


def test_digits_exact_scaling_and_split():
    digits = load_digits()
    train_x, train_y = data.load_arrays("digits", image_size=8)
    test_x, test_y = data.load_arrays("digits", split="test", image_size=8)
    assert train_x.dtype == np.float32 and train_y.dtype == np.int32
    assert train_x.shape == (1437, 8, 8, 1) and test_x.shape == (360, 8, 8, 1)
    assert train_x.min() == -1.0 and train_x.max() == 1.0
    # Every sample is in exactly one split: the union is the source multiset.
    ours = np.concatenate([train_x.reshape(-1, 64), test_x.reshape(-1, 64)])
    ours = np.concatenate([ours, np.concatenate([train_y, test_y])[:, None]], 1)
    ref = np.concatenate([digits.data / 8 - 1, digits.target[:, None]], 1)
    np.testing.assert_array_equal(
        np.unique(ours, axis=0, return_counts=True)[1], np.unique(ref, axis=0, return_counts=True)[1]
    )
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(ref, axis=0))
    # Stratified: each class is split 80/20 to within one sample.
    for c in range(10):
        n = np.sum(digits.target == c)
        assert abs(np.sum(test_y == c) - 0.2 * n) <= 1
    # Deterministic.
    again_x, again_y = data.load_arrays("digits", split="test", image_size=8)
    np.testing.assert_array_equal(again_x, test_x)
    np.testing.assert_array_equal(again_y, test_y)


@pytest.mark.parametrize("size", [16, (12, 20), 23])
def test_digits_upsampling_matches_bilinear_reference(size):
    src, _ = data.load_arrays("digits", split="test", image_size=8)
    out, _ = data.load_arrays("digits", split="test", image_size=size)
    h, w = (size, size) if isinstance(size, int) else size
    assert out.shape == (360, h, w, 1) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    ref = np.stack([bilinear_ref(img.astype(np.float64), h, w) for img in src[:40]])
    np.testing.assert_allclose(out[:40], ref, atol=2e-6)


def test_default_digits_is_16():
    x, y = data.load_arrays()
    assert x.shape == (1437, 16, 16, 1) and y.shape == (1437,)


# ---------------------------------------------------------- fashion_mnist


@needs_debian
def test_fashion_mnist_from_debian(fashion_debian):
    for split, n, prefix in (("train", 60000, "train"), ("test", 10000, "t10k")):
        x, y = fashion_debian[split]
        assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int32
        np.testing.assert_array_equal(np.bincount(y), [n // 10] * 10)
        raw = raw_idx(os.path.join(DEBIAN, f"{prefix}-images-idx3-ubyte.gz"), 16)
        # float32 rounding of the float64 value, exactly
        np.testing.assert_array_equal(x.reshape(-1), (raw / 127.5 - 1).astype(np.float32))
        raw_y = raw_idx(os.path.join(DEBIAN, f"{prefix}-labels-idx1-ubyte.gz"), 8)
        np.testing.assert_array_equal(y, raw_y)


@needs_debian
def test_pinned_hashes_are_the_upstream_files():
    for fname in FILES:
        blob = upstream_bytes(fname)
        assert len(blob) == UPSTREAM_SIZE[fname]
        assert hashlib.sha256(blob).hexdigest() == data.FASHION_MNIST_SHA256[fname]


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP mirror; the Debian folder hidden; a fresh Keras home."""
    root = tmp_path / "www"
    (root / "mirror").mkdir(parents=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    url = f"http://127.0.0.1:{server.server_address[1]}/mirror"
    monkeypatch.setenv("GANZOO_DATASETS_URL", url)
    yield root / "mirror", tmp_path / "keras" / "datasets" / "fashion-mnist"
    server.shutdown()
    server.server_close()


@needs_debian
def test_download_from_mirror_equals_debian(mirror, fashion_debian, monkeypatch):
    served, cache = mirror
    for fname in FILES:
        (served / fname).write_bytes(upstream_bytes(fname))
    for split in ("train", "test"):
        x, y = data.load_arrays("fashion_mnist", split=split)
        np.testing.assert_array_equal(x, fashion_debian[split][0])
        np.testing.assert_array_equal(y, fashion_debian[split][1])
    assert sorted(os.listdir(cache)) == FILES
    # Cached and verified: no server needed any more (port 9 refuses).
    monkeypatch.setenv("GANZOO_DATASETS_URL", "http://127.0.0.1:9/")
    x, _ = data.load_arrays("fashion_mnist", split="test")
    np.testing.assert_array_equal(x, fashion_debian["test"][0])


@needs_debian
def test_download_rejects_a_corrupt_file(mirror, fashion_debian):
    served, _ = mirror
    for fname in TEST_FILES:
        (served / fname).write_bytes(upstream_bytes(fname))
    good = upstream_bytes(TEST_FILES[1])
    (served / TEST_FILES[1]).write_bytes(good[:-9] + b"X" + good[-8:])
    with pytest.raises(ValueError, match=r"sha256.*t10k-labels|t10k-labels.*sha256"):
        data.load_arrays("fashion_mnist", split="test")
    (served / TEST_FILES[1]).write_bytes(good)  # fixed mirror: re-downloads
    _, y = data.load_arrays("fashion_mnist", split="test")
    np.testing.assert_array_equal(y, fashion_debian["test"][1])


def test_download_404_is_clear(mirror):
    with pytest.raises(OSError, match=r"(?s)t10k-images.*404.*GANZOO_DATASETS_URL"):
        data.load_arrays("fashion_mnist", split="test")


@needs_debian
def test_data_dir_with_the_files(tmp_path, fashion_debian):
    for fname in TEST_FILES:
        os.symlink(os.path.join(DEBIAN, fname), tmp_path / fname)
    x, y = data.load_arrays("fashion_mnist", split="test", data_dir=tmp_path)
    np.testing.assert_array_equal(x, fashion_debian["test"][0])
    np.testing.assert_array_equal(y, fashion_debian["test"][1])


def test_data_dir_wins_and_is_parsed(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", [7, 0, 9])
    x, y = data.load_arrays("fashion_mnist", split="test", data_dir=str(tmp_path))
    np.testing.assert_allclose(x[..., 0], images / 127.5 - 1.0, atol=6e-8)
    np.testing.assert_array_equal(y, [7, 0, 9])


def test_data_dir_without_the_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_arrays("fashion_mnist", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "data_dir" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert "train-labels-idx1-ubyte.gz" in message


@pytest.mark.parametrize("case", ["magic", "truncated", "cut_gzip", "not_gzip", "counts", "shape"])
def test_corrupt_idx_files(tmp_path, case):
    images, labels = np.zeros((2, 28, 28)), [1, 2]
    img_path = tmp_path / "t10k-images-idx3-ubyte.gz"
    lab_path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(img_path, images)
    write_idx(lab_path, labels)
    if case == "magic":
        write_idx(img_path, images, magic=2049)
    elif case == "truncated":  # the header says 2x28x28, the data is shorter
        with gzip.open(img_path, "wb") as f:
            f.write(struct.pack(">4I", 2051, 2, 28, 28) + bytes(100))
    elif case == "cut_gzip":  # a partial download
        img_path.write_bytes(img_path.read_bytes()[:30])
    elif case == "not_gzip":
        img_path.write_bytes(b"<html>not found</html>")
    elif case == "counts":
        write_idx(lab_path, [1, 2, 3])
    elif case == "shape":
        write_idx(img_path, np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="Expected"):
        data.load_arrays("fashion_mnist", split="test", data_dir=tmp_path)


# ------------------------------------------------------- keras.datasets


def test_mnist_and_cifar10_go_through_keras_datasets(monkeypatch):
    rng = np.random.default_rng(0)
    m_train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    c_test = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(
        keras.datasets.mnist,
        "load_data",
        lambda: ((m_train, np.arange(5, dtype=np.uint8)), (m_train[:1], np.zeros(1, np.uint8))),
    )
    monkeypatch.setattr(
        keras.datasets.cifar10,
        "load_data",
        lambda: ((c_test[:1], np.zeros((1, 1), np.uint8)), (c_test, np.arange(4)[:, None])),
    )
    x, y = data.load_arrays("mnist")
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], m_train / 127.5 - 1.0, atol=6e-8)
    np.testing.assert_array_equal(y, np.arange(5))
    x, y = data.load_arrays("cifar10", split="test")
    assert x.shape == (4, 32, 32, 3) and y.shape == (4,) and y.dtype == np.int32
    np.testing.assert_allclose(x, c_test / 127.5 - 1.0, atol=6e-8)
    np.testing.assert_array_equal(y, np.arange(4))


# ----------------------------------------------------------------- folder


@pytest.fixture
def image_folder(tmp_path):
    colors = {"cats": [(255, 0, 0), (0, 128, 255), (10, 20, 30)], "dogs": [0, 200]}
    for cls, values in colors.items():
        (tmp_path / cls).mkdir()
        for i, value in enumerate(values):
            mode = "RGB" if isinstance(value, tuple) else "L"
            Image.new(mode, (12, 10), value).save(tmp_path / cls / f"{i}.png")
    return tmp_path, colors


def test_folder(image_folder):
    path, colors = image_folder
    name = f"folder:{path}"
    assert data.class_names(name) == ["cats", "dogs"]
    x, y = data.load_arrays(name, image_size=8)
    assert x.shape == (5, 8, 8, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1])
    expected = [c for c in colors["cats"]] + [(v, v, v) for v in colors["dogs"]]
    ref = np.broadcast_to(np.array(expected)[:, None, None, :] / 127.5 - 1, x.shape)
    np.testing.assert_allclose(x, ref, atol=1e-6)
    assert data.load_arrays(name)[0].shape == (5, 64, 64, 3)
    ds = data.load(name, batch_size=2, image_size=(6, 4), with_labels=True)
    assert ds.element_spec[0].shape == (2, 6, 4, 3)
    assert sum(1 for _ in ds) == 2


def test_folder_errors(image_folder, tmp_path_factory):
    path, _ = image_folder
    with pytest.raises(ValueError, match="split"):
        data.load_arrays(f"folder:{path}", split="test")
    flat = tmp_path_factory.mktemp("flat")
    Image.new("RGB", (4, 4)).save(flat / "a.png")
    with pytest.raises(ValueError, match="subfolder"):
        data.load_arrays(f"folder:{flat}")
    with pytest.raises(FileNotFoundError, match="folder"):
        data.class_names(f"folder:{flat / 'missing'}")


def test_a_corrupt_image_in_a_folder_is_named(image_folder):
    path, _ = image_folder
    bad = path / "dogs" / "1.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))  # a PNG signature, then garbage
    with pytest.raises(
        ValueError, match=rf"^Expected image files that decode\. Received: {re.escape(str(bad))}, which does not"
    ):
        data.load_arrays(f"folder:{path}", image_size=8)


# ---------------------------------------------------------------- tf.data


def test_batches_are_static_and_labels_aligned():
    ref_x, ref_y = data.load_arrays("digits")
    ds = data.load("digits", batch_size=8, discriminator_steps=3, with_labels=True, seed=5)
    assert ds.element_spec[0].shape == (24, 16, 16, 1)
    assert ds.element_spec[1].shape == (24,)
    assert ds.element_spec[1].dtype == "int32"
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 1437 // 24
    x, y = batches[0]
    assert x.min() >= -1.0 and x.max() <= 1.0
    dist = ((x.reshape(24, 1, -1) - ref_x.reshape(1, 1437, -1)) ** 2).sum(-1)
    for i in range(24):
        match = np.flatnonzero(dist[i] < 1e-8)
        assert match.size and y[i] in ref_y[match]


def test_shuffle_is_seeded_and_reshuffles():
    first = lambda ds: next(iter(ds)).numpy()  # noqa: E731
    a = data.load("digits", batch_size=16, seed=1)
    np.testing.assert_array_equal(first(a), first(data.load("digits", batch_size=16, seed=1)))
    assert not np.array_equal(first(a), first(data.load("digits", batch_size=16, seed=2)))
    epochs = [np.concatenate(list(a.as_numpy_iterator())) for _ in range(2)]
    assert not np.array_equal(epochs[0], epochs[1])  # a new order each epoch
    ref_x, _ = data.load_arrays("digits", image_size=8)
    plain = data.load("digits", batch_size=16, shuffle=False, image_size=8)
    np.testing.assert_array_equal(first(plain), ref_x[:16])


def test_images_only_and_remainder():
    ds = data.load("digits", split="test", batch_size=64, drop_remainder=False, shuffle=False)
    assert ds.element_spec.shape.as_list() == [None, 16, 16, 1]
    sizes = [b.shape[0] for b in ds]
    assert sizes == [64] * 5 + [40]


@pytest.mark.parametrize(
    "kwargs, error, arg",
    [
        ({"name": "imagenet"}, ValueError, "fashion_mnist, mnist, cifar10, folder:PATH"),
        ({"name": 3}, ValueError, "name"),
        ({"name": "folder:"}, ValueError, "name"),
        ({"split": "val"}, ValueError, "split"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"discriminator_steps": 0}, ValueError, "discriminator_steps"),
        ({"discriminator_steps": "2"}, TypeError, "discriminator_steps"),
        ({"image_size": "16"}, TypeError, "image_size"),
        ({"image_size": 16.0}, TypeError, "image_size"),
        ({"image_size": 0}, ValueError, "image_size"),
        ({"image_size": (16,)}, ValueError, "image_size"),
        ({"image_size": (16, -1)}, ValueError, "image_size"),
        ({"seed": "1"}, TypeError, "seed"),
        ({"with_labels": 1}, TypeError, "with_labels"),
        ({"shuffle": None}, TypeError, "shuffle"),
        ({"data_dir": "/tmp"}, ValueError, "data_dir"),
        ({"name": "fashion_mnist", "data_dir": 3}, TypeError, "data_dir"),
        ({"split": "test", "batch_size": 200, "discriminator_steps": 2}, ValueError, "batch_size"),
    ],
)
def test_bad_arguments(kwargs, error, arg):
    with pytest.raises(error, match="Expected .*Received: ") as info:
        data.load(**kwargs)
    assert arg in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: data.load_arrays(split="all"),
        lambda: data.load_arrays(image_size=[1, 2, 3]),
        lambda: data.image_shape("svhn"),
        lambda: data.class_names("svhn"),
    ],
)
def test_bad_arguments_elsewhere(call):
    with pytest.raises(ValueError, match="Expected.*Received:"):
        call()
