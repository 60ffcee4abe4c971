"""Watching the VAE think, in Chromium: the Draw view follows the pen with no server run, the
server keeps the page's code when the pen lifts, Interpolate uses it, touch works at 390 px, a
test image picked on the map goes through the same view, and the ELBO terms the page shows are
vae/ml/likelihood.py's."""
import json

import numpy as np
import pytest

from harness.browser import (DRAW_VIEW, MAP_POINT_ON_PAGE, REPO_ROOT, ScriptRuns, no_exceptions, poll,
                             screenshot, wait_ready, wait_settled)

pytestmark = pytest.mark.browser

CANVAS = ".st-key-canvas_0 canvas.upper-canvas"
MAP_VIEW = ".st-key-map_view .vae-draw"


def view_state(view):
    """(updates so far, the pen's state, μ on show or None) of a draw view."""
    z = view.get_attribute("data-z")
    return int(view.get_attribute("data-updates") or 0), view.get_attribute("data-pen-down"), z and json.loads(z)


def open_draw(page, server, width=1400, height=1000):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(server + "/?view=Draw")
    wait_ready(page)
    view = page.locator(f"{DRAW_VIEW}[data-ready=true]")
    view.wait_for(timeout=60_000)
    page.locator(CANVAS).wait_for()
    page.locator(f"{DRAW_VIEW}[data-canvas]").wait_for()  # the view follows the canvas
    return view


def stroke_points(box, n=24):
    """A slanted "7": across the top, then down to the left, in canvas-relative page pixels."""
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    top = [(x + w * (0.25 + 0.5 * k / 8), y + h * 0.2) for k in range(9)]
    down = [(x + w * (0.75 - 0.3 * k / (n - 9)), y + h * (0.2 + 0.65 * k / (n - 9))) for k in range(1, n - 8)]
    return top + down


def test_a_stroke_moves_the_view_while_the_pen_is_down_and_the_server_keeps_its_code(page, server):
    runs = ScriptRuns(page)
    view = open_draw(page, server)
    wait_settled(page, runs)
    points = stroke_points(page.locator(CANVAS).bounding_box())
    sent_before = len(runs.sent)
    page.mouse.move(*points[0])
    page.mouse.down()
    seen = []
    for x, y in points[1:]:
        before = view_state(view)[0]
        page.mouse.move(x, y)
        # each move is answered within a frame or so: wait for it, then read what is on show
        poll(page, lambda: view_state(view)[0] > before, message="the view to follow the pen")
        updates, pen, z = view_state(view)
        if z is not None:
            seen.append((pen, tuple(z)))
    during = len(runs.sent) - sent_before
    page.mouse.up()
    assert during == 0, f"the page sent {during} websocket frames while the pen was down"
    live = [z for pen, z in seen if pen == "true"]
    assert len(set(live)) >= 5, f"the star moved {len(set(live))} times before the pen lifted"
    terms = json.loads(view.locator(".elbo").get_attribute("data-terms"))
    assert terms["reconstruction"] > 0 and terms["kl"] > 0
    assert terms["negElbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])

    # The pen lifted: the canvas sends the drawing once, Python encodes it with Keras and keeps it
    poll(page, lambda: view.get_attribute("data-server-z"), timeout=60, message="the server's code")
    wait_settled(page, runs)
    server_z = json.loads(view.get_attribute("data-server-z"))
    page_z = json.loads(view.get_attribute("data-z"))
    assert np.max(np.abs(np.subtract(server_z, page_z))) < 1e-3, (server_z, page_z)
    assert view.get_attribute("data-pen-down") == "false"
    screenshot(page, "draw-live")
    no_exceptions(page)

    # Interpolate offers the drawing as an endpoint, encoded from the code the server kept
    page.get_by_role("tab", name="Interpolate").click()
    page.locator(".st-key-interp_line .vae-line[data-ready=true]").wait_for(timeout=60_000)
    page.get_by_label("Endpoint A").click()
    page.get_by_role("option", name="Your drawing").click()
    page.get_by_text("From your drawing to").wait_for(timeout=30_000)
    no_exceptions(page)


def test_a_finger_draws_at_390_px(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(server + "/?view=Draw")
        wait_ready(page)
        view = page.locator(f"{DRAW_VIEW}[data-ready=true]")
        view.wait_for(timeout=60_000)
        page.locator(f"{DRAW_VIEW}[data-canvas]").wait_for()
        canvas = page.locator(CANVAS)
        canvas.scroll_into_view_if_needed()
        points = stroke_points(canvas.bounding_box())
        cdp = context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
        moves = set()
        for x, y in points[1:]:
            before = view_state(view)[0]
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
            poll(page, lambda: view_state(view)[0] > before, message="the view to follow the finger")
            updates, pen, z = view_state(view)
            if pen == "true" and z:
                moves.add(tuple(z))
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert len(moves) >= 5, f"the star moved {len(moves)} times under the finger"
        poll(page, lambda: view.get_attribute("data-server-z"), timeout=60, message="the server's code")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the Draw tab scrolls sideways at 390 px ({width} px wide)"
        screenshot(page, "draw-touch-390")
        no_exceptions(page)
    finally:
        context.close()


def test_a_test_image_picked_on_the_map_goes_through_the_same_view(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(server + "/?view=Test-set map")
    wait_ready(page)
    page.wait_for_selector(".st-key-map_chart .js-plotly-plot")
    target = page.evaluate(MAP_POINT_ON_PAGE, 0)
    page.mouse.click(target["x"], target["y"])
    view = page.locator(f"{MAP_VIEW}[data-z]")
    view.wait_for(timeout=60_000)
    elbo = view.locator(".elbo")
    first = json.loads(elbo.get_attribute("data-terms"))
    view.get_by_role("button", name="Draw new ε").click()
    poll(page, lambda: json.loads(elbo.get_attribute("data-terms"))["eps"] != first["eps"], message="a new ε")
    second = json.loads(elbo.get_attribute("data-terms"))
    # a new ε moves z and the reconstruction term; the KL of q(z|x) to the prior stays
    assert second["z"] != first["z"] and second["kl"] == pytest.approx(first["kl"], abs=1e-9)
    assert view.locator(".samples canvas").count() == 8
    screenshot(page, "map-elbo")
    no_exceptions(page)


# -- the terms, against vae/ml/likelihood.py ---------------------------------------------------

LOAD = """async (source) => {
    window.vae = await import(URL.createObjectURL(new Blob([source], {type: 'text/javascript'})));
}"""
PAGE_TERMS = """([payload, images, eps]) => {
    const model = window.vae.modelFromPayload(payload);
    return images.map((x, i) => {
        const pixels = Float64Array.from(x);
        const q = window.vae.encode(model.encoder, pixels);
        const t = window.vae.elboTerms(model.decoder, pixels, q.mean, q.logVar, eps[i]);
        return [t.reconstruction, t.kl];
    });
}"""


@pytest.fixture(scope="module")
def terms_page(browser):
    from vae.ui.latent_view import module_source
    context = browser.new_context()
    page = context.new_page()
    page.route("http://terms.test/", lambda route: route.fulfill(content_type="text/html", body="<!doctype html><title>terms</title>"))
    page.goto("http://terms.test/")
    source = module_source("draw").replace("export default", "const __view =")  # no DOM view mounted here
    page.evaluate(LOAD, source)
    yield page
    context.close()


@pytest.mark.parametrize("model_name", ["reference", "mlp"])
def test_the_pages_elbo_terms_are_likelihood_pys_on_100_test_images(terms_page, model_name):
    from vae.data.arrays import to_model_input
    from vae.explorer import open_explorer
    from vae.ml.likelihood import bce_per_image, kl_per_image
    from vae.store.versions import open_dir

    explorer = open_explorer(open_dir(REPO_ROOT / "models" / model_name))
    images = to_model_input(explorer.x_test[:100])
    eps = np.random.default_rng(7).standard_normal((100, 2))
    model = explorer.model
    mean, log_var = (np.asarray(a, dtype="float64") for a in model.encoder.predict(images, verbose=0)[:2])
    z = mean + np.exp(0.5 * log_var) * eps
    decoded = np.asarray(model.decoder.predict(z.astype("float32"), verbose=0), dtype="float64")
    python = np.stack([bce_per_image(images[..., 0].astype("float64"), decoded[..., 0]),
                       kl_per_image(mean, log_var)], axis=1)
    page = np.array(terms_page.evaluate(PAGE_TERMS, [explorer.browser_payload(),
                                                    images.reshape(100, -1).tolist(), eps.tolist()]))
    worst = np.max(np.abs(page - python), axis=0)
    assert worst[0] < 0.01 and worst[1] < 0.01, f"reconstruction off by {worst[0]:.4f}, KL by {worst[1]:.4f} nats"


PAGE_CODES = """([payload, sets, recipe]) => {
    const model = window.vae.modelFromPayload(payload);
    return sets.map(([alpha, side]) => {
        const bytes = Uint8Array.from(atob(alpha), (c) => c.charCodeAt(0));
        const prepared = window.vae.preprocess(bytes, side, side, recipe);
        return prepared.blank ? null : Array.from(window.vae.encode(model.encoder, prepared.pixels).mean);
    });
}"""


def test_the_pages_code_of_a_drawing_is_pythons_on_every_stroke_set(terms_page):
    """The recipe and the encoder together: for every drawn stroke set (88, at 280 and 560 px),
    the z the page computes from its own input is within 1e-3 of the z Keras computes from
    Python's input."""
    import base64

    from e2e.test_drawing_prep_browser import SETS  # the module as pytest imports it (tests/ is on the path)
    from vae.data.drawing import drawing_recipe, preprocess_drawing
    from vae.explorer import open_explorer
    from vae.store.versions import open_dir

    explorer = open_explorer(open_dir(REPO_ROOT / "models" / "reference"))
    sets = [(base64.b64encode(rgba[..., 3].tobytes()).decode(), canvas) for _, _, canvas, rgba in SETS]
    page = terms_page.evaluate(PAGE_CODES, [explorer.browser_payload(), sets, drawing_recipe()])
    drawn = [(name, preprocess_drawing(rgba).image, z) for (name, _, _, rgba), z in zip(SETS, page)]
    assert all((image is None) == (z is None) for _, image, z in drawn), "blank verdicts differ"
    drawn = [(name, image, z) for name, image, z in drawn if image is not None]
    assert len(drawn) >= 50
    keras = explorer.model.encoder.predict(np.stack([image for _, image, _ in drawn])[..., None], verbose=0)[0]
    worst = np.max(np.abs(np.array([z for _, _, z in drawn]) - keras), axis=1)
    assert worst.max() < 1e-3, {name: float(w) for (name, _, _), w in zip(drawn, worst) if w >= 1e-3}
