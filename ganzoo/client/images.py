"""Image grids: generator outputs in [-1, 1] to viewable PNG files."""

import math
import os

import numpy as np

# Grids of small images are upscaled (nearest neighbour) until a cell is at
# least this many pixels on its longer side, so 16x16 digits become 64x64.
MIN_CELL_PIXELS = 64


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 in [0, 255]: `round((x + 1) * 127.5)`, clipped.

    Args:
        images: array-like of floats; values outside [-1, 1] are clipped.

    Returns:
        A uint8 NumPy array of the same shape. -1 -> 0, 0 -> 128, 1 -> 255.

    Raises:
        ValueError: if any value is NaN or infinite.

    Example:
        >>> to_uint8(np.array([-1.0, 0.0, 1.0]))
        array([  0, 128, 255], dtype=uint8)
    """
    images = np.asarray(images, dtype=np.float64)
    if not np.all(np.isfinite(images)):
        raise ValueError("Expected finite image values in [-1, 1]. Received: images containing NaN or Inf")
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid_array(images, nrow=None, padding=2, pad_value=128, scale=None):
    """Tiles images into one uint8 array `(rows * cell + padding, cols * cell + padding, C)`.

    Cells are `scale * H + padding` pixels apart, with a `padding`-pixel
    border of `pad_value` around every image; empty cells of a last
    partial row are `pad_value` too.

    Args:
        images: `(N, H, W, C)` floats in [-1, 1], or uint8 pixels; `C` 1
            (grey) or 3 (RGB).
        nrow: images per row (as in torchvision's `make_grid`); default
            `ceil(sqrt(N))`.
        padding: border width in pixels (after upscaling).
        pad_value: border grey level, 0-255.
        scale: integer upscale factor; default the smallest that makes a cell
            at least `MIN_CELL_PIXELS` wide (16x16 -> 4, 28x28 -> 3, >= 64 -> 1).

    Returns:
        A uint8 array `(height, width, C)`.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"Expected images of shape (N, height, width, 1 or 3) with N >= 1. Received: images.shape={images.shape}"
        )
    n, h, w, c = images.shape
    nrow = math.ceil(math.sqrt(n)) if nrow is None else nrow
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"Expected nrow to be a positive int. Received: nrow={nrow!r}")
    if scale is None:
        scale = max(1, math.ceil(MIN_CELL_PIXELS / max(h, w)))
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"Expected scale to be a positive int. Received: scale={scale!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"Expected padding to be an int >= 0. Received: padding={padding!r}")
    pixels = images if images.dtype == np.uint8 else to_uint8(images)  # uint8: pixels already (an ONNX export)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)  # (N, H*scale, W*scale, C)
    cols, rows = min(nrow, n), math.ceil(n / nrow)
    ch, cw = h * scale + padding, w * scale + padding
    grid = np.full((rows * ch + padding, cols * cw + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        top, left = (i // cols) * ch + padding, (i % cols) * cw + padding
        grid[top : top + h * scale, left : left + w * scale] = pixels[i]
    return grid


def save_grid(images, path, nrow=None, padding=2, pad_value=128, scale=None):
    """Writes images in [-1, 1] as one PNG grid (greyscale or RGB).

    Args:
        images: `(N, H, W, C)` floats in [-1, 1] or uint8 pixels, `C` 1 or 3.
        path: the PNG file; its folder is created.
        nrow, padding, pad_value, scale: see `grid_array`.

    Returns:
        `path`.

    Example:
        >>> save_grid(gan.generate(64, seed=0), "samples.png")  # 8x8 cells of 64x64 px
    """
    from PIL import Image

    import io

    from ganzoo.client.files import write_atomic

    image_format = Image.registered_extensions().get(os.path.splitext(os.fspath(path))[1].lower())
    if os.path.isdir(path) or image_format is None or image_format not in Image.SAVE:
        raise ValueError(
            f"Expected an image file path ending in an image extension such as .png. Received: path={os.fspath(path)!r}"
            + (", a folder" if os.path.isdir(path) else "")
        )
    grid = grid_array(images, nrow=nrow, padding=padding, pad_value=pad_value, scale=scale)
    buffer = io.BytesIO()
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(buffer, format=image_format)  # mode L/RGB
    write_atomic(path, buffer.getvalue())  # a temporary name, then renamed: never a truncated PNG
    return path
