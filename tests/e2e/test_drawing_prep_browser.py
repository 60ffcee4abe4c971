"""The drawing recipe in the page (vae/ui/latent_view/drawing.js) against Python's, the reference
(vae/data/drawing.py): one recipe, two implementations. Seeded synthetic stroke sets (thin,
thick, tiny, off-centre, multi-stroke, tall, wide, near the edges, and a few made to hit the
recipe's edge cases) are drawn with Pillow into a canvas' alpha channel, at 280×280 and at
560×560 (a 2× screen), and go through both; every 28×28 input must agree within 2/255 per
pixel, and the blank/dot verdicts must agree. A wrong filter in the page must break the bound.

drawing.js is loaded alone, from its source, into a page of its own origin, as
tests/e2e/test_runtime_browser.py loads the runtime.
"""
import base64

import numpy as np
import pytest
from PIL import Image, ImageDraw

from harness.browser import REPO_ROOT
from vae.data.drawing import drawing_recipe, preprocess_drawing
from vae.ui.latent_view import VIEW_JS, module_source

pytestmark = pytest.mark.browser

DRAWING_JS = REPO_ROOT / "vae" / "ui" / "latent_view" / "drawing.js"
BOUND = 2 / 255  # the bound on |page − Python| per pixel
UNIT = 280  # stroke sets are drawn in a 280 px canvas' units, scaled for a bigger canvas
CANVASES = (280, 560)
SUPERSAMPLE = 4  # an anti-aliased set is drawn 4× as big and box-averaged down, as a canvas' fringe

LOAD = """async (source) => {
    window.drawing = await import(URL.createObjectURL(new Blob([source], {type: 'text/javascript'})));
}"""
# The page's preprocess on a canvas' bytes (base64: the alpha channel, or getImageData's RGBA).
PREPROCESS = """([bytes, width, height, recipe]) => {
    const text = atob(bytes), pixels = new Uint8ClampedArray(text.length);
    for (let i = 0; i < text.length; i++) pixels[i] = text.charCodeAt(i);
    const result = window.drawing.preprocess(pixels, width, height, recipe);
    return {...result, pixels: result.pixels && Array.from(result.pixels)};
}"""
# The mutation control's wrong filter: Pillow's bilinear (a triangle of support 1), added to the
# page's table so the page's own resampler runs it.
ADD_BILINEAR = """() => {
    window.drawing.FILTERS.bilinear = {weight: (x) => Math.max(0, 1 - Math.abs(x)), support: 1};
}"""


# -- the stroke sets -------------------------------------------------------------------------
# A stroke is (points, width) in UNIT coordinates; draw() scales it to the canvas.

def points_in(rng, box, n):
    left, top, right, bottom = box
    return [(rng.uniform(left, right), rng.uniform(top, bottom)) for _ in range(n)]


def across(rng, box, n):
    """n points in box, the first on its left edge and the last on its right: the ink spans it."""
    left, top, right, bottom = box
    inner = points_in(rng, box, n - 2)
    return [(left, rng.uniform(top, bottom)), *inner, (right, rng.uniform(top, bottom))]


def central_box(rng):
    return (rng.uniform(30, 90), rng.uniform(30, 90), rng.uniform(190, 250), rng.uniform(190, 250))


def thin(rng):
    return [(points_in(rng, central_box(rng), rng.integers(3, 7)), 4) for _ in range(rng.integers(1, 3))]


def thick(rng):
    return [(points_in(rng, central_box(rng), rng.integers(3, 6)), 32) for _ in range(rng.integers(1, 3))]


def scribble(rng, side_range):
    side = rng.uniform(*side_range)
    x, y = rng.uniform(20, UNIT - 20 - side, 2)
    return [(across(rng, (x, y, x + side, y + side), rng.integers(3, 6)), rng.uniform(2, 6))]


def tiny(rng):
    return scribble(rng, (2, 30))  # a few px: a dot to the recipe (minSize: 0.15 of 280 = 42)


def small(rng):
    return scribble(rng, (45, 70))  # just above minSize: the smallest drawing the recipe takes


def off_centre(rng):
    side = rng.uniform(60, 120)
    x, y = (rng.choice([rng.uniform(5, 30), rng.uniform(UNIT - side - 30, UNIT - side - 5)]) for _ in "xy")
    return [(across(rng, (x, y, x + side, y + side), rng.integers(3, 6)), rng.uniform(6, 20))
            for _ in range(rng.integers(1, 3))]


def multi_stroke(rng):
    strokes = []
    for _ in range(rng.integers(3, 6)):
        x, y = rng.uniform(30, 200, 2)
        strokes.append((points_in(rng, (x, y, x + rng.uniform(20, 60), y + rng.uniform(20, 60)), rng.integers(2, 4)),
                        rng.uniform(6, 20)))
    return strokes


def tall(rng):
    x, half = rng.uniform(60, 220), rng.uniform(2, 15)
    box = (x - half, rng.uniform(20, 60), x + half, rng.uniform(220, 260))
    return [([(rng.uniform(box[0], box[2]), box[1]), *points_in(rng, box, rng.integers(0, 3)),
              (rng.uniform(box[0], box[2]), box[3])], rng.uniform(4, 14))]


def wide(rng):
    return [([(y, x) for x, y in points], width) for points, width in tall(rng)]


def near_edge(rng):
    """Strokes that run off one side of the canvas: the ink touches its border."""
    side = rng.integers(4)
    strokes = []
    for _ in range(rng.integers(1, 3)):
        points = points_in(rng, (-20, 30, 60, 250), rng.integers(2, 5))
        # turn the left-edge layout to the chosen side (a quarter turn at a time about the middle)
        for _ in range(side):
            points = [(UNIT - y, x) for x, y in points]
        strokes.append((points, rng.uniform(8, 24)))
    return strokes


KINDS = {"thin": thin, "thick": thick, "tiny": tiny, "small": small, "off-centre": off_centre,
         "multi-stroke": multi_stroke, "tall": tall, "wide": wide, "near-edge": near_edge}
SETS_PER_KIND = 4  # per canvas: two drawn crisp, two anti-aliased


def draw_strokes(strokes, canvas, antialiased):
    """An RGBA canvas with the strokes' ink in alpha (RGB red, as the app's pen; it says nothing)."""
    scale = canvas / UNIT * (SUPERSAMPLE if antialiased else 1)
    size = canvas * (SUPERSAMPLE if antialiased else 1)
    mask = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(mask)
    for points, width in strokes:
        points = [(x * scale, y * scale) for x, y in points]
        radius = width * scale / 2
        pen.line(points, fill=255, width=max(1, round(width * scale)), joint="curve")
        for x, y in (points[0], points[-1]):  # round caps, as a canvas pen's
            pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    if antialiased:
        mask = mask.reduce(SUPERSAMPLE)
    return rgba_with_alpha(np.asarray(mask))


def rgba_with_alpha(alpha):
    rgba = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = alpha
    return rgba


def drawn_in_unit(canvas, paint):
    """A set drawn crisp with Pillow's shapes, coordinates in UNIT scaled to the canvas."""
    mask = Image.new("L", (canvas, canvas), 0)
    paint(ImageDraw.Draw(mask), canvas / UNIT)
    return rgba_with_alpha(np.asarray(mask))


# Sets made to meet one rule of the recipe each.
def rounding_tie(d, s):
    # 25 × 200 px fits to 2.5 × 20: Python's round() gives 2, a half-up round would give 3
    d.rectangle([100 * s, 40 * s, 125 * s - 1, 240 * s - 1], fill=255)


def lopsided(d, s):
    # a heavy bar over a hairline stem: centring by mass would push the stem off; it is clamped
    d.rectangle([40 * s, 40 * s, 240 * s, 100 * s], fill=255)
    d.line([(44 * s, 100 * s), (44 * s, 240 * s)], fill=255, width=round(4 * s))


def symmetric_bar(d, s):
    # a centred bar, mirror-symmetric: its centre of mass sits on a half-pixel tie
    d.rectangle([130 * s, 40 * s, 150 * s - 1, 240 * s - 1], fill=255)


def barely_ink(d, s):
    d.rectangle([60 * s, 60 * s, 220 * s, 200 * s], fill=13)  # 13/255 = 0.051: just above the threshold


def faint(d, s):
    d.rectangle([60 * s, 60 * s, 220 * s, 200 * s], fill=12)  # 12/255 = 0.047: not ink, an empty canvas


def empty(d, s):
    pass


def dot(d, s):
    d.ellipse([125 * s, 125 * s, 155 * s, 155 * s], fill=255)  # a click with a fat brush


def specks(d, s):
    for x, y in ((10, 10), (140, 200), (270, 30)):
        d.point((x * s, y * s), fill=255)  # far apart, but three pixels are no drawing


SPECIALS = {"rounding-tie": rounding_tie, "lopsided": lopsided, "symmetric-bar": symmetric_bar,
            "barely-ink": barely_ink, "faint": faint, "empty": empty, "dot": dot, "specks": specks}


def stroke_sets():
    """(name, kind, canvas side, RGBA) for every set, the same every run."""
    rng = np.random.default_rng(20240607)
    sets = []
    for canvas in CANVASES:
        for kind, strokes_of in KINDS.items():
            for i in range(SETS_PER_KIND):
                antialiased = i % 2 == 1
                sets.append((f"{kind}-{i}{'-aa' if antialiased else ''}@{canvas}", kind, canvas,
                             draw_strokes(strokes_of(rng), canvas, antialiased)))
        for kind, paint in SPECIALS.items():
            sets.append((f"{kind}@{canvas}", kind, canvas, drawn_in_unit(canvas, paint)))
    return sets


SETS = stroke_sets()


# -- both implementations on every set -------------------------------------------------------

@pytest.fixture(scope="module")
def prep_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.route("http://drawing.test/", lambda route: route.fulfill(
        content_type="text/html", body="<!doctype html><title>drawing.js</title>"))
    page.goto("http://drawing.test/")
    page.evaluate(LOAD, DRAWING_JS.read_text())
    yield page
    context.close()


def in_the_page(page, canvas_bytes, side, recipe):
    return page.evaluate(PREPROCESS, [base64.b64encode(canvas_bytes.tobytes()).decode(), side, side, recipe])


def difference(page_result, python_result):
    """max |page − Python| over the 28×28 input, or None when either is blank."""
    if page_result["pixels"] is None or python_result.image is None:
        return None
    return float(np.abs(np.array(page_result["pixels"]) - python_result.image.ravel()).max())


@pytest.fixture(scope="module")
def compared(prep_page):
    """name → (kind, Python's DrawingResult, the page's result) for every set."""
    recipe = drawing_recipe()
    return {name: (kind, preprocess_drawing(rgba), in_the_page(prep_page, rgba[..., 3], canvas, recipe))
            for name, kind, canvas, rgba in SETS}


def test_the_sets_cover_every_kind_on_both_canvases(compared):
    drawn = {name: kind for name, (kind, python, _) in compared.items() if not python.is_blank}
    assert len(drawn) >= 50
    for canvas in CANVASES:
        kinds = {kind for name, kind in drawn.items() if name.endswith(f"@{canvas}")}
        assert set(KINDS) - {"tiny"} <= kinds, f"{canvas}: no drawn set of {set(KINDS) - kinds}"
    blank = {kind for kind, python, _ in compared.values() if python.is_blank}
    assert blank == {"tiny", "faint", "empty", "dot", "specks"}  # each way of being blank is met


def test_every_drawn_set_is_within_2_255_of_python_per_pixel(compared):
    differences = {name: difference(page, python) for name, (_, python, page) in compared.items()}
    measured = {name: d for name, d in differences.items() if d is not None}
    worst = max(measured, key=measured.get)
    print(f"\nmax |page − Python| over {len(measured)} drawn sets: {measured[worst]:.3g} ({worst}); "
          f"{sum(d == 0 for d in measured.values())} sets bit-identical")
    over = {name: d for name, d in measured.items() if d > BOUND}
    assert not over, f"over 2/255: {over}"


def test_blank_and_dot_verdicts_and_ink_boxes_agree(compared):
    for name, (_, python, page) in compared.items():
        assert (page["blank"], page["message"]) == (python.is_blank, python.message), name
        assert (tuple(page["bbox"]) if page["bbox"] else None) == python.bbox, name


def test_rgba_from_getimagedata_gives_what_the_alpha_channel_gives(prep_page, compared):
    recipe = drawing_recipe()
    for name, _, canvas, rgba in SETS[::9]:
        assert in_the_page(prep_page, rgba, canvas, recipe) == compared[name][2], name


def test_a_wrong_filter_in_the_page_breaks_the_bound(prep_page, compared):
    """The mutation control: the same page code with Pillow's bilinear for LANCZOS must exceed
    2/255 on some sets, so the comparison above can fail."""
    prep_page.evaluate(ADD_BILINEAR)
    wrong = {**drawing_recipe(), "filter": "bilinear"}
    try:
        differences = [difference(in_the_page(prep_page, rgba[..., 3], canvas, wrong), compared[name][1])
                       for name, _, canvas, rgba in SETS]
    finally:
        prep_page.evaluate("() => { delete window.drawing.FILTERS.bilinear; }")
    measured = [d for d in differences if d is not None]
    over = sum(d > BOUND for d in measured)
    print(f"\nbilinear in the page: {over} of {len(measured)} sets over 2/255, max {max(measured):.3g}")
    assert over >= len(measured) // 2


def test_an_unknown_filter_is_refused_by_name(prep_page):
    message = prep_page.evaluate("""(recipe) => {
        try { window.drawing.preprocess(new Uint8Array(4), 2, 2, recipe); return null; }
        catch (err) { return err.message; } }""", {**drawing_recipe(), "filter": "hamming"})
    assert message == "unknown resampling filter hamming"


# -- the pieces alone, against Pillow and NumPy ----------------------------------------------

RESAMPLE = """([image, width, height, outWidth, outHeight]) => Array.from(
    window.drawing.resample(new Float32Array(image), width, height, outWidth, outHeight))"""
CENTRE_OF_MASS = """([patch, width, height]) => window.drawing.centreOfMass(new Float64Array(patch), width, height)"""


def test_the_resampler_is_pillows_to_a_float32_rounding(prep_page):
    # shrinking and enlarging, each side alone and both, sparse and dense
    rng = np.random.default_rng(3)
    worst = 0.0
    for width, height, out_width, out_height in [(200, 37, 20, 4), (5, 90, 1, 20), (13, 13, 20, 20),
                                                 (300, 280, 20, 19), (40, 7, 20, 7), (9, 60, 9, 20)]:
        image = (rng.random((height, width)) * (rng.random((height, width)) < 0.4)).astype("float32")
        pillow = np.asarray(Image.fromarray(image).resize((out_width, out_height), Image.Resampling.LANCZOS))
        page = np.array(prep_page.evaluate(RESAMPLE, [image.ravel().tolist(), width, height, out_width, out_height]))
        worst = max(worst, float(np.abs(page - pillow.ravel()).max()))
    print(f"\nresample: max |page − Pillow| {worst:.3g}")
    assert worst <= 1e-6  # a float32 rounding apart, where V8's Math.sin and the C library's differ


def test_the_centre_of_mass_is_numpys_to_the_bit(prep_page):
    # values across twelve decades, where the order of a float64 sum changes its result
    from vae.data.drawing import centre_of_mass
    rng = np.random.default_rng(4)
    for _ in range(40):
        height, width = rng.integers(1, 21, 2)
        patch = (10.0 ** -rng.uniform(0, 12, (height, width))).astype("float32").astype("float64")
        page = prep_page.evaluate(CENTRE_OF_MASS, [patch.ravel().tolist(), int(width), int(height)])
        assert page == list(centre_of_mass(patch))


def test_drawing_js_joins_a_views_module_without_a_clash_of_names(prep_page):
    assert "drawing.js" in VIEW_JS["draw"]
    source = module_source("draw")
    exported = prep_page.evaluate("""async (source) => {
        const module = await import(URL.createObjectURL(new Blob([source], {type: 'text/javascript'})));
        return typeof module.preprocess; }""", source)
    assert exported == "function"
