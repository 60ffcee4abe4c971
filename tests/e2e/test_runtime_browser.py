"""Unit tests of the browser runtime (vae/ui/latent_view/runtime.js) in Chromium: alone, with no
DOM (in a worker), against vae/ml/export.py's NumPy oracle, and refusing what it cannot run.

Why Chromium rather than a node test runner: the runtime runs in Chromium in the app, the
suite already drives Chromium, and the README's one test command stays `pytest` with nothing
more to install. The whole-model parity with Keras is tests/e2e/test_decoder_parity_browser.py.
"""
import copy

import numpy as np
import pytest

from harness.browser import REPO_ROOT
from vae.ml.export import ENCODER_FORMAT, FORMAT, b64_float32, numpy_decode, numpy_encode

pytestmark = pytest.mark.browser

RUNTIME_JS = REPO_ROOT / "vae" / "ui" / "latent_view" / "runtime.js"

# The runtime as an ES module worker, which has no document: it must run there. `handler` is
# the source of a function of the message, run in the worker with the runtime's functions.
IN_A_WORKER = """async ([source, handler, message]) => {
    const body = source + `
        const handle = ${handler};
        onmessage = ({data}) => {
            try {
                postMessage({result: handle(data), hasDocument: typeof document !== 'undefined'});
            } catch (err) { postMessage({error: String(err)}); }
        };`;
    const worker = new Worker(URL.createObjectURL(new Blob([body], {type: 'text/javascript'})), {type: 'module'});
    return await new Promise((resolve) => {
        worker.onmessage = ({data}) => { worker.terminate(); resolve(data); };
        worker.onerror = (e) => { worker.terminate(); resolve({error: e.message || 'the worker failed to load'}); };
        worker.postMessage(message);
    });
}"""
DECODE_ALL = """([description, points]) => {
    const decoder = prepareDecoder(description);
    return points.map((z) => Array.from(decode(decoder, z)));
}"""
ENCODE_ALL = """([description, images]) => {
    const encoder = prepareEncoder(description);
    return images.map((pixels) => {
        const {mean, logVar} = encode(encoder, pixels);
        return [Array.from(mean), Array.from(logVar)];  // encode() reuses its buffers: copy
    });
}"""
LOAD = """async (source) => {
    window.runtime = await import(URL.createObjectURL(new Blob([source], {type: 'text/javascript'})));
}"""
PREPARE = """(description) => { try { window.runtime.prepareDecoder(description); return null; }
                               catch (err) { return err.message; } }"""


@pytest.fixture(scope="module")
def runtime_page(browser):
    context = browser.new_context()
    page = context.new_page()
    # a page of its own origin (about:blank's opaque origin may not start workers)
    page.route("http://runtime.test/", lambda route: route.fulfill(
        content_type="text/html", body="<!doctype html><title>runtime.js</title>"))
    page.goto("http://runtime.test/")
    page.evaluate(LOAD, RUNTIME_JS.read_text())
    yield page
    context.close()


def conv(kind, in_shape, out_shape, kernel, stride, pad, activation, rng):
    cin, cout = in_shape[2], out_shape[2]
    shape = (kernel, kernel, cin, cout) if kind == "conv2d" else (kernel, kernel, cout, cin)
    return {"type": kind, "kernel_size": [kernel, kernel], "strides": [stride, stride], "pad": [pad, pad],
            "input_shape": list(in_shape), "output_shape": list(out_shape), "activation": activation,
            "kernel": b64_float32(rng.normal(0, 0.4, shape)), "bias": b64_float32(rng.normal(0, 0.1, cout))}


def small_decoder(seed=0):
    """Every layer type, strides 1 and 2, padded and not, each activation, and channel counts
    that fill the convolutions' blocks of 4 and 8 and leave some over: 2 → 3×3×1."""
    rng = np.random.default_rng(seed)
    layers = [
        {"type": "dense", "input_shape": [2], "output_shape": [48], "activation": "relu",
         "kernel": b64_float32(rng.normal(0, 0.8, (2, 48))), "bias": b64_float32(rng.normal(0, 0.1, 48))},
        {"type": "reshape", "input_shape": [48], "output_shape": [4, 4, 3]},
        conv("conv2d_transpose", (4, 4, 3), (7, 7, 5), 3, 2, 1, "relu", rng),
        conv("conv2d", (7, 7, 5), (7, 7, 9), 3, 1, 1, "linear", rng),
        conv("conv2d_transpose", (7, 7, 9), (9, 9, 4), 3, 1, 0, "relu", rng),
        conv("conv2d", (9, 9, 4), (3, 3, 1), 5, 2, 0, "sigmoid", rng),
    ]
    return {"format": FORMAT, "latent_dim": 2, "output_shape": [3, 3, 1], "layers": layers}


POINTS = [[0.0, 0.0], [1.5, -0.7], [-2.0, 2.5], [0.3, 0.9]]


def test_the_runtime_runs_alone_without_a_dom_and_agrees_with_numpy(runtime_page):
    description = small_decoder()
    result = runtime_page.evaluate(IN_A_WORKER, [RUNTIME_JS.read_text(), DECODE_ALL, [description, POINTS]])
    assert "error" not in result, result
    assert result["hasDocument"] is False
    images = np.array(result["result"])
    oracle = numpy_decode(description, np.array(POINTS)).reshape(len(POINTS), -1)
    assert np.abs(images - oracle).max() < 1e-5
    assert np.ptp(oracle) > 0.1  # the check can fail: the outputs differ from point to point


@pytest.mark.parametrize("activation", ["gelu", "softmax", None])
def test_an_unknown_activation_is_refused_by_name(runtime_page, activation):
    description = small_decoder()
    if activation is None:
        del description["layers"][3]["activation"]
    else:
        description["layers"][3]["activation"] = activation
    message = runtime_page.evaluate(PREPARE, description)
    assert message is not None, f"activation {activation!r} was run as linear"
    assert f"layer 3 (conv2d): unsupported activation {activation if activation else 'undefined'}" in message


def test_an_unknown_layer_is_refused_by_name_before_decoding(runtime_page):
    description = small_decoder()
    description["layers"].insert(3, {"type": "batch_normalization", "input_shape": [7, 7, 5],
                                      "output_shape": [7, 7, 5]})
    assert runtime_page.evaluate(PREPARE, description) == "layer 3: unsupported layer type batch_normalization"


def test_an_unknown_format_is_refused(runtime_page):
    description = {**copy.deepcopy(small_decoder()), "format": "vae-decoder/2"}
    assert runtime_page.evaluate(PREPARE, description) == "unknown decoder format vae-decoder/2"


def small_encoder(seed=0):
    """An odd-sized two-channel image through Conv2D at strides 2 ('same') and 1 ('valid', a 2×2
    kernel), a flatten and a Dense layer, then the heads: 9×7×2 → 2."""
    rng = np.random.default_rng(seed)

    def dense(n, m, activation, scale=0.5):
        return {"type": "dense", "input_shape": [n], "output_shape": [m], "activation": activation,
                "kernel": b64_float32(rng.normal(0, scale, (n, m))), "bias": b64_float32(rng.normal(0, 0.1, m))}

    layers = [
        conv("conv2d", (9, 7, 2), (5, 4, 9), 3, 2, 1, "relu", rng),
        conv("conv2d", (5, 4, 9), (4, 3, 3), 2, 1, 0, "relu", rng),
        {"type": "reshape", "input_shape": [4, 3, 3], "output_shape": [36]},
        dense(36, 8, "relu"),
    ]
    return {"format": ENCODER_FORMAT, "input_shape": [9, 7, 2], "latent_dim": 2, "layers": layers,
            "z_mean": dense(8, 2, "linear"), "z_log_var": dense(8, 2, "linear")}


IMAGES = np.random.default_rng(5).uniform(size=(4, 9 * 7 * 2)).round(3).tolist()
PREPARE_ENCODER = """(description) => { try { window.runtime.prepareEncoder(description); return null; }
                                      catch (err) { return err.message; } }"""


def test_the_encoder_runs_alone_without_a_dom_and_agrees_with_numpy(runtime_page):
    description = small_encoder()
    result = runtime_page.evaluate(IN_A_WORKER, [RUNTIME_JS.read_text(), ENCODE_ALL, [description, IMAGES]])
    assert "error" not in result, result
    assert result["hasDocument"] is False
    mean, log_var = np.array(result["result"]).transpose(1, 0, 2)
    oracle_mean, oracle_log_var = numpy_encode(description, np.array(IMAGES))
    assert max(np.abs(mean - oracle_mean).max(), np.abs(log_var - oracle_log_var).max()) < 1e-5
    assert np.ptp(oracle_mean, axis=0).min() > 0.1  # the check can fail: the codes differ from image to image
    assert np.abs(oracle_mean - oracle_log_var).max() > 0.1  # and the two heads differ


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="vae-decoder/1"), "unknown encoder format vae-decoder/1"),
    (lambda d: d.pop("z_log_var"), "encoder z_log_var: the head must be a dense layer"),
    (lambda d: d.update(z_mean=d["layers"][0]), "encoder z_mean: the head must be a dense layer"),
    (lambda d: d["z_mean"].update(activation="tanh"), "encoder z_mean (dense): unsupported activation tanh"),
    (lambda d: d["layers"][1].update(activation="gelu"), "encoder layer 1 (conv2d): unsupported activation gelu"),
    (lambda d: d["layers"].insert(2, {"type": "max_pooling2d"}),
     "encoder layer 2: unsupported layer type max_pooling2d"),
], ids=["format", "no-head", "conv-head", "head-activation", "activation", "layer-type"])
def test_an_encoder_the_runtime_cannot_run_is_refused_by_name(runtime_page, mutate, message):
    description = small_encoder()
    mutate(description)
    refused = runtime_page.evaluate(PREPARE_ENCODER, description)
    assert refused is not None and refused.startswith(message), refused


def test_an_image_of_the_wrong_size_is_refused(runtime_page):
    refused = runtime_page.evaluate("""(description) => {
        const encoder = window.runtime.prepareEncoder(description);
        try { window.runtime.encode(encoder, new Float32Array(28 * 28)); return null; }
        catch (err) { return err.message; } }""", small_encoder())
    assert refused == "encode: 784 values for an input of 9×7×2"


LOOKS_LIKE = """([codes, labels, z, k]) =>
    window.runtime.looksLike(new Float32Array(codes), new Uint8Array(labels), 3, z, k)"""


def test_looks_like_votes_the_k_nearest_and_breaks_ties_to_the_nearer(runtime_page):
    codes = [0, 0, 1, 0, 2, 0, 3, 0, 10, 10]  # five codes along x, one far away
    labels = [0, 1, 1, 2, 2]
    # the 3 nearest to (0.9, 0): labels 1, 0, 1 → 1, two of three
    assert runtime_page.evaluate(LOOKS_LIKE, [codes, labels, [0.9, 0], 3]) == {"label": 1, "share": 2 / 3, "k": 3}
    # the 2 nearest to (0.2, 0): labels 0 and 1 tie; the nearer (label 0) wins
    assert runtime_page.evaluate(LOOKS_LIKE, [codes, labels, [0.2, 0], 2])["label"] == 0
    # k larger than the codes: all of them vote
    assert runtime_page.evaluate(LOOKS_LIKE, [codes, labels, [0, 0], 9])["k"] == 5
