"""Latent-space geometry for the app: the decoded grid, σ-ellipses, extents.

The grid follows the reference figure: columns run left→right over z[0],
rows run top→bottom from the largest z[1] down, so the picture reads like a
plot with z[1] pointing up.
"""
import numpy as np

MAX_ABS_Z = 100.0  # a point further out is a typo or an attack: the prior puts nothing there


def _per_axis(value, name):
    """A number or an (x, y) pair → (x, y) floats."""
    pair = np.asarray(value, dtype="float64")
    if pair.ndim == 0:
        pair = np.array([pair, pair])
    if pair.shape != (2,):
        raise ValueError(f"{name} must be a number or an (x, y) pair, got {value!r}")
    return float(pair[0]), float(pair[1])


def grid_coordinates(n, lo=-1.0, hi=1.0):
    """(grid_x, grid_y, z): n values of z[0] left→right, n of z[1] top→bottom (largest first),
    and z float32 (n*n, 2) in row-major order, row i at grid_y[i], column j at grid_x[j].

    lo and hi are numbers or (x, y) pairs for separate ranges per axis.
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"a grid needs n >= 2 cells per side, got {n}")
    (lo_x, lo_y), (hi_x, hi_y) = _per_axis(lo, "lo"), _per_axis(hi, "hi")
    if not (hi_x > lo_x and hi_y > lo_y):
        raise ValueError(f"hi must exceed lo on each axis, got lo={lo!r}, hi={hi!r}")
    grid_x = np.linspace(lo_x, hi_x, n)
    grid_y = np.linspace(lo_y, hi_y, n)[::-1]
    rows, cols = np.meshgrid(grid_y, grid_x, indexing="ij")
    z = np.stack([cols.ravel(), rows.ravel()], axis=1).astype("float32")
    return grid_x, grid_y, z


def tile_grid(images, n):
    """(n*n, h, w) images, row-major → one (n*h, n*w) float array."""
    images = np.asarray(images, dtype="float64")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]  # the decoder's channel axis
    if images.ndim != 3 or len(images) != n * n:
        raise ValueError(f"expected {n * n} images of shape (h, w) for a {n}x{n} grid, "
                         f"got an array of shape {images.shape}")
    _, h, w = images.shape
    return images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)


def manifold(decode, n, lo=-1.0, hi=1.0):
    """(tiled, grid_x, grid_y): the n x n decoded grid as one image.

    `decode` maps float32 (m, 2) → (m, rows, cols); it is called once for the
    whole grid, since a model call per cell costs far more than the cells.
    """
    grid_x, grid_y, z = grid_coordinates(n, lo, hi)
    return tile_grid(decode(z), n), grid_x, grid_y


def latent_extent(z, quantile=0.005, pad=0.1, square=True):
    """(lo, hi) per axis, as (lo_0, lo_1, ...) and (hi_0, hi_1, ...), covering where z lives.

    Quantiles instead of min/max, so a few stray encodings do not shrink the
    data into a corner; each side is then padded by `pad` of the span. With
    `square`, every axis gets the largest span (around its own middle), so a
    unit of z[0] and of z[1] look the same on a square pad.
    """
    z = np.asarray(z, dtype="float64")
    if z.ndim != 2:
        raise ValueError(f"expected latent points of shape (m, d), got {z.shape}")
    z = z[np.all(np.isfinite(z), axis=1)]
    if len(z) == 0:
        raise ValueError("no finite latent points to take the extent of")
    if not 0.0 <= quantile < 0.5:
        raise ValueError(f"quantile must be in [0, 0.5), got {quantile!r}")
    lo, hi = np.quantile(z, [quantile, 1.0 - quantile], axis=0)
    span = hi - lo
    span = np.where(span > 0, span, 1.0) * (1.0 + 2.0 * pad)  # all-equal z: a unit box around it
    if square:
        span = np.full_like(span, span.max())
    middle = (lo + hi) / 2.0
    return tuple((middle - span / 2).tolist()), tuple((middle + span / 2).tolist())
