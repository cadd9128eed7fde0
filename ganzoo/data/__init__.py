"""Datasets as `tf.data` pipelines of images scaled to [-1, 1].

Sources: `"digits"` (scikit-learn's bundled 8x8 digits, the offline
default), `"fashion_mnist"` (data_dir, then the Debian package
`dataset-fashion-mnist`, then a sha256-pinned download), `"mnist"` and
`"cifar10"` (through `keras.datasets`), and `"folder:PATH"` (an image
folder with one subfolder per class).

Modules: `catalog` (names, image shapes, class names), `fashion_mnist`
(the IDX files), `sources` (each dataset's arrays), `arrays`
(`load_arrays`) and `pipeline` (`load`, `load_epochs`).

Example:

>>> from ganzoo import data
>>> ds = data.load("digits", batch_size=32, seed=0)
>>> images, labels = data.load_arrays("digits", split="test")
"""

try:  # the base install has no Keras: say which extra brings it
    import keras  # noqa: F401
    import tensorflow  # noqa: F401
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.data", error) from None

# Read as `ganzoo.data.DEBIAN_FASHION_MNIST_DIR` at each load (not copied into
# a submodule), so setting this attribute points the loaders elsewhere.
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

from ganzoo.data.arrays import load_arrays  # noqa: E402
from ganzoo.client.datasets import DATASETS, class_names, image_shape  # noqa: E402
from ganzoo.data.fashion_mnist import FASHION_MNIST_SHA256, FASHION_MNIST_URL  # noqa: E402
from ganzoo.data.pipeline import load, load_epochs  # noqa: E402

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST_DIR",
    "FASHION_MNIST_SHA256",
    "FASHION_MNIST_URL",
    "class_names",
    "image_shape",
    "load",
    "load_arrays",
    "load_epochs",
]
