"""Differentiable augmentation (DiffAugment) for both networks' discriminator passes, in `keras.ops`.

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training": the same random transforms are applied to real and generated
images wherever the discriminator sees them (its own update and the
generator's), and they are differentiable, so the generator learns through
them. Policies: `"translation"` (shift by up to 1/8 of each side, zero
padding), `"cutout"` (a zeroed square of half each side), `"color"`
(brightness, saturation, contrast; on grayscale only brightness and
contrast change anything). The paper's grayscale choice is
`"translation,cutout"`; add `"color"` where there is colour.

Each transform is a pure function of the images and of per-sample
parameters; the GAN's step draws those parameters from its own seed
generator for the global batch (so data-parallel training augments as one
device would). With `probability` < 1 each transform is applied to each
sample with that probability (the ADA way of applying augmentations).

Example:
    >>> gan = ganzoo.GAN(generator, discriminator, augment="translation,cutout")
"""

from keras import ops

from ganzoo.client.augment_policy import POLICIES, check_policy  # noqa: F401  (part of this API)

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _shift_matrices(shifts, size, dtype):
    """(batch, size, size) one-hot matrices M with M[b, i, j] = 1 where j = i - shifts[b] lies inside."""
    index = ops.arange(size, dtype="int32")
    source = index[None, :] - ops.cast(shifts, "int32")[:, None]  # (batch, size)
    return ops.cast(ops.equal(source[:, :, None], index[None, None, :]), dtype)


def translate(images, shift_y, shift_x):
    """Shifts each image by whole pixels: out[b, i, j] = images[b, i - shift_y[b], j - shift_x[b]], zero outside.

    Args:
        images: (batch, H, W, C) float tensor.
        shift_y, shift_x: (batch,) integer shifts (positive: down, right).
    """
    _, height, width, _ = ops.shape(images)
    rows = _shift_matrices(shift_y, height, images.dtype)  # (batch, H, H)
    cols = _shift_matrices(shift_x, width, images.dtype)  # (batch, W, W)
    moved = ops.einsum("bij,bjwc->biwc", rows, images)  # (batch, H, W, C)
    return ops.einsum("bkw,bhwc->bhkc", cols, moved)


def cutout_mask(shape, top, left, size_y, size_x, dtype="float32"):
    """(batch, H, W, 1) mask, 0 inside the rectangle [top, top + size_y) x [left, left + size_x) of each sample."""
    _, height, width, _ = shape
    ys = ops.arange(height, dtype="int32")[None, :]
    xs = ops.arange(width, dtype="int32")[None, :]
    top, left = ops.cast(top, "int32")[:, None], ops.cast(left, "int32")[:, None]
    inside_y = ops.logical_and(ys >= top, ys < top + size_y)  # (batch, H)
    inside_x = ops.logical_and(xs >= left, xs < left + size_x)  # (batch, W)
    inside = ops.logical_and(inside_y[:, :, None], inside_x[:, None, :])
    return ops.cast(ops.logical_not(inside), dtype)[..., None]


def cutout(images, top, left, size_y, size_x):
    """Zeroes one rectangle per image (see `cutout_mask`)."""
    return images * cutout_mask(ops.shape(images), top, left, size_y, size_x, images.dtype)


def color(images, brightness, saturation, contrast):
    """DiffAugment's colour transforms with per-sample factors, each of shape (batch,).

    brightness: adds `brightness - 0.5`; saturation: scales the distance to
    the channel mean by `2 * saturation`; contrast: scales the distance to the
    image mean by `contrast + 0.5` (the paper's formulas, factors in [0, 1)).
    """
    factor = lambda value: ops.cast(value, images.dtype)[:, None, None, None]
    images = images + (factor(brightness) - 0.5)
    mean = ops.mean(images, axis=3, keepdims=True)
    images = (images - mean) * (2.0 * factor(saturation)) + mean
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * (factor(contrast) + 0.5) + mean


def sizes(image_shape):
    """`(max translation (y, x), cutout size (y, x))` in pixels for an (H, W, C) image shape."""
    height, width = image_shape[0], image_shape[1]
    shift = (int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5))
    return shift, (int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5))


def draw_parameters(draw_uniform, draw_int, batch, image_shape, policy):
    """Per-sample parameters of every transform of `policy` for `batch` images.

    Args:
        draw_uniform: `draw_uniform(shape)` -> U[0, 1) floats.
        draw_int: `draw_int(shape, low, high)` -> integers in [low, high).
        batch: the number of images.
        image_shape: (H, W, C).
        policy: a tuple from `check_policy`.

    Returns:
        A dict of (batch,) tensors, plus `"apply"`: (batch, 3) U[0, 1) draws
        compared with the probability of each transform.
    """
    (shift_y, shift_x), (cut_y, cut_x) = sizes(image_shape)
    height, width = image_shape[0], image_shape[1]
    parameters = {"apply": draw_uniform((batch, len(POLICIES)))}
    if "color" in policy:
        parameters["color"] = [draw_uniform((batch,)) for _ in range(3)]
    if "translation" in policy:
        parameters["translation"] = [
            draw_int((batch,), -shift_y, shift_y + 1),
            draw_int((batch,), -shift_x, shift_x + 1),
        ]
    if "cutout" in policy:
        # The rectangle's centre anywhere in the image (DiffAugment's offsets), clipped at the borders.
        center_y = draw_int((batch,), 0, height + (1 - cut_y % 2))
        center_x = draw_int((batch,), 0, width + (1 - cut_x % 2))
        parameters["cutout"] = [center_y - cut_y // 2, center_x - cut_x // 2, cut_y, cut_x]
    return parameters


def augment(images, policy, parameters, probability=1.0):
    """Applies each transform of `policy` with `parameters` (from `draw_parameters`).

    With `probability` < 1 each transform reaches a sample only where that
    sample's `apply` draw lies below `probability`; the others pass unchanged.
    """
    transforms = {"color": color, "translation": translate, "cutout": cutout}
    for index, name in enumerate(POLICIES):
        if name not in policy:
            continue
        changed = transforms[name](images, *parameters[name])
        if isinstance(probability, (int, float)) and probability >= 1.0:
            images = changed
        else:
            chosen = ops.cast(parameters["apply"][:, index] < probability, images.dtype)[:, None, None, None]
            images = chosen * changed + (1.0 - chosen) * images
    return images
