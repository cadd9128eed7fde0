"""Fashion-MNIST from its gzip IDX files: data_dir, the Debian package, or a pinned download.

The Debian folder is read as `ganzoo.data.DEBIAN_FASHION_MNIST_DIR` at each
call (the package attribute, not a copy here), so setting that attribute
points the loaders elsewhere; the tests hide the Debian files that way.
"""

import gzip
import os
import struct
import zlib

import keras
import numpy as np

FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Pinned sha256 of the upstream files (Zalando's S3 bucket; the Keras GCS
# mirror serves the same bytes). Debian's copies hash differently: their
# gzip headers were rewritten (file name dropped, mtime reset) but the
# compressed stream, and so the data, is the same.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path, ndim):
    """Reads a gzip IDX file of unsigned bytes with `ndim` dimensions."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"Expected a valid gzip IDX file. Received: path={path!r} ({e})") from e
    magic = 0x0800 + ndim  # two zero bytes, type 0x08 (ubyte), ndim
    header = 4 + 4 * ndim
    got = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else None
    if got != magic:
        raise ValueError(f"Expected IDX magic number {magic}, got {got}. Received: path={path!r}")
    dims = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    if len(dims) != ndim or len(data) != header + int(np.prod(dims)):
        raise ValueError(
            f"Expected {header} header bytes plus the product of "
            f"the dims {dims} data bytes, got {len(data)} bytes. "
            f"Received: path={path!r}"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _download(fname):
    base = os.environ.get("GANZOO_DATASETS_URL") or FASHION_MNIST_URL
    origin = base.rstrip("/") + "/" + fname
    sha256 = FASHION_MNIST_SHA256[fname]
    cache_dir = os.environ.get("KERAS_HOME")  # None: the Keras default
    if cache_dir:  # get_file falls back to /tmp/.keras for a missing dir
        os.makedirs(cache_dir, exist_ok=True)
    try:
        return keras.utils.get_file(
            fname,
            origin=origin,
            file_hash=sha256,
            hash_algorithm="sha256",
            cache_subdir=os.path.join("datasets", "fashion-mnist"),
            cache_dir=cache_dir,
        )
    except ValueError as e:  # the hash check; Keras re-downloads next time
        raise ValueError(
            f"Expected {fname} from {origin} to have sha256 {sha256}; the downloaded file does not ({e})."
        ) from e
    except Exception as e:  # get_file raises a bare Exception on HTTP errors
        raise OSError(
            f"Could not download {fname} from {origin}: {e}. Pass data_dir=, "
            "install the Debian package dataset-fashion-mnist, or set "
            "GANZOO_DATASETS_URL to a mirror."
        ) from e


def _debian_dir():
    from ganzoo import data  # the package attribute, read per call (see the module docstring)

    return data.DEBIAN_FASHION_MNIST_DIR


def fashion_mnist(split, data_dir):
    """Returns `(images, labels)` of a split: uint8 `(N, 28, 28, 1)` and uint8 `(N,)`."""
    files = _FASHION_FILES[split]
    if data_dir is not None:
        paths = [os.path.join(os.fspath(data_dir), f) for f in files]
        if not all(os.path.isfile(p) for p in paths):
            raise FileNotFoundError(
                f"Expected the Fashion-MNIST files {', '.join(files)} in "
                f"data_dir. Received: data_dir={os.fspath(data_dir)!r}"
            )
    else:
        paths = [os.path.join(_debian_dir(), f) for f in files]
        if not all(os.path.isfile(p) for p in paths):
            paths = [_download(f) for f in files]
    images, labels = _read_idx(paths[0], 3), _read_idx(paths[1], 1)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(
            f"Expected 28x28 images and one label each. Received: "
            f"images.shape={images.shape}, labels.shape={labels.shape}"
        )
    return images[..., None], labels
