"""A canvas drawing → the input the encoder was trained on, made as the dataset's items were.

The recipe is the dataset spec's (vae.data.datasets): MNIST's, the reference, fits the ink's
bounding box into 20x20 keeping its aspect ratio, anti-aliased, then places it in a 28x28
field with its centre of mass at the centre. "Centre" there is pixel index (14, 14),
measured rather than guessed: in the bundled training set the mean centre of mass is
(14.00, 14.01) with a spread of 0.29 px per axis, exactly the 1/sqrt(12) of shifts rounded
to whole pixels. So we shift by whole pixels too, landing within half a pixel of the
middle per axis, and the box stays crisp instead of smearing one pixel wider.

Ink is the canvas' alpha channel: streamlit-drawable-canvas draws strokes on a
transparent layer, so RGB says nothing about where the ink is.

The page runs the same recipe before it encodes a drawing itself
(vae/ui/latent_view/drawing.js): drawing_recipe(spec) gives it this module's numbers, and
tests/e2e/test_drawing_prep_browser.py holds the two within 2/255 per pixel.

The canvas' PNG comes from the browser, so it is untrusted: decode_canvas_png reads
only its header before deciding, and refuses anything bigger than MAX_CANVAS_BYTES
encoded or MAX_CANVAS_PIXELS decoded (a small PNG can inflate to gigabytes).
"""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vae.data.datasets import get_dataset

INK_THRESHOLD = 0.05  # ink above this counts for the bounding box; fainter is stroke fringe
MIN_INK_PIXELS = 20  # fewer ink pixels than this is a speck, not a drawing
MIN_SIZE = 0.15  # ink spanning less than this share of the canvas' shorter side is a dot
# LANCZOS anti-aliases like MNIST's resampling; its ringing is clipped away. The page ports
# Pillow's float ('F') resampler for this filter (drawing.js), so a change here is one there.
RESAMPLING = Image.Resampling.LANCZOS

MAX_CANVAS_PIXELS = 1024 * 1024  # the app's canvas is 280x280 (560x560 on a 2x screen)
MAX_CANVAS_BYTES = 4_000_000  # its PNG is a few tens of KB
EMPTY_MESSAGE = "Draw a {noun}: the canvas is empty."  # noun: the spec's item_noun
DOT_MESSAGE = "That's only a dot — draw a whole {noun}."


@dataclass(frozen=True)
class DrawingResult:
    """image: float32 (size, size) in [0, 1], or None when is_blank.
    bbox: the ink's box in canvas pixels as Pillow's (left, top, right, bottom),
    right and bottom exclusive; None when the canvas has no ink at all.
    message: a short hint for the user when is_blank, else None.
    """
    image: np.ndarray | None
    is_blank: bool
    bbox: tuple[int, int, int, int] | None
    message: str | None = None


class DrawingError(ValueError):
    """Input that is not a drawing: the message says what is wrong, for the user."""


def _check_pixels(width, height):
    if width * height > MAX_CANVAS_PIXELS:
        raise DrawingError(f"the drawing is {width}×{height} pixels; at most {MAX_CANVAS_PIXELS:,} "
                         f"(1024×1024) are accepted")


def decode_canvas_png(png):
    """The canvas' PNG bytes → RGBA uint8 (H, W, 4), refusing what is not a canvas drawing.

    Raises DrawingError (a ValueError), saying what is wrong, for data too big, not a PNG, not RGBA, or
    larger than MAX_CANVAS_PIXELS; size and mode are read from the header, before any
    pixel is decoded, so memory stays bounded whatever the browser sends.
    """
    if not isinstance(png, (bytes, bytearray)):
        raise DrawingError(f"expected PNG bytes, got {type(png).__name__}")
    if len(png) > MAX_CANVAS_BYTES:
        raise DrawingError(f"the drawing is {len(png) / 1e6:.1f} MB; at most "
                         f"{MAX_CANVAS_BYTES / 1e6:.0f} MB are accepted")
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:  # reads the header only
            _check_pixels(*image.size)
            if image.mode != "RGBA":
                raise DrawingError(f"expected an RGBA drawing (ink in alpha), got a {image.mode} image")
            image.load()
            return np.asarray(image)
    except DrawingError:
        raise
    except Exception as err:  # Pillow reports damaged data as OSError, SyntaxError, ValueError...
        raise DrawingError(f"the drawing is not a readable PNG ({type(err).__name__}: {err})") from None


def ink_intensity(drawing):
    """float64 (H, W) ink in [0, 1] from RGBA (alpha is ink) or grayscale (high is ink)."""
    array = np.asarray(drawing)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., 3]
    elif array.ndim != 2:
        raise DrawingError(f"expected an RGBA (H, W, 4) canvas or a grayscale (H, W) image, "
                         f"got an array of shape {array.shape}")
    if array.size == 0:
        raise DrawingError(f"the drawing is empty: shape {np.asarray(drawing).shape}")
    _check_pixels(array.shape[1], array.shape[0])
    if array.dtype == bool:
        return array.astype("float64")
    if np.issubdtype(array.dtype, np.integer):
        scale = 255.0
    elif np.issubdtype(array.dtype, np.floating):
        scale = 1.0
    else:
        raise DrawingError(f"expected a numeric image, got dtype {array.dtype}")
    ink = array.astype("float64") / scale
    if not np.all(np.isfinite(ink)) or ink.min() < 0.0 or ink.max() > 1.0:
        raise DrawingError(f"ink values must lie in [0, 255] for integer images or [0, 1] for "
                         f"float images; got {array.dtype} in [{array.min()}, {array.max()}]")
    return ink


def ink_bbox(ink, threshold=INK_THRESHOLD):
    """(left, top, right, bottom) of the pixels above threshold, or None if there are none."""
    mask = ink > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def fit_box(ink, box):
    """Resize so the longer side is `box` px, keeping the aspect ratio, anti-aliased."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(ink.astype("float32")).resize(size, RESAMPLING)
    return np.clip(np.asarray(resized, dtype="float64"), 0.0, 1.0)


def centre_of_mass(image):
    """(row, col) intensity centre of mass in pixel indices."""
    total = image.sum()
    rows = (image.sum(axis=1) * np.arange(image.shape[0])).sum() / total
    cols = (image.sum(axis=0) * np.arange(image.shape[1])).sum() / total
    return rows, cols


def place_centred(patch, size, centre=None):
    """Paste `patch` in a size x size field, its centre of mass at `centre` (default: pixel
    index size / 2, see the module docstring), whole-pixel shift.

    The offset is clamped so no ink falls off the field: a lopsided drawing
    (centre of mass far from its box's middle) sits at the edge instead of
    being cut, as it would be in MNIST.
    """
    centre = size / 2 if centre is None else centre
    cy, cx = centre_of_mass(patch)
    h, w = patch.shape
    top = int(np.clip(np.floor(centre - cy + 0.5), 0, size - h))
    left = int(np.clip(np.floor(centre - cx + 0.5), 0, size - w))
    field = np.zeros((size, size), dtype="float32")
    field[top:top + h, left:left + w] = patch
    return field


def drawable_spec(spec=None):
    """The DatasetSpec for `spec` (a spec, a name or None), refusing one whose items are not drawn."""
    spec = get_dataset(spec)
    if not spec.drawable:
        raise ValueError(f"{spec.title} {spec.item_noun}s are not drawn: there is no recipe for a drawing")
    return spec


def ink_box_pixels(spec, size):
    """The ink box's side in a size x size field: the spec's ink_box, scaled from its image side."""
    return max(1, round(size * spec.ink_box / spec.image_shape[0]))


def drawing_recipe(spec=None):
    """The recipe of `spec` (a drawable DatasetSpec or name; None: the default dataset) as the page's
    drawing.js reads it: JSON-ready, keys in the page's camelCase, the messages already worded.

    {"side": field side in px, "inkBox": the ink's longer side in px, "inkThreshold": ink above
     this counts (0..1), "minInkPixels": fewer is blank, "minSize": a share of the canvas'
     shorter side the ink must span, "filter": Pillow's resampling filter, lower case,
     "emptyMessage": the hint for an empty canvas, "dotMessage": the hint for a dot}
    """
    spec = drawable_spec(spec)
    side = spec.image_shape[0]
    return {"side": side, "inkBox": ink_box_pixels(spec, side), "inkThreshold": INK_THRESHOLD,
            "minInkPixels": MIN_INK_PIXELS, "minSize": MIN_SIZE, "filter": RESAMPLING.name.lower(),
            "emptyMessage": EMPTY_MESSAGE.format(noun=spec.item_noun),
            "dotMessage": DOT_MESSAGE.format(noun=spec.item_noun)}


def preprocess_drawing(drawing, spec=None, size=None, min_ink_pixels=MIN_INK_PIXELS, min_size=MIN_SIZE):
    """A canvas drawing → DrawingResult with a (size, size) float32 image made by the recipe of
    `spec` (a drawable DatasetSpec or name; None: the default dataset).

    `size` defaults to the spec's image side; the recipe's proportions scale with it: the ink
    box is ink_box / side of it, the centre at its middle.

    `drawing` is RGBA uint8 (ink in alpha) or grayscale (ink high). A canvas is
    blank, with a hint rather than an error, when it has fewer than
    `min_ink_pixels` ink pixels or its ink spans less than `min_size` of the
    canvas' shorter side (a click with a fat brush is a dot, not a drawing).
    Raises ValueError for arrays that are not a drawing at all.
    """
    spec = drawable_spec(spec)
    size = int(size or spec.image_shape[0])
    ink = ink_intensity(drawing)
    bbox = ink_bbox(ink)
    if bbox is None:
        return DrawingResult(None, True, None, EMPTY_MESSAGE.format(noun=spec.item_noun))
    left, top, right, bottom = bbox
    too_few = np.count_nonzero(ink > INK_THRESHOLD) < min_ink_pixels
    too_small = max(right - left, bottom - top) < min_size * min(ink.shape)
    if too_few or too_small:
        return DrawingResult(None, True, bbox, DOT_MESSAGE.format(noun=spec.item_noun))
    box = ink_box_pixels(spec, size)
    image = place_centred(fit_box(ink[top:bottom, left:right], box), size)
    return DrawingResult(image, False, bbox)


def upscale(image, size=280):
    """A square image in [0, 1] (or uint8) → uint8 (size, size), nearest-neighbour so pixels stay crisp."""
    image = np.asarray(image)
    image = image / 255.0 if image.dtype == np.uint8 else image.astype("float64")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]  # the decoder's (rows, cols, 1)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    if int(size) < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    grey = Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype("uint8"))
    return np.asarray(grey.resize((int(size), int(size)), Image.NEAREST))
