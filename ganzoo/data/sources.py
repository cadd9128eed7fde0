"""Where each dataset's arrays come from, scaled to [-1, 1] at the source resolution.

`digits` from scikit-learn, `fashion_mnist` from its IDX files
(`ganzoo.data.fashion_mnist`), `mnist` and `cifar10` from `keras.datasets`,
and `folder:PATH` through `keras.utils.image_dataset_from_directory`.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from ganzoo.client.datasets import SHAPES, check_size, class_names, parse_name
from ganzoo.data.fashion_mnist import fashion_mnist

_U8_TO_UNIT = (np.arange(256) / 127.5 - 1.0).astype(np.float32)


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


def _keras_dataset(kind, split):
    """mnist, cifar10: keras.datasets downloads and caches them."""
    module = keras.datasets.mnist if kind == "mnist" else keras.datasets.cifar10
    (x_train, y_train), (x_test, y_test) = module.load_data()
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    return (images if images.ndim == 4 else images[..., None]), labels


def _source(kind, path, split, data_dir, hw):
    """Returns `(images, labels)` at the source resolution, in [-1, 1]."""
    if kind == "digits":
        images, labels = _digits(split)
    elif kind == "folder":
        images, labels = _folder(path, split, hw)
    elif kind == "fashion_mnist":
        images, labels = fashion_mnist(split, data_dir)
    else:
        images, labels = _keras_dataset(kind, split)
    if images.dtype == np.uint8:
        images = _U8_TO_UNIT[images]  # exact float32 of x / 127.5 - 1, fast
    return images.astype(np.float32), np.asarray(labels, np.int32).reshape(-1)


def prepare(name, split, image_size, data_dir):
    """Checks the arguments; returns `(images, labels, (height, width))`, images at the source resolution."""
    kind, path = parse_name(name)
    if split not in ("train", "test"):
        raise ValueError(f"Expected split='train' or 'test'. Received: split={split!r}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"Expected data_dir to be None or a path. Received: data_dir={data_dir!r}")
    if data_dir is not None and kind != "fashion_mnist":
        raise ValueError(
            "Expected data_dir=None: only fashion_mnist reads a "
            f"data_dir. Received: name={name!r}, data_dir={data_dir!r}"
        )
    hw = check_size(image_size, SHAPES[kind][:2])
    return (*_source(kind, path, split, data_dir, hw), hw)
