"""Datasets as `tf.data` pipelines of images scaled to [-1, 1].

Sources: `"digits"` (scikit-learn's bundled 8x8 digits, the offline
default), `"fashion_mnist"` (data_dir, then the Debian package
`dataset-fashion-mnist`, then a sha256-pinned download), `"mnist"` and
`"cifar10"` (through `keras.datasets`), and `"folder:PATH"` (an image
folder with one subfolder per class).
"""

import gzip
import numbers
import os
import struct
import zlib

import numpy as np

try:  # the base install has no Keras: say which extra brings it
    import keras
    import tensorflow as tf
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.data", error) from None

DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10", "folder:PATH")
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
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
_U8_TO_UNIT = (np.arange(256) / 127.5 - 1.0).astype(np.float32)
_SHAPES = {  # default (height, width, channels)
    "digits": (16, 16, 1),
    "fashion_mnist": (28, 28, 1),
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "folder": (64, 64, 3),
}
_CLASS_NAMES = {
    "digits": [str(i) for i in range(10)],
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
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
    ],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}


def _parse_name(name):
    """Returns `(kind, folder_path)`; folder_path is None unless a folder."""
    if isinstance(name, str) and name.startswith("folder:") and name[7:]:
        return "folder", name[7:]
    if isinstance(name, str) and name in _CLASS_NAMES:
        return name, None
    raise ValueError(f"Expected a dataset name, one of {', '.join(DATASETS)}. Received: name={name!r}")


def _check_int(value, arg):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {arg} to be an int. Received: {arg}={value!r}")
    if value < 1:
        raise ValueError(f"Expected {arg} >= 1. Received: {arg}={value!r}")
    return int(value)


def _check_size(image_size, default_hw):
    """Returns `(height, width)` from `image_size` (None, int or pair)."""
    if image_size is None:
        return tuple(default_hw)
    msg = (
        "Expected image_size to be None, a positive int or a (height, "
        f"width) tuple of positive ints. Received: image_size={image_size!r}"
    )
    pair = image_size if isinstance(image_size, (tuple, list)) else (image_size,) * 2
    if len(pair) != 2:
        raise ValueError(msg)
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(msg)
        if v < 1:
            raise ValueError(msg)
    return int(pair[0]), int(pair[1])


def image_shape(name, image_size=None):
    """Returns the `(height, width, channels)` of a dataset's images.

    Args:
        name: a dataset name, see `load`.
        image_size: `None` for the dataset's default size, an int for a
            square size, or a `(height, width)` tuple.

    Returns:
        A tuple of three ints. Defaults: digits (16, 16, 1), fashion_mnist
        and mnist (28, 28, 1), cifar10 (32, 32, 3), folder (64, 64, 3).

    Example:

    >>> image_shape("digits", 32)
    (32, 32, 1)
    """
    kind, _ = _parse_name(name)
    h, w, c = _SHAPES[kind]
    return (*_check_size(image_size, (h, w)), c)


def class_names(name):
    """Returns the list of class names; index `i` names label `i`.

    For `"folder:PATH"` these are the subfolder names, sorted, as
    `keras.utils.image_dataset_from_directory` infers them.

    Example:

    >>> class_names("fashion_mnist")[:2]
    ['T-shirt/top', 'Trouser']
    """
    kind, path = _parse_name(name)
    if kind != "folder":
        return list(_CLASS_NAMES[kind])
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Expected an existing image folder. Received: name={name!r}")
    names = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    if not names:
        raise ValueError(
            "Expected images in one subfolder per class, PATH/<class>/*.png "
            f"(one subfolder is fine for unlabelled data). Received: name={name!r}"
        )
    return names


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


def _fashion_mnist(split, data_dir):
    files = _FASHION_FILES[split]
    if data_dir is not None:
        paths = [os.path.join(os.fspath(data_dir), f) for f in files]
        if not all(os.path.isfile(p) for p in paths):
            raise FileNotFoundError(
                f"Expected the Fashion-MNIST files {', '.join(files)} in "
                f"data_dir. Received: data_dir={os.fspath(data_dir)!r}"
            )
    else:
        paths = [os.path.join(DEBIAN_FASHION_MNIST_DIR, f) for f in files]
        if not all(os.path.isfile(p) for p in paths):
            paths = [_download(f) for f in files]
    images, labels = _read_idx(paths[0], 3), _read_idx(paths[1], 1)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(
            f"Expected 28x28 images and one label each. Received: "
            f"images.shape={images.shape}, labels.shape={labels.shape}"
        )
    return images[..., None], labels


def _digits(split):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train, test = train_test_split(np.arange(len(digits.target)), test_size=0.2, random_state=0, stratify=digits.target)
    idx = np.sort(train if split == "train" else test)
    return digits.images[idx, :, :, None] / 8.0 - 1.0, digits.target[idx]


def _folder(path, split, hw):
    if split != "train":
        raise ValueError(
            f"Expected split='train' for an image folder (it has no test split). Received: split={split!r}"
        )
    class_names(f"folder:{path}")  # checks the layout
    ds = keras.utils.image_dataset_from_directory(
        path,
        labels="inferred",
        label_mode="int",
        color_mode="rgb",
        batch_size=None,
        image_size=hw,
        shuffle=False,
        interpolation="bilinear",
        verbose=False,
    )
    images, labels = [], []
    iterator = ds.as_numpy_iterator()
    while True:  # files decode in the order of ds.file_paths (shuffle=False): a failure names its file
        try:
            image, label = next(iterator)
        except StopIteration:
            break
        except tf.errors.OpError as error:
            reason = (error.message or str(error)).strip().splitlines()[0]
            raise ValueError(
                f"Expected image files that decode. Received: {ds.file_paths[len(images)]}, which does not ({reason})"
            ) from None
        images.append(image)
        labels.append(label)
    return np.stack(images) / 127.5 - 1.0, np.array(labels)


def _source(kind, path, split, data_dir, hw):
    """Returns `(images, labels)` at the source resolution, in [-1, 1]."""
    if kind == "digits":
        images, labels = _digits(split)
    elif kind == "folder":
        images, labels = _folder(path, split, hw)
    elif kind == "fashion_mnist":
        images, labels = _fashion_mnist(split, data_dir)
    else:  # mnist, cifar10: keras.datasets downloads and caches them
        module = keras.datasets.mnist if kind == "mnist" else keras.datasets.cifar10
        (x_train, y_train), (x_test, y_test) = module.load_data()
        images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
        images = images if images.ndim == 4 else images[..., None]
    if images.dtype == np.uint8:
        images = _U8_TO_UNIT[images]  # exact float32 of x / 127.5 - 1, fast
    return images.astype(np.float32), np.asarray(labels, np.int32).reshape(-1)


def _resize(images, hw):
    """Bilinear resize (antialiased when shrinking) of a (N, H, W, C) batch."""
    images = tf.image.resize(images, hw, method="bilinear", antialias=True)
    return tf.clip_by_value(images, -1.0, 1.0)  # float rounding only


def _prepare(name, split, image_size, data_dir):
    kind, path = _parse_name(name)
    if split not in ("train", "test"):
        raise ValueError(f"Expected split='train' or 'test'. Received: split={split!r}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"Expected data_dir to be None or a path. Received: data_dir={data_dir!r}")
    if data_dir is not None and kind != "fashion_mnist":
        raise ValueError(
            "Expected data_dir=None: only fashion_mnist reads a "
            f"data_dir. Received: name={name!r}, data_dir={data_dir!r}"
        )
    hw = _check_size(image_size, _SHAPES[kind][:2])
    return (*_source(kind, path, split, data_dir, hw), hw)


def load_arrays(name="digits", *, split="train", image_size=None, data_dir=None):
    """Loads a whole dataset split into NumPy arrays scaled to [-1, 1].

    Scaling is `x / 127.5 - 1` for 8-bit pixels and `x / 8 - 1` for the
    digits (values 0..16). Images are resized to `image_size` bilinearly
    (antialiased when shrinking; folder images are resized by Keras as
    they are decoded). `digits` has no official split: its
    "train"/"test" split is scikit-learn's `train_test_split(test_size=0.2,
    random_state=0, stratify=target)` (1437/360 of 1797), in source order.

    Args:
        name: `"digits"`, `"fashion_mnist"`, `"mnist"`, `"cifar10"` or
            `"folder:PATH"` (see `load`).
        split: `"train"` or `"test"`. Folders have only `"train"`.
        image_size: `None` (dataset default, see `image_shape`), an int for
            square images, or a `(height, width)` tuple.
        data_dir: fashion_mnist only: a folder that holds the four
            `*-ubyte.gz` IDX files. Default: the Debian package folder
            `DEBIAN_FASHION_MNIST_DIR`, else a download (base URL
            `$GANZOO_DATASETS_URL` or `FASHION_MNIST_URL`, pinned sha256,
            cached in `$KERAS_HOME/datasets/fashion-mnist`).

    Returns:
        `(images, labels)`: float32 `(N, H, W, C)` in [-1, 1] and int32 `(N,)`.

    Raises:
        ValueError: an unknown name, a bad argument or a corrupt file.
        TypeError: an argument of the wrong type.
        FileNotFoundError: `data_dir` or the folder lacks the files.
        OSError: a download failed.

    Example:

    >>> images, labels = load_arrays("digits", image_size=8)
    >>> images.shape, labels.shape
    ((1437, 8, 8, 1), (1437,))
    """
    images, labels, hw = _prepare(name, split, image_size, data_dir)
    if images.shape[1:3] != hw:
        images = _resize(images, hw).numpy()
    return images, labels


def load(
    name="digits",
    *,
    split="train",
    batch_size=64,
    image_size=None,
    with_labels=False,
    shuffle=True,
    seed=None,
    data_dir=None,
    discriminator_steps=1,
    drop_remainder=True,
):
    """Returns a batched, shuffled, prefetched `tf.data.Dataset` of images.

    Each element holds `batch_size * discriminator_steps` images: the GAN's
    train step splits it into `discriminator_steps` critic batches, so each
    critic step sees its own real batch. The dataset is finite: `fit`
    reshuffles it each epoch; call `.repeat()` for an endless stream.

    Images come from `load_arrays` (same scaling, split and resizing; the
    resize runs per batch, so large `image_size`s don't fill memory).
    `"folder:PATH"` reads `PATH/<class_name>/*` through
    `keras.utils.image_dataset_from_directory`, always as RGB (grayscale
    files get three equal channels), labels from the sorted subfolders.

    Args:
        name: `"digits"` (default, no download), `"fashion_mnist"`,
            `"mnist"`, `"cifar10"` or `"folder:PATH"`.
        split: `"train"` or `"test"`.
        batch_size: int >= 1, images per critic step.
        image_size: `None` (dataset default), an int, or `(height, width)`.
        with_labels: yield `(images, labels)` instead of `images`.
        shuffle: shuffle the whole split each epoch.
        seed: int seed that makes the shuffle order reproducible.
        data_dir: fashion_mnist only, see `load_arrays`.
        discriminator_steps: int >= 1, critic batches per element.
        drop_remainder: drop the last partial batch, so the batch dimension
            is static.

    Returns:
        A `tf.data.Dataset` of float32 `(batch, H, W, C)` in [-1, 1], or of
        `(images, labels)` with int32 labels of shape `(batch,)`.

    Raises:
        ValueError, TypeError, FileNotFoundError, OSError: see `load_arrays`;
            also a split smaller than one element.

    Example:

    >>> ds = load("digits", batch_size=32, discriminator_steps=2, seed=0)
    >>> ds.element_spec.shape
    TensorShape([64, 16, 16, 1])
    """
    ds, _ = _pipeline(
        name,
        split,
        batch_size,
        image_size,
        with_labels,
        shuffle,
        seed,
        data_dir,
        discriminator_steps,
        drop_remainder,
        first_epoch=None,
    )
    return ds


def load_epochs(
    name="digits",
    *,
    first_epoch=0,
    seed=0,
    split="train",
    batch_size=64,
    image_size=None,
    with_labels=False,
    data_dir=None,
    discriminator_steps=1,
    drop_remainder=True,
):
    """Returns `(dataset, steps_per_epoch)`: an endless stream of epochs, epoch `e` shuffled by `(seed, e)`.

    Like `load`, but the order of an epoch is a function of its index
    alone, not of how many times the dataset was iterated before. A run
    resumed at epoch `k` (`first_epoch=k`) therefore reads the same batches
    as an uninterrupted run does from epoch `k` on. Pass `steps_per_epoch`
    to `fit`.

    Args:
        first_epoch: the index of the first epoch the stream yields (int >= 0).
        seed: int seed of the shuffle.
        Others: as in `load`.

    Example:
        >>> ds, steps = load_epochs("digits", batch_size=32, first_epoch=3, seed=0)
        >>> gan.fit(ds, epochs=10, initial_epoch=3, steps_per_epoch=steps)
    """
    if isinstance(first_epoch, bool) or not isinstance(first_epoch, numbers.Integral) or first_epoch < 0:
        raise ValueError(f"Expected first_epoch to be an int >= 0. Received: first_epoch={first_epoch!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Expected seed to be an int. Received: seed={seed!r}")
    return _pipeline(
        name,
        split,
        batch_size,
        image_size,
        with_labels,
        True,
        seed,
        data_dir,
        discriminator_steps,
        drop_remainder,
        first_epoch=int(first_epoch),
    )


def _pipeline(
    name,
    split,
    batch_size,
    image_size,
    with_labels,
    shuffle,
    seed,
    data_dir,
    discriminator_steps,
    drop_remainder,
    first_epoch,
):
    step = _check_int(batch_size, "batch_size") * _check_int(discriminator_steps, "discriminator_steps")
    for arg, value in (("with_labels", with_labels), ("shuffle", shuffle), ("drop_remainder", drop_remainder)):
        if not isinstance(value, bool):
            raise TypeError(f"Expected {arg} to be a bool. Received: {arg}={value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"Expected seed to be None or an int. Received: seed={seed!r}")
    images, labels, hw = _prepare(name, split, image_size, data_dir)
    if drop_remainder and len(images) < step:
        raise ValueError(
            f"Expected batch_size * discriminator_steps <= {len(images)} (the "
            f"{split} split size). Received: batch_size={batch_size}, "
            f"discriminator_steps={discriminator_steps}"
        )
    resize = images.shape[1:3] != hw

    def finish(x, y):  # x: (batch, H, W, C) -> (batch, *hw, C)
        x = _resize(x, hw) if resize else x
        return (x, y) if with_labels else x

    steps = len(images) // step if drop_remainder else -(-len(images) // step)
    if first_epoch is None:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True) if shuffle else ds
        ds = ds.batch(step, drop_remainder=drop_remainder)
    else:
        all_images, all_labels = tf.constant(images), tf.constant(labels)
        key = int(seed) % (1 << 31)

        def epoch(index):  # one pass in an order that depends on (seed, epoch index) only
            scores = tf.random.stateless_uniform([len(images)], seed=tf.stack([tf.constant(key, tf.int64), index]))
            return tf.data.Dataset.from_tensor_slices(tf.argsort(scores)).batch(step, drop_remainder=drop_remainder)

        ds = tf.data.Dataset.range(first_epoch, 1 << 62).flat_map(epoch)
        ds = ds.map(lambda order: (tf.gather(all_images, order), tf.gather(all_labels, order)))
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE), steps
