"""What each dataset is: its name, default image shape and class names.

Plain Python: nothing here reads images, so `image_shape` and `class_names`
answer without loading a dataset.
"""

import numbers
import os

DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10", "folder:PATH")
SHAPES = {  # default (height, width, channels)
    "digits": (16, 16, 1),
    "fashion_mnist": (28, 28, 1),
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "folder": (64, 64, 3),
}
CLASS_NAMES = {
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


def parse_name(name):
    """Returns `(kind, folder_path)`; folder_path is None unless a folder."""
    if isinstance(name, str) and name.startswith("folder:") and name[7:]:
        return "folder", name[7:]
    if isinstance(name, str) and name in CLASS_NAMES:
        return name, None
    raise ValueError(f"Expected a dataset name, one of {', '.join(DATASETS)}. Received: name={name!r}")


def check_size(image_size, default_hw):
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
    kind, _ = parse_name(name)
    h, w, c = SHAPES[kind]
    return (*check_size(image_size, (h, w)), c)


def class_names(name):
    """Returns the list of class names; index `i` names label `i`.

    For `"folder:PATH"` these are the subfolder names, sorted, as
    `keras.utils.image_dataset_from_directory` infers them.

    Example:

    >>> class_names("fashion_mnist")[:2]
    ['T-shirt/top', 'Trouser']
    """
    kind, path = parse_name(name)
    if kind != "folder":
        return list(CLASS_NAMES[kind])
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Expected an existing image folder. Received: name={name!r}")
    names = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    if not names:
        raise ValueError(
            "Expected images in one subfolder per class, PATH/<class>/*.png "
            f"(one subfolder is fine for unlabelled data). Received: name={name!r}"
        )
    return names
