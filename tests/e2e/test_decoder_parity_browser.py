"""The browser decoder (vae/ui/latent_view/runtime.js) against Keras, in real Chromium.

For every model shipped in models/, 64 points on an 8×8 grid across the model's extent
are decoded by the page's JavaScript and by Keras: every pixel must agree within 1e-4,
and the page's "looks like" label must equal Python's. The check must be able to fail,
so two mutated descriptions (a transposed kernel, padding off by one) must break it.

One browser page for all models: runtime.js is loaded once as an ES module, and each
model's payload (what a real page receives) is handed to it through page.evaluate.
"""
import json

import numpy as np
import pytest

from harness.browser import REPO_ROOT
from e2e.mutations import padding_off_by_one, transposed_kernel
from helpers import looks_like
from vae.ml.export import numpy_decode
from vae.store.disk import list_model_dirs

pytestmark = pytest.mark.browser

RUNTIME_JS = REPO_ROOT / "vae" / "ui" / "latent_view" / "runtime.js"
TOLERANCE = 1e-4
GRID = 8
MODEL_DIRS = list_model_dirs(REPO_ROOT / "models")

# The module's exports end up on window.vaeDecoder; a blob URL keeps the file's text as is.
LOAD_MODULE = """async (source) => {
    const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
    window.vaeDecoder = await import(url);
    return Object.keys(window.vaeDecoder).sort();
}"""

# Decode the points with a payload's decoder; the looks-like labels from its codes.
DECODE_ALL = """([payload, points]) => {
    const m = window.vaeDecoder;
    const model = m.modelFromPayload(payload);
    const images = [], labels = [];
    for (const z of points) {
        images.push(Array.from(m.decode(model.decoder, z)));  // decode() reuses its buffer: copy
        labels.push(m.looksLike(model.codes, model.labels, model.classNames.length, z, model.k).label);
    }
    return {images, labels};
}"""


def grid_points(extent, n=GRID):
    """n×n points spread over the extent, inset half a cell from its edges."""
    (x0, x1), (y0, y1) = extent
    fractions = (np.arange(n) + 0.5) / n
    return [[float(x0 + fx * (x1 - x0)), float(y0 + fy * (y1 - y0))] for fy in fractions for fx in fractions]


@pytest.fixture(scope="module")
def decoder_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><title>runtime.js parity</title><body></body>")
    exports = page.evaluate(LOAD_MODULE, RUNTIME_JS.read_text())
    assert {"prepareDecoder", "decode", "looksLike", "modelFromPayload"} <= set(exports)
    yield page
    context.close()


@pytest.fixture(scope="module")
def explorers():
    from vae.explorer import open_explorer

    assert MODEL_DIRS, "no model in models/"
    return {d.name: open_explorer(d) for d in MODEL_DIRS}


def js_decode(page, payload, points):
    result = page.evaluate(DECODE_ALL, [payload, points])
    return np.array(result["images"], dtype="float64"), result["labels"]


def test_every_shipped_model_is_checked(explorers):
    # the models are found, not listed: a model added to models/ is checked too
    assert set(explorers) == {d.name for d in MODEL_DIRS}
    assert {"reference"} <= set(explorers)


@pytest.mark.parametrize("model_name", [d.name for d in MODEL_DIRS])
def test_js_decoder_matches_keras(decoder_page, explorers, model_name):
    explorer = explorers[model_name]
    payload = explorer.browser_payload()
    points = grid_points(explorer.extent())
    images, labels = js_decode(decoder_page, payload, points)
    keras = np.asarray(explorer.decode(np.array(points, "float32")), dtype="float64")
    assert images.shape == (len(points), keras[0].size)
    worst = np.abs(images - keras.reshape(len(points), -1)).max(axis=1)
    bad = [(points[i], float(worst[i])) for i in np.flatnonzero(worst > TOLERANCE)]
    assert not bad, f"{model_name}: {len(bad)} of {len(points)} points differ from Keras by > {TOLERANCE}: {bad[:5]}"
    # the pictures are not trivially equal (e.g. all black): the grid spans several digits
    assert np.ptp(keras.reshape(len(points), -1).mean(axis=1)) > 0.01
    python_labels = [looks_like(explorer, z).label for z in points]
    mismatched = [(points[i], labels[i], python_labels[i]) for i in range(len(points)) if labels[i] != python_labels[i]]
    assert not mismatched, f"{model_name}: looks-like labels differ (z, js, python): {mismatched}"
    assert len(set(python_labels)) >= 3, "the grid should cross several classes"


# The mistakes: in the first transposed (or any, for the padding) convolution, or the last Dense
# layer of a decoder without one
def _transposed_kernel(description):
    return transposed_kernel(description, ("conv2d_transpose",), dense=-1)


def _padding_off_by_one(description):
    return padding_off_by_one(description, ("conv2d", "conv2d_transpose"), dense=-1)


@pytest.mark.parametrize("mutate", [_transposed_kernel, _padding_off_by_one], ids=["transposed-kernel", "padding+1"])
@pytest.mark.parametrize("model_name", [d.name for d in MODEL_DIRS])
def test_a_wrong_decoder_breaks_parity(decoder_page, explorers, model_name, mutate):
    explorer = explorers[model_name]
    payload = explorer.browser_payload()
    mutated = {**payload, "key": payload["key"] + "#" + mutate.__name__,
               "decoder": mutate(payload["decoder"])}
    assert json.dumps(mutated["decoder"]) != json.dumps(payload["decoder"])
    points = grid_points(explorer.extent())
    images, _ = js_decode(decoder_page, mutated, points)
    keras = np.asarray(explorer.decode(np.array(points, "float32")), dtype="float64").reshape(len(points), -1)
    worst = float(np.abs(images - keras).max())
    assert worst > TOLERANCE, f"{mutate.__name__} went unnoticed: max difference {worst}"
    # the NumPy oracle reads the mutated description the same way: the JS is not just broken
    oracle = numpy_decode(mutated["decoder"], np.array(points[:4])).reshape(4, -1)
    assert np.abs(images[:4] - oracle).max() < TOLERANCE
