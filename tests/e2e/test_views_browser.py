"""The latent views' modules in Chromium, driven the way Streamlit drives them but by the test:
each view's module (exactly what vae.ui.latent_view sends) is imported into a page, its default
export is called with a parentElement in a shadow root, the view's `data`, and a
setStateValue that records what the view tells Python. This reaches states a live server
gives only by chance: a key pressed before the model arrives, a model that does not arrive.

The models are tiny hand-made payloads (a 2 → 2×2 decoder, its 2×2 → 2 encoder, 12 codes).
"""
import numpy as np
import pytest

from vae.ml.export import ENCODER_FORMAT, FORMAT, b64_float32
from vae.ui.latent_view import HERE, module_source

pytestmark = pytest.mark.browser

# Import every view's module; mount(view, data) calls one view's default export on the
# page's element for that view, as Streamlit does on every rerun, and keeps its cleanup.
SETUP = """async ({sources, css}) => {
    window.views = {}; window.states = []; window.cleanups = {};
    for (const [name, source] of Object.entries(sources)) {
        const module = await import(URL.createObjectURL(new Blob([source], {type: 'text/javascript'})));
        const host = document.createElement('div');
        host.className = `host-${name}`;
        host.style.width = '900px';
        document.body.append(host);
        const root = host.attachShadow({mode: 'open'});
        const style = document.createElement('style');
        style.textContent = css;
        root.append(style);
        window.views[name] = {module, root};
    }
    window.mount = (name, data) => {
        const {module, root} = window.views[name];
        window.cleanups[name] = module.default({parentElement: root, data, key: name,
            setStateValue: (key, value) => window.states.push([name, key, value]), setTriggerValue: () => {}});
    };
    window.unmount = (name) => { window.cleanups[name]?.(); delete window.cleanups[name]; };
}"""
HOVERS = "() => performance.getEntriesByName('vae-pad-hover').length"
# Events straight to the pad's overlay: its handlers run whether or not it is on screen.
DISPATCH = """(el, events) => {
    const box = el.getBoundingClientRect();
    for (const [type, init] of events) {
        const Event = type.startsWith('key') ? KeyboardEvent : PointerEvent;
        el.dispatchEvent(new Event(type, {bubbles: true, composed: true, clientX: box.left + 120,
            clientY: box.top + 100, pointerId: 1, pointerType: 'mouse', isPrimary: true, button: 0, ...init}));
    }
}"""
KEYS = [["keydown", {"key": k}] for k in ("ArrowRight", "ArrowUp", "Enter", " ", "Escape")]
POINTER = [["pointermove", {}], ["pointerdown", {"buttons": 1}], ["pointerup", {}]]
OVERLAY = ".host-pad canvas.overlay"
PAD_ROOT = ".host-pad .vae-pad"


def tiny_dense(rng, n, m, activation):
    return {"type": "dense", "input_shape": [n], "output_shape": [m], "activation": activation,
            "kernel": b64_float32(rng.normal(0, 1, (n, m))), "bias": b64_float32(rng.normal(0, 0.1, m))}


def tiny_payload(key, seed=0, activation="sigmoid"):
    """A model's browser data as vae.explorer sends it, for a 2 → 2×2×1 decoder and its encoder."""
    import base64

    rng = np.random.default_rng(seed)
    decoder = {"format": FORMAT, "latent_dim": 2, "output_shape": [2, 2, 1], "layers": [
        tiny_dense(rng, 2, 4, activation), {"type": "reshape", "input_shape": [4], "output_shape": [2, 2, 1]}]}
    codes = b64_float32(rng.normal(0, 1, (12, 2)))
    encoder = {"format": ENCODER_FORMAT, "input_shape": [2, 2, 1], "latent_dim": 2,
               "layers": [{"type": "reshape", "input_shape": [2, 2, 1], "output_shape": [4]}],
               "z_mean": tiny_dense(rng, 4, 2, "linear"), "z_log_var": tiny_dense(rng, 4, 2, "linear")}
    labels = np.arange(12) % 3
    return {"key": key, "decoder": decoder, "encoder": encoder, "codes": codes,
            "labels": base64.b64encode(labels.astype("uint8").tobytes()).decode(),
            "class_names": ["ant", "bee", "cat"], "class_colors": ["#1f77b4", "#ff7f0e", "#2ca02c"],
            "noun": "thing", "extent": [[-3, 3], [-3, 3]], "looks_like_k": 3}


def pad_data(model, payload=None, point=(0.5, -0.5)):
    data = {"model": model, "point": list(point), "point_rev": 1, "point_source": "other", "trail": [],
            "show_codes": True}
    return {**data, "payload": payload} if payload else data


def line_data(model, payload=None):
    data = {"model": model, "a": [-1, -1], "b": [1, 1], "steps": 5, "t": 0.5, "labels": {"a": "A", "b": "B"}}
    return {**data, "payload": payload} if payload else data


@pytest.fixture
def views(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.route("http://views.test/", lambda route: route.fulfill(content_type="text/html",
                                                                 body="<!doctype html><title>views</title>"))
    page.goto("http://views.test/")
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.evaluate(SETUP, {"sources": {view: module_source(view) for view in ("pad", "line", "draw")},
                          "css": (HERE / "latent_view.css").read_text()})
    yield page
    context.close()


def states(page, view="pad"):
    return [[key, value] for name, key, value in page.evaluate("window.states") if name == view]


def test_keys_and_clicks_before_the_model_arrives_do_nothing(views):
    views.evaluate("d => mount('pad', d)", pad_data("tiny@1"))  # a model the page does not hold
    assert states(views) == [["have", None]], "the pad asks Python for the model"
    views.locator(OVERLAY).evaluate(DISPATCH, KEYS + POINTER)
    assert views.errors == []
    assert [key for key, _ in states(views)] == ["have"], "nothing was kept"
    assert views.locator(PAD_ROOT).get_attribute("data-ready") == "false"


def test_after_a_failed_hand_over_the_pad_decodes_nothing_says_so_and_asks_again(views):
    views.evaluate("d => mount('pad', d)", pad_data("first@1", tiny_payload("first@1")))
    assert views.locator(PAD_ROOT).get_attribute("data-ready") == "true"
    views.locator(OVERLAY).evaluate(DISPATCH, [["pointermove", {}]])
    assert views.evaluate(HOVERS) == 1  # the pad decodes under the pointer
    # Python moves to a model it believes the page holds, and the page does not
    views.evaluate("d => mount('pad', d)", pad_data("second@1"))
    assert states(views)[-1] == ["have", None], "the pad asks Python again"
    views.locator(OVERLAY).evaluate(DISPATCH, [["pointermove", {}], *KEYS, *POINTER])
    assert views.evaluate(HOVERS) == 1, "the pad decoded the previous model"
    assert views.locator(PAD_ROOT).get_attribute("data-label") is None
    assert "commit" not in [key for key, _ in states(views)]
    assert not views.locator(OVERLAY).is_visible(), "the previous model's plane is still shown"
    assert views.locator(PAD_ROOT).get_attribute("data-ready") == "false"
    assert views.locator(f"{PAD_ROOT} .status").inner_text() == "Loading the decoder of “second”…"
    # Python sends it: the pad shows the new model and decodes again
    views.evaluate("d => mount('pad', d)", pad_data("second@1", tiny_payload("second@1", seed=1)))
    assert states(views)[-1] == ["have", "second@1"]
    assert views.locator(PAD_ROOT).get_attribute("data-model") == "second@1"
    assert views.locator(f"{PAD_ROOT} .status").inner_text() == ""
    views.locator(OVERLAY).evaluate(DISPATCH, [["pointermove", {}]])
    assert views.evaluate(HOVERS) == 2
    assert views.errors == []


def test_a_decoder_the_runtime_refuses_is_named_and_not_asked_for_again(views):
    views.evaluate("d => mount('pad', d)", pad_data("odd@1", tiny_payload("odd@1", activation="gelu")))
    status = views.locator(f"{PAD_ROOT} .status").inner_text()
    assert status == ("“odd” cannot run in this browser: layer 0 (dense): unsupported "
                      "activation gelu; the browser runtime runs linear, relu, sigmoid")
    assert states(views) == [], "a payload that fails would fail again: Python is not asked to resend it"
    assert views.locator(PAD_ROOT).get_attribute("data-ready") == "false"
    assert views.errors == []


CACHED = "() => [...globalThis.__vaeLatentModels.keys()]"


def test_the_page_keeps_the_models_its_views_show_and_one_more(views):
    mount = "([view, d]) => mount(view, d)"
    views.evaluate(mount, ["pad", pad_data("a@1", tiny_payload("a@1"))])
    views.evaluate(mount, ["line", line_data("b@1", tiny_payload("b@1"))])
    views.evaluate(mount, ["pad", pad_data("c@1", tiny_payload("c@1"))])
    assert views.evaluate(CACHED) == ["a@1", "b@1", "c@1"]  # b and c on show, a the one spare
    views.evaluate(mount, ["pad", pad_data("d@1", tiny_payload("d@1"))])
    assert views.evaluate(CACHED) == ["b@1", "c@1", "d@1"]  # a evicted, c the spare
    views.evaluate("() => unmount('line')")  # a tab switch: the line view goes
    assert views.evaluate(CACHED) == ["c@1", "d@1"]
    views.evaluate(mount, ["draw", {"model": "c@1", "drawn": None}])  # the spare serves a new view
    assert views.locator(".host-draw .vae-draw").get_attribute("data-ready") == "true"
    assert states(views, "draw") == []
    views.evaluate(mount, ["line", line_data("a@1")])  # an evicted model is asked for again
    assert states(views, "line")[-1] == ["have", None]
    assert views.errors == []
