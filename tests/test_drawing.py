"""preprocess_drawing turns canvas strokes into MNIST-shaped digits; upscale keeps pixels crisp.

Measurements here are independent of vae.data.drawing: the box is every pixel
above 0.1 and the centre of mass comes from np.indices.
"""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae.data.drawing import DOT_MESSAGE, EMPTY_MESSAGE, preprocess_drawing, upscale

MNIST = Path(__file__).resolve().parent.parent / "data" / "mnist.npz"
INK = (255, 0, 0, 255)  # red: RGB is deliberately not white, ink lives in alpha
BACKGROUND = (255, 255, 255, 0)  # transparent white: RGB looks like ink, alpha says no


def canvas(draw, size=280):
    image = Image.new("RGBA", (size, size), BACKGROUND)
    draw(ImageDraw.Draw(image))
    return np.asarray(image)


def one(d):
    d.line([(140, 40), (140, 240)], fill=INK, width=20)


def zero(d):
    d.ellipse([70, 40, 210, 240], outline=INK, width=18)


def corner_stroke(d):
    d.line([(190, 180), (270, 270)], fill=INK, width=15)


def seven(d):
    d.line([(60, 50), (220, 50)], fill=INK, width=20)
    d.line([(220, 50), (120, 250)], fill=INK, width=20)


def box_of(image, threshold=0.1):
    rows, cols = np.nonzero(image > threshold)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1  # height, width


def centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


@pytest.mark.parametrize("draw", [one, zero, corner_stroke, seven])
def test_strokes_fill_a_20px_box_centred_by_mass(draw):
    result = preprocess_drawing(canvas(draw))
    assert not result.is_blank and result.message is None
    image = result.image
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() > 0.9  # thick strokes stay fully inked
    assert max(box_of(image)) == 20
    # Whole-pixel shifts, as MNIST's: each axis lands within half a pixel of 14.
    cy, cx = centre_of_mass(image)
    assert abs(cy - 14.0) <= 0.5 + 1e-6 and abs(cx - 14.0) <= 0.5 + 1e-6


def test_a_one_keeps_its_tall_aspect():
    height, width = box_of(preprocess_drawing(canvas(one)).image)
    assert height == 20
    assert width <= 4  # 20 px of stroke on a 200 px line → about 2 px


def test_bbox_is_the_ink_box_in_canvas_pixels():
    # One stroke from (190,180) to (270,270), 15 px wide: the box hugs its ends.
    left, top, right, bottom = preprocess_drawing(canvas(corner_stroke)).bbox
    assert 180 <= left < 190 and 170 <= top < 180
    assert 270 < right <= 280 and 270 < bottom <= 280


def test_position_on_the_canvas_does_not_matter():
    here = canvas(lambda d: d.line([(60, 40), (60, 200)], fill=INK, width=20))
    there = canvas(lambda d: d.line([(200, 90), (200, 250)], fill=INK, width=20))
    np.testing.assert_array_equal(preprocess_drawing(here).image, preprocess_drawing(there).image)


def test_a_lopsided_digit_is_not_cut_off():
    # A heavy top bar over a hairline stem: its centre of mass is near the top,
    # so centring by mass alone would push the stem's foot out of the field.
    def heavy_top(d):
        d.rectangle([40, 40, 240, 100], fill=INK)
        d.line([(44, 100), (44, 240)], fill=INK, width=4)
    image = preprocess_drawing(canvas(heavy_top)).image
    assert max(box_of(image, threshold=0.0)) == 20
    # As low as the field allows: rows 8..27, the box's foot on the bottom edge.
    assert image[:8].max() == 0 and image[8].max() > 0 and image[27].max() > 0
    assert centre_of_mass(image)[0] < 13.5  # the premise: centring fully would have cut


def test_grayscale_input_matches_the_alpha_channel():
    rgba = canvas(zero)
    from_rgba = preprocess_drawing(rgba).image
    np.testing.assert_array_equal(preprocess_drawing(rgba[..., 3]).image, from_rgba)
    from_float = preprocess_drawing(rgba[..., 3] / 255.0).image
    np.testing.assert_allclose(from_float, from_rgba, atol=1e-6)


@pytest.mark.skipif(not MNIST.exists(), reason="bundled MNIST missing")
def test_mnist_digits_come_back_unchanged():
    # MNIST is already 20 px boxes centred by mass at (14, 14): preprocessing is a no-op.
    with np.load(MNIST) as npz:
        digits = npz["x_test"][:100]
    for digit in digits:
        result = preprocess_drawing(digit)
        assert np.abs(result.image - digit / 255.0).mean() < 0.005


def test_blank_canvas_is_a_hint_not_an_error():
    result = preprocess_drawing(canvas(lambda d: None))
    assert result.is_blank and result.image is None and result.bbox is None
    assert result.message == EMPTY_MESSAGE.format(noun="digit") == "Draw a digit: the canvas is empty."


@pytest.mark.parametrize("radius", [2, 15])  # a speck, and a click with a fat brush
def test_a_dot_is_a_hint_not_an_error(radius):
    dot = canvas(lambda d: d.ellipse([100 - radius, 100 - radius, 100 + radius, 100 + radius],
                                     fill=INK))
    result = preprocess_drawing(dot)
    assert result.is_blank and result.image is None
    assert result.message == DOT_MESSAGE.format(noun="digit")
    assert result.bbox is not None


def test_a_few_scattered_pixels_are_not_a_digit():
    specks = np.zeros((280, 280, 4), dtype=np.uint8)
    specks[[10, 140, 270], [10, 200, 30], 3] = 255
    result = preprocess_drawing(specks)
    assert result.is_blank and result.message == DOT_MESSAGE.format(noun="digit")


@pytest.mark.parametrize("bad, words", [
    (np.zeros((280, 280, 3), dtype=np.uint8), "RGBA"),
    (np.zeros((280,), dtype=np.uint8), "RGBA"),
    (np.zeros((0, 0, 4), dtype=np.uint8), "empty"),
    (np.full((28, 28), 2.0), "[0, 1]"),
    (np.full((28, 28), np.nan), "[0, 1]"),
    (np.full((28, 28), "x"), "numeric"),
])
def test_malformed_input_raises_a_clear_value_error(bad, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        preprocess_drawing(bad)


def test_upscale_is_nearest_neighbour():
    rng = np.random.default_rng(0)
    image = rng.random((28, 28))
    big = upscale(image, 280)
    assert big.shape == (280, 280) and big.dtype == np.uint8
    expected = np.kron(np.round(image * 255), np.ones((10, 10))).astype(np.uint8)
    np.testing.assert_array_equal(big, expected)  # any blur breaks the 10x10 blocks
    np.testing.assert_array_equal(upscale(image[..., None], 280), expected)


def test_upscale_clips_out_of_range_values():
    big = upscale(np.array([[-0.5, 1.5]] * 2), 4)
    assert big.min() == 0 and big.max() == 255


def test_upscale_reads_uint8_as_0_to_255():
    image = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    big = upscale(image, 4)
    assert big.dtype == np.uint8 and big[0, 3] == 255 and big[3, 0] == 51 and big[3, 3] == 102


# --- what the browser sends: decode_canvas_png ---------------------------------------------

import io  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402

from vae.data.drawing import MAX_CANVAS_BYTES, DrawingError, decode_canvas_png  # noqa: E402


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def claimed_png(width, height, filled=False):
    """A width x height RGBA PNG made by hand: with no pixel data, or (filled) with all of it,
    zeros, which compress about 1000:1. What a hostile client sends to make a decoder
    allocate and fill width * height * 4 bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\0" * (1 + 4 * width)  # filter byte + RGBA
    data = b"".join(packer.compress(row) for _ in range(height if filled else 0)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def test_a_canvas_png_decodes_to_rgba():
    image = Image.new("RGBA", (280, 280), BACKGROUND)
    one(ImageDraw.Draw(image))
    rgba = decode_canvas_png(png_bytes(image))
    assert rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba, np.asarray(image))


@pytest.mark.parametrize("payload, words", [
    (claimed_png(8000, 8000), "8000×8000 pixels; at most 1,048,576"),
    (claimed_png(1025, 1024), "1025×1024 pixels"),
    (b"\0" * (MAX_CANVAS_BYTES + 1), "4.0 MB; at most 4 MB"),
    (png_bytes(Image.new("RGB", (280, 280))), "expected an RGBA drawing (ink in alpha), got a RGB image"),
    (png_bytes(Image.new("L", (280, 280))), "got a L image"),
    (png_bytes(Image.new("RGBA", (280, 280)))[:200], "not a readable PNG"),  # truncated
    (b"GIF89a" + b"\0" * 100, "not a readable PNG"),
    (png_bytes(Image.new("RGBA", (8, 8))).replace(b"IDAT", b"IDAX"), "not a readable PNG"),
    ("data:image/png;base64,AAAA", "expected PNG bytes, got str"),
])
def test_hostile_canvas_payloads_are_refused_with_a_clear_message(payload, words):
    with pytest.raises(DrawingError) as err:
        decode_canvas_png(payload)
    assert words in str(err.value)


def test_a_big_claimed_image_is_refused_before_any_memory_is_spent(tmp_path):
    # In a fresh interpreter, so its peak memory is this decode's alone. Pillow itself only
    # refuses images above ~179M pixels; decoding this 8000x8000 RGBA one fills 256 MB.
    bomb = claimed_png(8000, 8000, filled=True)
    assert len(bomb) < MAX_CANVAS_BYTES  # small enough to pass the byte cap
    code = (
        "import resource, sys\n"
        "from vae.data.drawing import decode_canvas_png\n"
        "payload = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    decode_canvas_png(payload)\nexcept ValueError:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    (tmp_path / "bomb.png").write_bytes(bomb)
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bomb.png")], cwd=Path(__file__).resolve().parent.parent,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 20_000  # KB: far below the 256 MB a decode would take


def test_arrays_above_the_pixel_cap_are_refused():
    with pytest.raises(DrawingError, match="2000×1000 pixels"):
        preprocess_drawing(np.zeros((1000, 2000, 4), np.uint8))


# --- the recipe the page reads: drawing_recipe ---------------------------------------------

import json  # noqa: E402

from vae.data.datasets import FASHION_MNIST, MNIST as MNIST_SPEC  # noqa: E402
from vae.data.drawing import drawing_recipe, fit_box  # noqa: E402


def test_the_recipe_is_the_specs_numbers_in_the_pages_words():
    recipe = drawing_recipe()
    assert recipe == {"side": 28, "inkBox": 20, "inkThreshold": 0.05, "minInkPixels": 20,
                      "minSize": 0.15, "filter": "lanczos",
                      "emptyMessage": "Draw a digit: the canvas is empty.",
                      "dotMessage": "That's only a dot — draw a whole digit."}
    assert drawing_recipe("mnist") == drawing_recipe(MNIST_SPEC) == recipe
    assert (recipe["side"], recipe["inkBox"]) == (MNIST_SPEC.image_shape[0], MNIST_SPEC.ink_box)
    assert json.loads(json.dumps(recipe)) == recipe  # what the page receives is what Python holds


def test_the_recipe_names_the_filter_python_resizes_with():
    rng = np.random.default_rng(1)
    ink = rng.random((37, 23))
    named = Image.Resampling[drawing_recipe()["filter"].upper()]
    by_name = np.clip(np.asarray(Image.fromarray(ink.astype("float32")).resize((12, 20), named)), 0, 1)
    np.testing.assert_array_equal(fit_box(ink, 20), by_name)


def test_the_recipes_thresholds_are_the_ones_preprocessing_uses():
    recipe = drawing_recipe()
    # minInkPixels: one pixel fewer than the recipe asks is blank, the recipe's count is not
    # (the strokes span the canvas, so only the count can make them blank)
    def specks(n):
        image = np.zeros((280, 280), dtype=np.uint8)
        image[np.arange(n) * 13, np.arange(n) * 7] = 255  # n distinct pixels on a long diagonal
        return image
    assert preprocess_drawing(specks(recipe["minInkPixels"] - 1)).is_blank
    assert not preprocess_drawing(specks(recipe["minInkPixels"])).is_blank
    # minSize: ink spanning just under that share of the shorter side is a dot, just over is not
    span = int(np.ceil(recipe["minSize"] * 280))
    def bar(length):
        image = np.zeros((280, 280), dtype=np.uint8)
        image[100:104, 100:100 + length] = 255
        return image
    assert preprocess_drawing(bar(span - 1)).is_blank and not preprocess_drawing(bar(span)).is_blank
    # inkThreshold: alpha just above it is ink, at it is not
    faint = np.zeros((280, 280), dtype=np.float64)
    faint[40:240, 130:150] = recipe["inkThreshold"]
    assert preprocess_drawing(faint).bbox is None
    faint[40:240, 130:150] = np.nextafter(recipe["inkThreshold"], 1)
    assert preprocess_drawing(faint).bbox == (130, 40, 150, 240)


def test_a_dataset_that_is_not_drawn_has_no_recipe():
    with pytest.raises(ValueError, match="not drawn"):
        drawing_recipe(FASHION_MNIST)
