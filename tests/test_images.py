"""Tests for ganzoo.client.images: uint8 mapping and PNG grids."""

import numpy as np
import pytest
from PIL import Image

from ganzoo.client.images import grid_array, save_grid, to_uint8


def test_to_uint8_maps_the_unit_range_exactly():
    values = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, -3.0, 2.0])
    # round((x + 1) * 127.5): 0, 63.75 -> 64, 127.5 -> 128, 191.25 -> 191, 255; clipped outside.
    np.testing.assert_array_equal(to_uint8(values), [0, 64, 128, 191, 255, 0, 255])
    assert to_uint8(values).dtype == np.uint8
    # Every uint8 level survives the round trip x = u / 127.5 - 1.
    levels = np.arange(256)
    np.testing.assert_array_equal(to_uint8(levels / 127.5 - 1.0), levels)


def test_to_uint8_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(np.array([0.0, np.nan]))


def test_grey_grid_has_the_right_size_and_exact_pixels(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.integers(0, 256, (5, 16, 16, 1)) / 127.5 - 1.0).astype("float32")
    path = save_grid(images, tmp_path / "sub" / "grid.png", nrow=3)
    with Image.open(path) as png:
        assert png.mode == "L"
        # 3 columns, 2 rows of 16*4 = 64 px cells, 2 px borders: 3*66+2 by 2*66+2.
        assert png.size == (200, 134)
        pixels = np.asarray(png)
    expected = to_uint8(images)[..., 0]
    for i in range(5):
        top, left = (i // 3) * 66 + 2, (i % 3) * 66 + 2
        cell = pixels[top : top + 64, left : left + 64]
        # Nearest-neighbour x4: every source pixel is a 4x4 block.
        np.testing.assert_array_equal(cell[::4, ::4], expected[i])
        np.testing.assert_array_equal(cell, np.kron(expected[i], np.ones((4, 4), np.uint8)))
    assert np.all(pixels[:2] == 128) and np.all(pixels[:, :2] == 128)  # border
    assert np.all(pixels[68:, 134:] == 128)  # the empty sixth cell


def test_rgb_grid_and_explicit_scale(tmp_path):
    images = np.zeros((4, 2, 3, 3), "float32")
    images[0, ..., 0] = 1.0  # red
    images[1, ..., 1] = 1.0  # green
    images[2] = -1.0  # black
    images[3] = 1.0  # white
    path = save_grid(images, tmp_path / "rgb.png", nrow=2, scale=1, padding=1, pad_value=7)
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.size == (2 * 4 + 1, 2 * 3 + 1)
        pixels = np.asarray(png)
    np.testing.assert_array_equal(pixels[1, 1], [255, 128, 128])
    np.testing.assert_array_equal(pixels[1, 5], [128, 255, 128])
    np.testing.assert_array_equal(pixels[4, 1], [0, 0, 0])
    np.testing.assert_array_equal(pixels[4, 5], [255, 255, 255])
    np.testing.assert_array_equal(pixels[0, 0], [7, 7, 7])


def test_default_layout_and_upscale():
    assert grid_array(np.zeros((64, 16, 16, 1))).shape == (8 * 66 + 2, 8 * 66 + 2, 1)  # 8x8, x4
    assert grid_array(np.zeros((10, 28, 28, 1))).shape == (3 * 86 + 2, 4 * 86 + 2, 1)  # x3
    assert grid_array(np.zeros((1, 64, 64, 3))).shape == (68, 68, 3)  # x1


@pytest.mark.parametrize("bad", [np.zeros((3, 8, 8)), np.zeros((0, 8, 8, 1)), np.zeros((2, 8, 8, 2))])
def test_bad_shapes_are_errors(bad):
    with pytest.raises(ValueError, match="Expected images"):
        grid_array(bad)
