"""The browser encoder (vae/ui/latent_view/runtime.js) against Keras, in real Chromium.

For every model shipped in models/, the first 100 test images of its dataset are encoded by the
page's JavaScript, from the payload a real page receives (modelFromPayload → model.encoder), and
by Keras: z_mean and z_log_var must agree within 1e-4. The check must be able to fail, so two
mutated descriptions (a transposed kernel, padding off by one) must break it, while the NumPy
oracle, reading the same mutated description, still agrees with the page.

The decoder's parity is tests/e2e/test_decoder_parity_browser.py; this file follows it.
"""
import json

import numpy as np
import pytest

from harness.browser import REPO_ROOT
from e2e.mutations import padding_off_by_one, transposed_kernel
from vae.data.arrays import to_model_input
from vae.ml.export import b64_float32, numpy_encode
from vae.store.disk import list_model_dirs

pytestmark = pytest.mark.browser

RUNTIME_JS = REPO_ROOT / "vae" / "ui" / "latent_view" / "runtime.js"
TOLERANCE = 1e-4
N_IMAGES = 100
MODEL_DIRS = list_model_dirs(REPO_ROOT / "models")

LOAD_MODULE = """async (source) => {
    const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
    window.vaeRuntime = await import(url);
    return Object.keys(window.vaeRuntime).sort();
}"""

# Encode every image of a float32 batch (base64, row-major) with a payload's encoder.
ENCODE_ALL = """([payload, images, count]) => {
    const m = window.vaeRuntime;
    const encoder = m.modelFromPayload(payload).encoder;
    const pixels = m.base64ToFloat32(images), size = pixels.length / count;
    const means = [], logVars = [];
    for (let i = 0; i < count; i++) {
        const {mean, logVar} = m.encode(encoder, pixels.subarray(i * size, (i + 1) * size));
        means.push(Array.from(mean));  // encode() reuses its buffers: copy
        logVars.push(Array.from(logVar));
    }
    return {means, logVars};
}"""


@pytest.fixture(scope="module")
def encoder_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><title>runtime.js encoder parity</title><body></body>")
    exports = page.evaluate(LOAD_MODULE, RUNTIME_JS.read_text())
    assert {"prepareEncoder", "encode", "modelFromPayload"} <= set(exports)
    yield page
    context.close()


@pytest.fixture(scope="module")
def explorers():
    from vae.explorer import open_explorer

    assert MODEL_DIRS, "no model in models/"
    return {d.name: open_explorer(d) for d in MODEL_DIRS}


def first_test_images(explorer):
    """The dataset's first N_IMAGES test images as the model takes them: float32 (n, h, w, 1)."""
    return to_model_input(explorer.x_test[:N_IMAGES])


def js_encode(page, payload, images):
    result = page.evaluate(ENCODE_ALL, [payload, b64_float32(images), len(images)])
    return np.array(result["means"], "float64"), np.array(result["logVars"], "float64")


def worst_difference(a, b):
    return max(float(np.abs(np.asarray(x, "float64") - y).max()) for x, y in zip(a, b))


@pytest.mark.parametrize("model_name", [d.name for d in MODEL_DIRS])
def test_js_encoder_matches_keras(encoder_page, explorers, model_name):
    explorer = explorers[model_name]
    images = first_test_images(explorer)
    mean, log_var = js_encode(encoder_page, explorer.browser_payload(), images)
    keras_mean, keras_log_var = explorer.model.encode(images)
    assert mean.shape == log_var.shape == keras_mean.shape == (N_IMAGES, explorer.latent_dim)
    worst = np.maximum(np.abs(mean - keras_mean), np.abs(log_var - keras_log_var)).max(axis=1)
    bad = [(i, float(worst[i])) for i in np.flatnonzero(worst > TOLERANCE)]
    assert not bad, f"{model_name}: {len(bad)} of {N_IMAGES} images differ from Keras by > {TOLERANCE}: {bad[:5]}"
    # the codes are not trivially equal: 100 images spread over the plane, the two heads differ
    assert np.ptp(keras_mean, axis=0).min() > 1.0
    assert np.abs(keras_mean - keras_log_var).max() > 1.0


# The mistakes: in the first Conv2D, or the first Dense layer of an encoder without one
def _transposed_kernel(description):
    return transposed_kernel(description, ("conv2d",), dense=0)


def _padding_off_by_one(description):
    return padding_off_by_one(description, ("conv2d",), dense=0)


@pytest.mark.parametrize("mutate", [_transposed_kernel, _padding_off_by_one], ids=["transposed-kernel", "padding+1"])
@pytest.mark.parametrize("model_name", [d.name for d in MODEL_DIRS])
def test_a_wrong_encoder_breaks_parity(encoder_page, explorers, model_name, mutate):
    explorer = explorers[model_name]
    payload = explorer.browser_payload()
    mutated = {**payload, "key": payload["key"] + "#" + mutate.__name__, "encoder": mutate(payload["encoder"])}
    assert json.dumps(mutated["encoder"]) != json.dumps(payload["encoder"])
    images = first_test_images(explorer)
    js = js_encode(encoder_page, mutated, images)
    worst = worst_difference(js, explorer.model.encode(images))
    assert worst > TOLERANCE, f"{mutate.__name__} went unnoticed: max difference {worst}"
    # the NumPy oracle reads the mutated description the same way: the JS is not just broken
    assert worst_difference(js, numpy_encode(mutated["encoder"], images)) < TOLERANCE
