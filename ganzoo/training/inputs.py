"""The real data a GAN trains on: its checks and its split into critic batches.

Shapes and dtypes are checked in the train step; values where data enters `fit`.

Value checks (pixel range, label range) run where the values are on the
host: on arrays at once, on `tf.data` datasets inside the pipeline, and on
Python generators batch by batch. An in-graph check would vanish under XLA,
which Keras switches on by default on a GPU, and a traced JAX step has no
values to look at.
"""

import contextlib

import keras
import numpy as np
from keras import ops

from ganzoo.client import labels as labels_lib
from ganzoo.training import gradients

_PIXEL_TOLERANCE = 1e-3  # resizing and float rounding may overshoot [-1, 1] a little


def _dtype_name(x):
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    try:
        return keras.backend.standardize_dtype(dtype)
    except ValueError:  # strings, objects: no Keras dtype; the checks below name what is expected
        return str(getattr(dtype, "name", dtype))


def check_batch_structure(images, labels, image_shape, num_classes):
    """Raises on a batch of the wrong structure, shape or dtype (statically known facts only)."""
    shape = tuple(images.shape)
    if len(shape) != 4 or not all(got is None or got == want for got, want in zip(shape[1:], image_shape)):
        raise ValueError(
            f"Expected image batches of shape (batch, {', '.join(map(str, image_shape))}) to fit the "
            f"discriminator. Received: images of shape {shape}"
        )
    if "float" not in _dtype_name(images):
        raise ValueError(
            f"Expected float images scaled to [-1, 1]. Received: images of dtype {_dtype_name(images)}; "
            "scale 8-bit pixels with x / 127.5 - 1 (ganzoo.data.load does)."
        )
    if num_classes is None:
        if labels is not None:
            raise ValueError(
                "Expected image batches without labels for an unconditional GAN (num_classes=None). "
                "Received: (images, labels)"
            )
        return
    if labels is None:
        raise ValueError(
            f"Expected (images, labels) batches for a conditional GAN with num_classes={num_classes}. "
            "Received: images only. Use ganzoo.data.load(..., with_labels=True)."
        )
    label_shape = tuple(labels.shape)
    if len(label_shape) == 2 and label_shape[-1] == num_classes and num_classes != 1:
        raise ValueError(
            f"Expected integer class ids of shape (batch,). Received: labels of shape {label_shape}, which "
            "look one-hot encoded; pass labels.argmax(-1) instead."
        )
    if len(label_shape) not in (1, 2) or (len(label_shape) == 2 and label_shape[-1] != 1):
        raise ValueError(f"Expected integer class ids of shape (batch,). Received: labels of shape {label_shape}")
    if "int" not in _dtype_name(labels):
        raise ValueError(
            f"Expected integer class ids in [0, {num_classes}). Received: labels of dtype {_dtype_name(labels)} "
            "(float labels are not truncated silently; cast them if they are whole numbers)."
        )


def check_values(images, labels, num_classes, where="x"):
    """Raises if concrete images leave [-1, 1] or labels leave [0, num_classes)."""
    pixels = np.asarray(images)
    if pixels.size and np.issubdtype(pixels.dtype, np.floating):
        # Non-finite pixels are a data error like out-of-range ones: inside the step they would
        # only show up as NaN losses and NaN weights.
        low, high, bad = np.inf, -np.inf, 0
        for chunk in np.array_split(pixels.reshape(len(pixels), -1), max(1, len(pixels) // 4096)):  # bounded memory
            finite = np.isfinite(chunk)
            bad += int(finite.size - np.count_nonzero(finite))
            values = chunk[finite]
            if values.size:
                low, high = min(low, float(values.min())), max(high, float(values.max()))
        if bad:
            raise ValueError(
                f"Expected finite images scaled to [-1, 1]. Received: {where} with {bad} NaN or infinite "
                "pixel(s); clean or drop those images before training."
            )
        if low < -1 - _PIXEL_TOLERANCE or high > 1 + _PIXEL_TOLERANCE:
            raise ValueError(
                f"Expected images scaled to [-1, 1] (the generator's tanh range). Received: {where} with "
                f"values in [{low:g}, {high:g}]; scale 8-bit pixels with x / 127.5 - 1."
            )
    if labels is not None and num_classes is not None:
        values = np.asarray(labels)
        if np.issubdtype(values.dtype, np.integer):  # other dtypes get check_batch_structure's message
            labels_lib.check_range(values, num_classes, say_why=True)


def split_element(element):
    """`(images, labels)` of a `fit` element: images, `(images, labels)`, or `((images, labels),)` nested."""
    if isinstance(element, (tuple, list)):
        images, labels = (tuple(element) + (None,))[:2]
        if isinstance(images, (tuple, list)):
            images, labels = (tuple(images) + (None,))[:2]
        return images, labels
    return element, None


def _check_dataset(dataset, image_shape, num_classes):
    import tensorflow as tf

    message = (
        _PIPELINE_MESSAGE
        + " scaled to [-1, 1]"
        + ("" if num_classes is None else f" and labels in [0, {num_classes}) (num_classes={num_classes})")
    )

    def check(*element):
        images, labels = split_element(element[0] if len(element) == 1 else element)
        checks = []
        if images.dtype.is_floating:
            limit = tf.cast(1 + _PIXEL_TOLERANCE, images.dtype)
            ok = tf.reduce_all(tf.abs(images) <= limit)  # False for NaN and infinite pixels too
            checks.append(tf.debugging.Assert(ok, [message + ". Received images outside [-1, 1] or not finite"]))
        if labels is not None and labels.dtype.is_integer and num_classes is not None:
            checks.append(tf.debugging.assert_non_negative(labels, message=message + ". Received a negative label"))
            checks.append(
                tf.debugging.assert_less(
                    labels, tf.cast(num_classes, labels.dtype), message=message + ". Received a label >= num_classes"
                )
            )
        with tf.control_dependencies(checks):
            return tf.nest.map_structure(tf.identity, element[0] if len(element) == 1 else element)

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


_PIPELINE_MESSAGE = "Expected x to hold finite images"


@contextlib.contextmanager
def pipeline_errors_in_one_line():
    """Turns a failed `tf.data` value check (a multi-line "Graph execution error") into its one-line ValueError."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - re-raised unless it is our own check's failure
        text = str(error)
        if _PIPELINE_MESSAGE not in text or type(error).__name__ != "InvalidArgumentError":
            raise
        line = text[text.index(_PIPELINE_MESSAGE) :].splitlines()[0].split("] [")[0].rstrip()  # TF's data dump
        line = line[:-1] if line.endswith("]") and line.count("]") > line.count("[") else line  # Assert's list bracket
        raise ValueError(line.rstrip(". ") + ".") from None


def _checked_iterator(iterator, num_classes):
    for element in iterator:
        images, labels = split_element(element)
        check_values(gradients.to_numpy(images), None if labels is None else gradients.to_numpy(labels), num_classes)
        yield element


def _is_array(value):
    try:
        import tensorflow as tf

        if isinstance(value, tf.data.Dataset):
            return False
    except ImportError:
        pass
    return hasattr(value, "shape") and hasattr(value, "dtype") and not hasattr(value, "__next__")


def checked_fit_data(x, y, image_shape, num_classes):
    """Returns `(x, y)` for `fit`, with value checks attached where the data enters.

    Arrays are checked now; a `tf.data.Dataset` gets a checking map; a
    Python generator is wrapped. Other inputs (a `keras.utils.PyDataset`, a
    torch `DataLoader`) pass unchanged and get the train step's shape and
    dtype checks.
    """
    if y is not None:
        images, labels = x, y
    else:
        images, labels = split_element(x) if isinstance(x, (tuple, list)) else (x, None)
    if _is_array(images):  # NumPy, JAX, TensorFlow or PyTorch arrays: check the values now
        images = gradients.to_numpy(images)
        if images.ndim == 0 or len(images) == 0:
            raise ValueError(f"Expected at least one image to train on. Received: x of shape {images.shape}")
        labels = None if labels is None else (gradients.to_numpy(labels) if _is_array(labels) else np.asarray(labels))
        check_batch_structure(images, labels, image_shape, num_classes)
        check_values(images, labels, num_classes)
        return x, y
    try:
        import tensorflow as tf
    except ImportError:
        tf = None
    if tf is not None and isinstance(x, tf.data.Dataset):
        from ganzoo.training.distribution import hides_batch_size

        if int(x.cardinality()) == 0:  # known to be empty (an unknown cardinality is checked after fit)
            raise ValueError("Expected a tf.data.Dataset that yields batches. Received: an empty dataset")
        return (x if hides_batch_size() else _check_dataset(x, image_shape, num_classes)), y
    if hasattr(x, "__next__") and hasattr(x, "__iter__"):
        return _checked_iterator(x, num_classes), y
    return x, y


def critic_batches(images, labels, k):
    """Splits one element into `k` (discriminator_steps) real batches; returns them and their size.

    With B images and k steps each batch has ceil(B / k) images. When k
    divides B these are k disjoint slices. Otherwise (a ragged last batch,
    or a batch size that k does not divide) the last slice wraps around to
    the first images, so that no image is dropped and no batch is empty,
    even when B < k.
    """
    total = ops.shape(images)[0]
    size = (total + k - 1) // k
    static = isinstance(total, int)
    batches = []
    for step in range(k):
        if static and total % k == 0:
            index = slice(step * size, (step + 1) * size)
            pick = lambda x: x[index]  # noqa: E731
        else:
            index = (ops.arange(size) + step * size) % total  # (size,)
            pick = lambda x: ops.take(x, index, axis=0)  # noqa: E731
        batches.append((pick(images), None if labels is None else pick(labels)))
    return batches, size
