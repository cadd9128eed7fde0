"""A whole dataset split as NumPy arrays in [-1, 1], resized to the requested image size."""

import tensorflow as tf

from ganzoo.data.sources import prepare


def resize(images, hw):
    """Bilinear resize (antialiased when shrinking) of a (N, H, W, C) batch."""
    images = tf.image.resize(images, hw, method="bilinear", antialias=True)
    return tf.clip_by_value(images, -1.0, 1.0)  # float rounding only


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
    images, labels, hw = prepare(name, split, image_size, data_dir)
    if images.shape[1:3] != hw:
        images = resize(images, hw).numpy()
    return images, labels
