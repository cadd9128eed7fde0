"""Datasets as batched, shuffled, prefetched `tf.data` pipelines: `load` and `load_epochs`.

The images come from `ganzoo.data.sources` at their source resolution and
are resized per batch, so large image sizes don't fill memory.
"""

import numbers

import tensorflow as tf

from ganzoo.data.arrays import resize
from ganzoo.data.sources import prepare


def _check_int(value, arg):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {arg} to be an int. Received: {arg}={value!r}")
    if value < 1:
        raise ValueError(f"Expected {arg} >= 1. Received: {arg}={value!r}")
    return int(value)


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
    images, labels, hw = prepare(name, split, image_size, data_dir)
    if drop_remainder and len(images) < step:
        raise ValueError(
            f"Expected batch_size * discriminator_steps <= {len(images)} (the "
            f"{split} split size). Received: batch_size={batch_size}, "
            f"discriminator_steps={discriminator_steps}"
        )
    needs_resize = images.shape[1:3] != hw

    def finish(x, y):  # x: (batch, H, W, C) -> (batch, *hw, C)
        x = resize(x, hw) if needs_resize else x
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
