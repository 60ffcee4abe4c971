"""Two small pictures kept with each version, for the gallery: its latent map (the test codes,
coloured by label) and its manifold (a grid of images decoded over the same square).

  thumb_map.png        MAP_PX square: every test image's z_mean, one colour per class
  thumb_manifold.png   MANIFOLD_N × MANIFOLD_N decoded images, over the map's square

They are made from the browser files alone (decoder.json runs in NumPy, test_codes.npz holds the
codes), so no TensorFlow: a gallery of a hundred versions made before thumbnails existed makes
each in a few tens of milliseconds, once. Like the browser files, each PNG records the SHA-256
of the model.keras it shows (a tEXt chunk, "source_sha256"), and a mismatch counts as missing.
"""
import dataclasses
import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

from vae.ml.export import numpy_decode
from vae.ml.latent import grid_coordinates, latent_extent, tile_grid
from vae.store.disk import atomic_file

MAP_FILE = "thumb_map.png"
MANIFOLD_FILE = "thumb_manifold.png"
THUMBNAIL_FILES = (MAP_FILE, MANIFOLD_FILE)
MAP_PX = 192
MANIFOLD_N = 8  # cells per side: 8 × 28 px = 224 px, readable at a card's width
FINGERPRINT_KEY = "source_sha256"


@dataclasses.dataclass(frozen=True)
class Thumbnails:
    latent_map: bytes  # PNG
    manifold: bytes  # PNG


@functools.lru_cache(maxsize=4)
def test_labels(dataset):
    """The test labels of `dataset` (a DatasetSpec), read once per process: every map of it uses them."""
    from vae.data.arrays import load_arrays
    return load_arrays(dataset=dataset)["y_test"]


def _png(image, fingerprint):
    info = PngImagePlugin.PngInfo()
    info.add_text(FINGERPRINT_KEY, fingerprint)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


def _square(z_mean):
    """The map's and the manifold's square: where the test codes live (as the explorer's pad)."""
    lo, hi = latent_extent(z_mean, quantile=0.002, pad=0.08)
    return np.array(lo), np.array(hi)


def _hex_rgb(colour):
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def latent_map_image(z_mean, labels, class_colors, size=MAP_PX):
    """Every code as a 2-px dot of its class's colour on a light square, z[1] pointing up."""
    lo, hi = _square(z_mean)
    image = Image.new("RGB", (size, size), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    xy = (np.asarray(z_mean, "float64") - lo) / (hi - lo) * (size - 1)
    xy[:, 1] = size - 1 - xy[:, 1]
    order = np.random.default_rng(0).permutation(len(xy))  # no class painted wholly over another
    colours = [_hex_rgb(c) for c in class_colors]
    for i in order:
        x, y = xy[i]
        if 0 <= x < size and 0 <= y < size:
            draw.rectangle((x, y, x + 1, y + 1), fill=colours[int(labels[i]) % len(colours)])
    return image


def manifold_image(decoder, z_mean, n=MANIFOLD_N):
    """n × n images decoded over the map's square (numpy_decode: the exported decoder, no TensorFlow)."""
    lo, hi = _square(z_mean)
    margin = (hi - lo) * 0.08  # cell centres inside the square, not on its padded edge
    _, _, z = grid_coordinates(n, lo + margin, hi - margin)
    images = numpy_decode(decoder, z)
    tiled = tile_grid(images, n)
    return Image.fromarray((np.clip(tiled, 0, 1) * 255).round().astype(np.uint8), mode="L")


def make_thumbnails(decoder, z_mean, labels, class_colors, fingerprint):
    """{file name: PNG bytes} of both thumbnails, each recording `fingerprint`."""
    if len(z_mean) != len(labels):
        raise ValueError(f"{len(z_mean)} test codes but {len(labels)} labels: not the same test set")
    return {MAP_FILE: _png(latent_map_image(z_mean, labels, class_colors), fingerprint),
            MANIFOLD_FILE: _png(manifold_image(decoder, z_mean), fingerprint)}


def png_fingerprint(raw):
    """The SHA-256 a thumbnail's PNG records, or None when it is not such a PNG."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            return image.text.get(FINGERPRINT_KEY) if image.format == "PNG" else None
    except Exception:  # PIL raises several kinds on a damaged file
        return None


def thumbnails_from(contents, fingerprint):
    """Thumbnails from {file name: bytes or None}, or None when either is missing, unreadable or stale."""
    raws = [contents.get(name) for name in THUMBNAIL_FILES]
    if any(raw is None or png_fingerprint(raw) != fingerprint for raw in raws):
        return None
    return Thumbnails(*raws)


def read_thumbnails(model_dir, fingerprint):
    """The thumbnails kept in `model_dir`, or None when either is missing, unreadable or stale."""
    contents = {}
    for name in THUMBNAIL_FILES:
        try:
            contents[name] = (Path(model_dir) / name).read_bytes()
        except OSError:
            contents[name] = None
    return thumbnails_from(contents, fingerprint)


def write_thumbnails(model_dir, files):
    """Write {file name: bytes} into `model_dir`, each atomically."""
    for name, raw in files.items():
        with atomic_file(Path(model_dir) / name, "wb") as f:
            f.write(raw)
