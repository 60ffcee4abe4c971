"""The live latent pad in real Chromium: decoding under the pointer, kept points, touch,
keyboard, points from Python, the Interpolate scrubber, the legend, the screen's pixel
ratio, the page's model cache, a tab opened as a fragment reruns, and every tab free of errors.

The helpers (server, selectors, geometry, waits) are in harness/browser.py, shared with
bench/ and docs/.
"""
import json
import urllib.parse

import pytest

from harness.browser import (DIGIT, DIGIT_PIXELS, DRAW_VIEW, OVERLAY, PAD, PAD_ROOT, READOUT,
                             RECORD_POINTER_UPS, SCREENSHOTS, ScriptRuns, count_frames_sent, dataset_of,
                             geometry, kept_points, model_extent, no_exceptions, open_pad, page_xy,
                             pick_model, poll, rapid_clicks, same_points, screenshot, trail, url_point,
                             wait_for_frame, wait_ready, wait_settled)

pytestmark = pytest.mark.browser

LINE = ".st-key-interp_line"
TABS = ["Latent pad", "Draw", "Test-set map", "Manifold", "Interpolate", "Train", "Model"]


# -- tests --------------------------------------------------------------------------

def test_hover_decodes_in_the_page_without_the_server(page, server):
    sent = count_frames_sent(page)
    open_pad(page, server)
    # The first page's last message is the pad's receipt of the model ("have"): count from there.
    frames = wait_for_frame(page, sent, '"have"') + 1
    url = page.url
    box, _ = geometry(page)
    readout0, digit0 = page.locator(READOUT).inner_text(), page.locator(DIGIT).evaluate(DIGIT_PIXELS)
    digits, readouts = {digit0}, {readout0}
    page.mouse.move(*page_xy(box, 0.05, 0.5))
    for fx in [0.2, 0.4, 0.6, 0.8, 0.95]:
        page.mouse.move(*page_xy(box, fx, 0.3 + 0.4 * fx), steps=8)
        digits.add(page.locator(DIGIT).evaluate(DIGIT_PIXELS))
        readouts.add(page.locator(READOUT).inner_text())
    assert "under the pointer" in page.locator(READOUT).inner_text()
    assert len(digits) >= 5, "the digit did not follow the pointer"
    assert len(readouts) >= 5, readouts
    assert page.locator(PAD_ROOT).get_attribute("data-label") in [str(d) for d in range(10)]
    assert len(sent) == frames, f"moving the pointer sent {len(sent) - frames} websocket frames"
    assert page.url == url
    assert trail(page) == []
    # the page measured each hover
    n = page.evaluate("performance.getEntriesByName('vae-pad-hover').length")
    assert n >= 30, n
    # A frame the moves queued would leave before the next one the page sends: a click's.
    page.mouse.click(*page_xy(box, 0.5, 0.5))
    assert wait_for_frame(page, sent, '"commit"', start=frames) == frames, "the moves sent a frame of their own"
    no_exceptions(page)


def test_twenty_quick_clicks_are_all_kept_in_order(server):
    from vae.store.disk import DEFAULT_MODEL

    [result] = rapid_clicks(server, model_extent(DEFAULT_MODEL), pages=1)
    assert len(result["expected"]) == 20, "the clicks did not all reach the pad"
    assert same_points(result["trail"], result["expected"]), \
        f"kept {len(result['trail'])} of 20, in order: {result['in_order']}\n{result['trail']}\n{result['expected']}"
    assert result["last_in_url"], (result["url"], result["trail"][-1])
    assert result["exceptions"] == 0


def test_six_pages_clicking_at_once_lose_nothing(server):
    from vae.store.disk import DEFAULT_MODEL

    results = rapid_clicks(server, model_extent(DEFAULT_MODEL), pages=6)
    summary = [(r["kept"], r["lost"], r["in_order"], r["last_in_url"]) for r in results]
    for r in results:
        assert len(r["expected"]) == 20
        assert same_points(r["trail"], r["expected"]), summary
        assert r["last_in_url"], summary
        assert r["exceptions"] == 0


@pytest.fixture
def touch_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = context.new_page()
    yield page
    context.close()


def touch_drag(page, points, before_end=None):
    """A one-finger drag through page points, by CDP touch events (pointerType "touch")."""
    cdp = page.context.new_cdp_session(page)
    x, y = points[0]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    if before_end is not None:
        before_end()
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_touch_on_a_narrow_screen(touch_page, server):
    page = touch_page
    open_pad(page, server)
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    page.locator(OVERLAY).scroll_into_view_if_needed()
    box, extent = geometry(page)
    assert box["x"] >= 0 and box["x"] + box["width"] <= 391, box
    url = page.url
    page.evaluate(RECORD_POINTER_UPS)
    page.touchscreen.tap(*page_xy(box, 0.3, 0.35))
    poll(page, lambda: page.url != url, message="the tap to reach the URL")
    poll(page, lambda: len(trail(page)) == 1, message="one kept point")
    assert same_points(trail(page), kept_points(page.evaluate("window.__vaeUps"), extent))
    assert same_points([url_point(page.url)], trail(page))
    wait_ready(page)

    box, _ = geometry(page)
    before = page.locator(READOUT).inner_text()
    seen = {}

    def mid_drag():
        seen["readout"] = page.locator(READOUT).inner_text()
        seen["digit"] = page.locator(DIGIT).evaluate(DIGIT_PIXELS)
        page.locator(PAD).screenshot(path=str(SCREENSHOTS / "pad-touch-narrow.png"))

    digit_before = page.locator(DIGIT).evaluate(DIGIT_PIXELS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    touch_drag(page, [page_xy(box, 0.2 + 0.05 * k, 0.8 - 0.05 * k) for k in range(12)], before_end=mid_drag)
    assert "under the pointer" in seen["readout"] and seen["readout"] != before, seen["readout"]
    assert seen["digit"] != digit_before
    poll(page, lambda: len(trail(page)) == 2, message="the drag's release to keep a second point")
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    no_exceptions(page)
    screenshot(page, "pad-touch-narrow-page")


def test_keyboard_moves_and_enter_keeps(page, server):
    open_pad(page, server)
    url = page.url
    before = page.locator(READOUT).inner_text()
    page.locator(OVERLAY).focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    moved = page.locator(READOUT).inner_text()
    assert moved != before and "under the pointer" in moved, (before, moved)
    assert page.url == url
    page.keyboard.press("Shift+ArrowUp")
    page.keyboard.press("Enter")
    poll(page, lambda: page.url != url and url_point(page.url) is not None, message="Enter to reach the URL")
    z = url_point(page.url)
    assert z[0] > 0 and z[1] > 0, z  # right from the origin, then up
    poll(page, lambda: len(trail(page)) == 1, message="one kept point")
    no_exceptions(page)


def test_a_point_from_python_moves_the_pad(page, server):
    open_pad(page, server, "?z=1.0,-1.0")
    readout = page.locator(READOUT).inner_text()
    assert "(1.00, \u22121.00)" in readout, readout
    digit = page.locator(DIGIT).evaluate(DIGIT_PIXELS)
    url = page.url
    page.locator(".st-key-pad_sample").get_by_role("button").click()  # one copy is hidden
    poll(page, lambda: page.url != url, message="the sampled point in the URL")
    z = url_point(page.url)
    # Compared as numbers: the URL, Python and the pad hold the same 3-decimal point.
    poll(page, lambda: json.loads(page.locator(PAD_ROOT).get_attribute("data-point") or "null") == z,
         message=f"the pad to hold the sampled point {z}")
    shown = page.evaluate("z => z.map(v => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2).replace('-', '\u2212'))", z)  # pad.js' own rounding
    assert f"({shown[0]}, {shown[1]})" in page.locator(READOUT).inner_text()
    assert page.locator(DIGIT).evaluate(DIGIT_PIXELS) != digit
    no_exceptions(page)


# One click on the pad's Sample button and one on the Manifold tab, in one task of the page.
SAMPLE_AND_OPEN_MANIFOLD = """() => {
    const visible = (el) => el.offsetParent !== null;
    [...document.querySelectorAll('.st-key-pad_sample button')].find(visible).click();
    [...document.querySelectorAll('[role=tab]')].find((t) => t.innerText.trim() === 'Manifold').click();
}"""


def test_a_tab_opened_as_a_fragment_reruns_is_drawn(page, server):
    # Streamlit's page sends the widget changes of one moment as one rerun request, and when one
    # of them is a fragment's (the pad's Sample button here; by chance, under load, a view's
    # "have" hand-over) that request reruns the fragment alone: the tab clicked in the same
    # moment stayed open and empty. The fragment's run now finds its tab closed and reruns the app.
    open_pad(page, server)
    page.evaluate(SAMPLE_AND_OPEN_MANIFOLD)
    page.locator(".st-key-manifold_chart image").first.wait_for(timeout=60_000)
    assert "view=Manifold" in page.url and url_point(page.url) is not None, page.url  # both clicks took
    no_exceptions(page)


def test_interpolate_scrubs_in_the_page(page, server):
    sent = count_frames_sent(page)
    page.goto(server + "/?view=Interpolate")
    wait_ready(page)
    root = page.locator(f"{LINE} .vae-line[data-ready=true]")
    root.wait_for(timeout=60_000)
    frames = wait_for_frame(page, sent, '"have"') + 1  # the view's receipt of the model: the last message
    t0 = root.get_attribute("data-t")
    digit = page.locator(f"{LINE} canvas.digit")
    before = digit.evaluate(DIGIT_PIXELS)
    assert page.locator(f"{LINE} .strip canvas").count() >= 3
    slider = page.locator(f"{LINE} input[type=range]")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * float(t0), y)  # on the thumb
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.92, y, steps=10)
    t1 = root.get_attribute("data-t")
    assert float(t1) > float(t0) + 0.2, (t0, t1)
    assert digit.evaluate(DIGIT_PIXELS) != before
    assert len(sent) == frames, "scrubbing sent websocket frames before the release"
    page.mouse.up()  # the release tells Python where t ended: the first frame since the receipt
    assert wait_for_frame(page, sent, '"t"', start=frames) == frames, "scrubbing sent a frame of its own"
    wait_ready(page)
    assert root.get_attribute("data-t") == t1
    no_exceptions(page)


def _model_names():
    """One model of each (dataset, architecture): what a tab draws differs by those, not by the
    recipe (elbo-sum and fast repeat reference's and mlp's; every model's networks are held to
    Keras by the parity tests)."""
    from vae.ml.config import recorded_arch, recorded_dataset
    from vae.store.disk import list_model_dirs, read_metadata

    kinds = {}
    for d in list_model_dirs():
        metadata = read_metadata(d)
        kinds.setdefault((recorded_dataset(metadata), recorded_arch(metadata)), d.name)
    return list(kinds.values())


@pytest.mark.parametrize("model", _model_names())
def test_no_exception_on_any_tab(page, server, model):
    runs = ScriptRuns(page)
    for view in TABS:  # a fresh session for each: the model and the tab both come from the URL
        page.goto(f"{server}/?model={model}&view={urllib.parse.quote(view)}")
        view_root = {"Latent pad": PAD_ROOT, "Interpolate": f"{LINE} .vae-line", "Draw": DRAW_VIEW}.get(view)
        if view_root and (view != "Draw" or dataset_of(model).drawable):  # it tells Python it holds the model
            page.locator(f"{view_root}[data-ready=true]").wait_for(timeout=60_000)
        wait_settled(page, runs)  # and every run that asked for
        errors = page.locator("[data-testid=stException]")
        assert errors.count() == 0, (model, view, errors.all_inner_texts())
        if view == "Latent pad":
            page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=60_000)
            assert page.locator(PAD_ROOT).get_attribute("data-model").startswith(model + "@")


def test_a_model_switch_shows_the_new_model_with_an_empty_trail(page, server):
    from vae.store.disk import list_model_dirs

    runs = ScriptRuns(page)
    open_pad(page, server)
    current = page.locator(PAD_ROOT).get_attribute("data-model").split("@")[0]
    other = next((d.name for d in list_model_dirs() if d.name != current), None)
    if other is None:
        pytest.skip("only one model in models/")
    box, _ = geometry(page)
    for fx, fy in [(0.2, 0.2), (0.5, 0.5), (0.7, 0.3)]:
        page.mouse.click(*page_xy(box, fx, fy))
    poll(page, lambda: len(trail(page)) == 3, message="three kept points")
    wait_ready(page)
    digit = page.locator(DIGIT).evaluate(DIGIT_PIXELS)
    pick_model(page, other)
    poll(page, lambda: (page.locator(PAD_ROOT).get_attribute("data-model") or "").startswith(other + "@"),
         timeout=60, message=f"the pad to hold {other}")
    page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for()
    wait_settled(page, runs)
    # the previous model's points are not this model's: the trail starts empty and stays so
    assert trail(page) == [], f"the previous model's kept points came back: {trail(page)}"
    assert page.locator(DIGIT).evaluate(DIGIT_PIXELS) != digit, "the digit is still the previous model's"
    box, extent = geometry(page)
    page.evaluate(RECORD_POINTER_UPS)
    page.mouse.click(*page_xy(box, 0.4, 0.6))
    poll(page, lambda: len(trail(page)) >= 1, message="a point kept under the new model")
    wait_ready(page)
    assert same_points(trail(page), kept_points(page.evaluate("window.__vaeUps"), extent)), trail(page)
    assert f"model={other}" in page.url
    no_exceptions(page)


LEGEND_ITEMS = f"{PAD} .legend-item"
BASE = f"{PAD} canvas:not(.overlay):not(.digit)"


def test_the_legend_goes_with_the_test_set(page, server):
    open_pad(page, server)
    items = page.locator(LEGEND_ITEMS)
    items.nth(3).click()  # hide one class
    assert items.nth(3).get_attribute("aria-pressed") == "false"
    base = page.locator(BASE).evaluate(DIGIT_PIXELS)
    page.locator(".st-key-pad_show_map label").click()  # "Show the test set" off
    # no test set on the plane, so no legend to hide classes of: it may not be clicked
    items.first.wait_for(state="hidden", timeout=30_000)
    assert not any(items.nth(i).is_visible() for i in range(items.count()))
    poll(page, lambda: page.locator(BASE).evaluate(DIGIT_PIXELS) != base, message="the codes to leave the plane")
    page.locator(".st-key-pad_show_map label").click()  # on again: the legend is back, as it was
    items.first.wait_for(state="visible", timeout=30_000)
    assert items.nth(3).get_attribute("aria-pressed") == "false"
    assert items.nth(2).get_attribute("aria-pressed") == "true"
    no_exceptions(page)


def test_only_the_primary_button_keeps_a_point(page, server):
    open_pad(page, server)
    box, extent = geometry(page)
    page.evaluate(RECORD_POINTER_UPS)
    page.mouse.click(*page_xy(box, 0.25, 0.3), button="right")
    page.mouse.click(*page_xy(box, 0.25, 0.3), button="middle")
    page.mouse.click(*page_xy(box, 0.7, 0.6))
    # Commits reach Python in order: had either of the first two kept a point, it would be first.
    poll(page, lambda: len(trail(page)) >= 1, message="the left click's point")
    wait_ready(page)
    left = kept_points(page.evaluate("window.__vaeUps"), extent)[-1]
    assert same_points(trail(page), [left]), trail(page)
    assert same_points([url_point(page.url)], [left])


def test_legend_titles_name_classes_as_the_dataset_writes_them(page, server):
    from vae.data.datasets import get_dataset

    fashion = get_dataset("fashion-mnist")
    open_pad(page, server, "?model=fashion-reference")
    titles = page.locator(LEGEND_ITEMS).evaluate_all("items => items.map(b => b.title)")
    noun = fashion.item_noun
    assert titles == [f"Show or hide the test {noun}s labelled “{name}”" for name in fashion.class_names]


CANVAS_IS_SHARP = """el => el.width === Math.round(el.getBoundingClientRect().width * devicePixelRatio)"""


def test_the_plane_stays_sharp_when_the_pixel_ratio_changes(page, server):
    open_pad(page, server)
    overlay, base = page.locator(OVERLAY), page.locator(BASE)
    size = overlay.bounding_box()["width"]
    assert overlay.evaluate(CANVAS_IS_SHARP)
    cdp = page.context.new_cdp_session(page)
    # A browser zoom or a denser screen: the ratio doubles, the plane keeps its layout size.
    cdp.send("Emulation.setDeviceMetricsOverride", {"width": 1401, "height": 1000, "deviceScaleFactor": 2,
                                                    "mobile": False})
    for canvas in (overlay, base):
        page.wait_for_function(CANVAS_IS_SHARP, arg=canvas.element_handle(), timeout=30_000)
    assert page.evaluate("devicePixelRatio") == 2 and overlay.bounding_box()["width"] == size
    # redrawn, not just resized: the plane and the kept point's marker are there
    assert base.evaluate("c => c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data[3]") == 255
    assert overlay.evaluate("c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v)")
    cdp.send("Emulation.clearDeviceMetricsOverride")
    page.wait_for_function(CANVAS_IS_SHARP, arg=overlay.element_handle(), timeout=30_000)
    assert page.evaluate("devicePixelRatio") == 1
    cdp.detach()


CACHED_MODELS = "() => [...globalThis.__vaeLatentModels.keys()]"


def test_the_page_keeps_only_the_models_it_uses(page, server):
    names = _model_names()
    if len(names) < 3:
        pytest.skip("needs three models in models/")
    open_pad(page, server, f"?model={names[0]}")
    for name in names[1:] + names[:1]:  # every model, then back to the first, which was evicted
        pick_model(page, name)
        poll(page, lambda: (page.locator(PAD_ROOT).get_attribute("data-model") or "").startswith(name + "@"),
             timeout=60, message=f"the pad to hold {name}")
        page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=60_000)
        cached = page.evaluate(CACHED_MODELS)
        # the model on show, and the last one released (a tab switch comes back to it)
        assert len(cached) <= 2 and cached[-1].startswith(name + "@"), cached
    # the first model came back from Python, as the page asked: it decodes
    box, _ = geometry(page)
    before = page.locator(DIGIT).evaluate(DIGIT_PIXELS)
    page.mouse.move(*page_xy(box, 0.3, 0.7), steps=4)
    assert page.locator(DIGIT).evaluate(DIGIT_PIXELS) != before
    no_exceptions(page)
