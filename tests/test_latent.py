"""The latent grid's orientation and tiling, straight paths, σ-ellipses, extents, the PNG."""
import io

import numpy as np
import pytest
from PIL import Image

from vae.explorer.figures import manifold_figure_png, tick_indices
from vae.ml.latent import grid_coordinates, latent_extent, manifold, tile_grid


class RecordingDecoder:
    """A fake decoder: writes z[0] into pixel (0, 0) and z[1] into (0, 1) of each image."""

    def __init__(self, channel_axis=False):
        self.calls = []
        self.channel_axis = channel_axis

    def __call__(self, z):
        self.calls.append(np.array(z))
        images = np.zeros((len(z), 28, 28), dtype="float32")
        images[:, 0, 0], images[:, 0, 1] = z[:, 0], z[:, 1]
        return images[..., None] if self.channel_axis else images


def test_grid_top_row_is_largest_z1_first_column_smallest_z0():
    grid_x, grid_y, z = grid_coordinates(5, lo=-2.0, hi=3.0)
    assert grid_x[0] == -2.0 and grid_x[-1] == 3.0 and np.all(np.diff(grid_x) > 0)
    assert grid_y[0] == 3.0 and grid_y[-1] == -2.0 and np.all(np.diff(grid_y) < 0)
    assert z.shape == (25, 2) and z.dtype == np.float32
    assert tuple(z[0]) == (-2.0, 3.0)  # top-left
    assert tuple(z[4]) == (3.0, 3.0)  # top-right
    assert tuple(z[20]) == (-2.0, -2.0)  # bottom-left
    for i in range(5):
        for j in range(5):
            assert tuple(z[i * 5 + j]) == (np.float32(grid_x[j]), np.float32(grid_y[i]))


def test_grid_takes_a_range_per_axis():
    grid_x, grid_y, _ = grid_coordinates(3, lo=(-1.0, -4.0), hi=(1.0, 4.0))
    np.testing.assert_array_equal(grid_x, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grid_y, [4.0, 0.0, -4.0])


@pytest.mark.parametrize("n, lo, hi", [(1, -1, 1), (4, 1, 1), (4, 2, -2), (4, (0, 1), (1, 0)),
                                       (4, (0, 1, 2), 3)])
def test_grid_rejects_degenerate_requests(n, lo, hi):
    with pytest.raises(ValueError):
        grid_coordinates(n, lo, hi)


@pytest.mark.parametrize("channel_axis", [False, True])
def test_manifold_decodes_once_and_places_each_cell(channel_axis):
    decode = RecordingDecoder(channel_axis)
    n = 4
    figure, grid_x, grid_y = manifold(decode, n, lo=(-3.0, 0.0), hi=(1.0, 2.0))
    assert len(decode.calls) == 1
    assert decode.calls[0].shape == (n * n, 2) and decode.calls[0].dtype == np.float32
    assert figure.shape == (n * 28, n * 28)
    for i in range(n):
        for j in range(n):
            cell = figure[i * 28:(i + 1) * 28, j * 28:(j + 1) * 28]
            assert cell[0, 0] == pytest.approx(grid_x[j], abs=1e-6)
            assert cell[0, 1] == pytest.approx(grid_y[i], abs=1e-6)
    assert figure[0, 1] == pytest.approx(2.0)  # top-left cell holds the largest z[1]


def test_tile_grid_rejects_the_wrong_number_of_images():
    with pytest.raises(ValueError, match="9 images"):
        tile_grid(np.zeros((8, 28, 28)), 3)


def test_tile_grid_is_row_major():
    images = np.arange(6 * 2 * 3, dtype=float).reshape(6, 2, 3)  # 6 distinct 2x3 tiles
    with pytest.raises(ValueError):
        tile_grid(images, 2)
    tiled = tile_grid(images[:4], 2)
    np.testing.assert_array_equal(tiled[:2, :3], images[0])
    np.testing.assert_array_equal(tiled[:2, 3:], images[1])
    np.testing.assert_array_equal(tiled[2:, :3], images[2])
    np.testing.assert_array_equal(tiled[2:, 3:], images[3])


@pytest.mark.parametrize("n", [5, 40])
def test_manifold_figure_png(n):
    figure, grid_x, grid_y = manifold(RecordingDecoder(), n, -1.0, 1.0)
    png = manifold_figure_png(figure, grid_x, grid_y)
    assert png.startswith(b"\x89PNG")
    width, height = Image.open(io.BytesIO(png)).size
    assert width > 300 and height > 300


def test_tick_labels_are_thinned_for_large_grids():
    np.testing.assert_array_equal(tick_indices(5), np.arange(5))
    many = tick_indices(40, max_ticks=16)
    assert 2 <= len(many) <= 16 and many[0] == 0 and np.all(np.diff(many) == many[1])


def test_latent_extent_ignores_outliers_and_pads():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 2)) * [1.0, 3.0]
    z[:5] = 1000.0  # a handful of wild encodings
    (lo_x, lo_y), (hi_x, hi_y) = latent_extent(z, quantile=0.005, pad=0.1)
    assert hi_x < 15 and hi_y < 15
    inside = (z[:, 0] >= lo_x) & (z[:, 0] <= hi_x) & (z[:, 1] >= lo_y) & (z[:, 1] <= hi_y)
    assert inside.mean() > 0.99
    assert hi_x - lo_x == pytest.approx(hi_y - lo_y)  # square by default
    assert hi_y - lo_y > 2 * 2.5 * 3.0  # at least the ±2.5σ quantiles of the wide axis


def test_latent_extent_unsquare_follows_each_axis():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(5000, 2)) * [1.0, 4.0] + [10.0, -5.0]
    (lo_x, lo_y), (hi_x, hi_y) = latent_extent(z, square=False)
    assert (hi_y - lo_y) > 3 * (hi_x - lo_x)
    assert lo_x < 10.0 < hi_x and lo_y < -5.0 < hi_y


def test_latent_extent_of_one_point_is_still_a_box():
    lo, hi = latent_extent(np.array([[1.0, 2.0]]))
    assert lo[0] < 1.0 < hi[0] and lo[1] < 2.0 < hi[1]
