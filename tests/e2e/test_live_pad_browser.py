"""The live latent pad in real Chromium: decoding under the pointer, kept points, touch,
keyboard, points from Python, the Interpolate scrubber, and every tab free of errors.

The pad is a Streamlit v2 custom component in an open shadow root: Playwright's CSS
locators pierce it; plain `document.querySelector` does not, so page-side code here
goes through a located element (`locator.evaluate`) instead.

Helpers at the top are shared with bench/live_pad.py.
"""
import asyncio
import json
import threading
import time
import urllib.parse

import pytest

from tests.e2e.conftest import (CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, no_exceptions, screenshot,
                                wait_ready)

pytestmark = pytest.mark.browser

PAD = ".st-key-latent_pad"
PAD_ROOT = f"{PAD} .vae-pad"
OVERLAY = f"{PAD} canvas.overlay"
DIGIT = f"{PAD} canvas.digit"
READOUT = f"{PAD} .readout"
LINE = ".st-key-interp_line"
MARGIN = {"left": 44, "right": 8, "top": 8, "bottom": 36}  # the plane's plot area inside the overlay (decoder.js)
TABS = ["Latent pad", "Draw", "Test-set map", "Manifold", "Interpolate", "Train", "Model"]

# Every pointer-up anywhere, with where it landed on the element it hit: a kept point is
# checked against the z of the pixel the browser really reported, not of the pixel asked for.
RECORD_POINTER_UPS = """() => {
    window.__vaeUps = [];
    window.addEventListener('pointerup', (e) => {
        const el = e.composedPath()[0], box = el.getBoundingClientRect();
        window.__vaeUps.push({x: e.clientX - box.left, y: e.clientY - box.top, size: box.width,
                              cls: String(el.className), t: e.timeStamp});
    }, true);
}"""
DIGIT_PIXELS = "c => c.toDataURL()"
# Clicks made in the page itself, exactly `gap` ms apart whatever the machine's load
# (Playwright's own clicks wait for the browser to acknowledge each one).
IN_PAGE_CLICKS = """async (el, {points, gap}) => {
    const box = el.getBoundingClientRect();
    for (const [x, y] of points) {
        const at = {clientX: box.left + x, clientY: box.top + y, bubbles: true, composed: true,
                    pointerType: 'mouse', pointerId: 1, isPrimary: true, button: 0};
        el.dispatchEvent(new PointerEvent('pointerdown', {...at, buttons: 1}));
        el.dispatchEvent(new PointerEvent('pointerup', {...at, buttons: 0}));
        await new Promise((resolve) => setTimeout(resolve, gap));
    }
}"""


# -- shared helpers ---------------------------------------------------------------------

def poll(page, check, timeout=30.0, interval=50, message="condition"):
    """Wait until check() is truthy, letting Playwright pump events in between (no sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        page.wait_for_timeout(interval)


def count_frames_sent(page):
    """A list that grows by one for every websocket frame the page sends to the server.
    Attach before page.goto: only sockets opened after this are seen."""
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(time.monotonic())))
    return sent


def open_pad(page, server, query=""):
    page.goto(f"{server}/{query}")
    wait_ready(page)
    page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=60_000)
    no_exceptions(page)


def geometry(page):
    """The overlay's box on the page and the model's extent, from Python's own explorer."""
    from vae.explorer import open_explorer
    from vae.settings import models_dir

    key = page.locator(PAD_ROOT).get_attribute("data-model")
    box = page.locator(OVERLAY).bounding_box()
    return box, open_explorer(models_dir() / key.split("@")[0]).extent()


def z_at(x, y, size, extent):
    """Overlay pixel (css px from its top left) → z, as the plane maps it (margins, y up)."""
    (x0, x1), (y0, y1) = extent
    plot_w, plot_h = size - MARGIN["left"] - MARGIN["right"], size - MARGIN["top"] - MARGIN["bottom"]
    fx = min(1.0, max(0.0, (x - MARGIN["left"]) / plot_w))
    fy = min(1.0, max(0.0, (y - MARGIN["top"]) / plot_h))
    return [x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)]


def page_xy(box, fx, fy):
    """A fraction of the plot area (0, 0 = top left) → page coordinates."""
    plot_w = box["width"] - MARGIN["left"] - MARGIN["right"]
    plot_h = box["height"] - MARGIN["top"] - MARGIN["bottom"]
    return box["x"] + MARGIN["left"] + fx * plot_w, box["y"] + MARGIN["top"] + fy * plot_h


def click_fractions(n):
    """n distinct spots well inside the plot area, jumping about."""
    return [(0.08 + 0.84 * ((i * 7) % n) / (n - 1), 0.08 + 0.84 * ((i * 13 + 5) % n) / (n - 1)) for i in range(n)]


def kept_points(ups, extent):
    """The points the pad should have kept for the recorded pointer-ups (rounded as pad.js does)."""
    return [[round(v, 3) for v in z_at(u["x"], u["y"], u["size"], extent)] for u in ups if "overlay" in u["cls"].split()]


def same_points(a, b, tol=0.002):
    return len(a) == len(b) and all(abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol for p, q in zip(a, b))


def url_point(url):
    z = urllib.parse.parse_qs(urllib.parse.urlparse(url).query).get("z")
    return [float(v) for v in z[0].split(",")] if z else None


async def _rapid_clicks_async(browser, server, n, gap_ms, extent, in_page=False):
    """One fresh session: n clicks on the pad, gap_ms apart (Playwright's mouse, or events
    dispatched in the page when in_page). Returns what was kept."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        await page.goto(server + "/")
        await page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120_000)
        await page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=120_000)
        await page.evaluate(RECORD_POINTER_UPS)
        box = await page.locator(OVERLAY).bounding_box()
        started = time.monotonic()
        if in_page:
            points = [[x - box["x"], y - box["y"]] for x, y in (page_xy(box, fx, fy) for fx, fy in click_fractions(n))]
            await page.locator(OVERLAY).evaluate(IN_PAGE_CLICKS, {"points": points, "gap": gap_ms})
        else:
            for fx, fy in click_fractions(n):
                await page.mouse.click(*page_xy(box, fx, fy))
                await page.wait_for_timeout(gap_ms)
        clicking_s = time.monotonic() - started
        ups = await page.evaluate("window.__vaeUps")
        expected = kept_points(ups, extent)
        gaps = sorted(b["t"] - a["t"] for a, b in zip(ups, ups[1:]))
        trail = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # Python catches up: every click, or give up after a minute
            trail = json.loads(await page.locator(PAD_ROOT).get_attribute("data-trail") or "[]")
            if len(trail) >= len(expected) and await page.evaluate(
                    "() => new URLSearchParams(location.search).get('z')") is not None:
                break
            await page.wait_for_timeout(100)
        await page.wait_for_timeout(300)  # let the URL settle after the last rerun
        trail = json.loads(await page.locator(PAD_ROOT).get_attribute("data-trail") or "[]")
        return {"clicks": n, "expected": expected, "trail": trail, "url": page.url,
                "clicking_s": round(clicking_s, 2),
                "click_gap_ms": {"median": round(gaps[len(gaps) // 2]), "min": round(gaps[0]), "max": round(gaps[-1])}
                if gaps else None, "exceptions": await page.locator("[data-testid=stException]").count()}
    finally:
        await context.close()


def rapid_clicks(server, extent, pages=1, n=20, gap_ms=150, in_page=False):
    """`pages` browser sessions at once, each clicking n times gap_ms apart, on its own
    Chromium driven by the async API in a thread of its own (the sync API is single-threaded)."""
    from playwright.async_api import async_playwright

    async def main():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return await asyncio.gather(*(_rapid_clicks_async(browser, server, n, gap_ms, extent, in_page)
                                              for _ in range(pages)))
            finally:
                await browser.close()

    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("r", asyncio.run(main())))
    thread.start()
    thread.join()
    if "r" not in out:
        raise RuntimeError("the rapid-click run failed (see the thread's traceback above)")
    for result in out["r"]:
        result["kept"] = sum(1 for p, q in zip(result["expected"], result["trail"])
                             if abs(p[0] - q[0]) <= 0.002 and abs(p[1] - q[1]) <= 0.002)
        result["lost"] = result["clicks"] - len(result["trail"])
        result["in_order"] = same_points(result["expected"], result["trail"])
        last = result["trail"][-1] if result["trail"] else None
        result["last_in_url"] = last is not None and same_points([url_point(result["url"]) or [1e9, 1e9]], [last])
    return out["r"]


# -- tests --------------------------------------------------------------------------

def test_hover_decodes_in_the_page_without_the_server(page, server):
    sent = count_frames_sent(page)
    open_pad(page, server)
    page.wait_for_timeout(500)  # the first page's own messages (e.g. the model data's receipt) are done
    url, frames = page.url, len(sent)
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
    page.wait_for_timeout(300)  # a frame sent late would still be counted
    assert len(sent) == frames, f"moving the pointer sent {len(sent) - frames} websocket frames"
    assert page.url == url
    assert page.locator(PAD_ROOT).get_attribute("data-trail") == "[]"
    # the page measured each hover
    n = page.evaluate("performance.getEntriesByName('vae-pad-hover').length")
    assert n >= 30, n
    no_exceptions(page)


def test_twenty_quick_clicks_are_all_kept_in_order(server):
    from vae.explorer import open_explorer
    from vae.settings import models_dir
    from vae.store import DEFAULT_MODEL

    extent = open_explorer(models_dir() / DEFAULT_MODEL).extent()
    [result] = rapid_clicks(server, extent, pages=1)
    assert len(result["expected"]) == 20, "the clicks did not all reach the pad"
    assert same_points(result["trail"], result["expected"]), \
        f"kept {len(result['trail'])} of 20, in order: {result['in_order']}\n{result['trail']}\n{result['expected']}"
    assert result["last_in_url"], (result["url"], result["trail"][-1])
    assert result["exceptions"] == 0


def test_six_pages_clicking_at_once_lose_nothing(server):
    from vae.explorer import open_explorer
    from vae.settings import models_dir
    from vae.store import DEFAULT_MODEL

    extent = open_explorer(models_dir() / DEFAULT_MODEL).extent()
    results = rapid_clicks(server, extent, pages=6)
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
    poll(page, lambda: len(json.loads(page.locator(PAD_ROOT).get_attribute("data-trail"))) == 1,
         message="one kept point")
    trail = json.loads(page.locator(PAD_ROOT).get_attribute("data-trail"))
    assert same_points(trail, kept_points(page.evaluate("window.__vaeUps"), extent))
    assert same_points([url_point(page.url)], trail)
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
    poll(page, lambda: len(json.loads(page.locator(PAD_ROOT).get_attribute("data-trail"))) == 2,
         message="the drag's release to keep a second point")
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
    poll(page, lambda: len(json.loads(page.locator(PAD_ROOT).get_attribute("data-trail"))) == 1,
         message="one kept point")
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


def test_interpolate_scrubs_in_the_page(page, server):
    sent = count_frames_sent(page)
    page.goto(server + "/?view=Interpolate")
    wait_ready(page)
    root = page.locator(f"{LINE} .vae-line[data-ready=true]")
    root.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    frames, t0 = len(sent), root.get_attribute("data-t")
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
    page.wait_for_timeout(200)
    assert len(sent) == frames, "scrubbing sent websocket frames before the release"
    page.mouse.up()  # the release tells Python where t ended
    poll(page, lambda: len(sent) > frames, message="the released t to reach Python")
    wait_ready(page)
    assert root.get_attribute("data-t") == t1
    no_exceptions(page)


def _model_names():
    from vae.store import list_model_dirs

    return [d.name for d in list_model_dirs()]


@pytest.mark.parametrize("model", _model_names())
def test_no_exception_on_any_tab(page, server, model):
    for view in TABS:  # a fresh session for each: the model and the tab both come from the URL
        page.goto(f"{server}/?model={model}&view={urllib.parse.quote(view)}")
        wait_ready(page)
        page.wait_for_timeout(300)
        wait_ready(page)
        errors = page.locator("[data-testid=stException]")
        assert errors.count() == 0, (model, view, errors.all_inner_texts())
        if view == "Latent pad":
            page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=60_000)
            assert page.locator(PAD_ROOT).get_attribute("data-model").startswith(model + "@")


def _sweep_then_shoot(page, box, name, steps=10):
    page.mouse.move(*page_xy(box, 0.1, 0.2))
    page.mouse.move(*page_xy(box, 0.55, 0.6), steps=steps)  # stop mid-sweep, pointer on the plane
    assert "under the pointer" in page.locator(READOUT).inner_text()
    screenshot(page, name)


def test_screenshots_mid_sweep(page, browser, server):
    open_pad(page, server)
    box, _ = geometry(page)
    _sweep_then_shoot(page, box, "pad-sweep-desktop")

    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    try:
        narrow = context.new_page()
        open_pad(narrow, server)
        narrow.locator(OVERLAY).scroll_into_view_if_needed()
        box, _ = geometry(narrow)
        touch_drag(narrow, [page_xy(box, 0.1 + 0.04 * k, 0.2 + 0.04 * k) for k in range(12)],
                   before_end=lambda: screenshot(narrow, "pad-sweep-narrow"))
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 391
        no_exceptions(narrow)
    finally:
        context.close()


def test_a_model_switch_shows_the_new_model_with_an_empty_trail(page, server):
    from vae.store import list_model_dirs

    open_pad(page, server)
    current = page.locator(PAD_ROOT).get_attribute("data-model").split("@")[0]
    other = next((d.name for d in list_model_dirs() if d.name != current), None)
    if other is None:
        pytest.skip("only one model in models/")
    trail = lambda: json.loads(page.locator(PAD_ROOT).get_attribute("data-trail"))  # noqa: E731
    box, _ = geometry(page)
    for fx, fy in [(0.2, 0.2), (0.5, 0.5), (0.7, 0.3)]:
        page.mouse.click(*page_xy(box, fx, fy))
        page.wait_for_timeout(150)
    poll(page, lambda: len(trail()) == 3, message="three kept points")
    wait_ready(page)
    digit = page.locator(DIGIT).evaluate(DIGIT_PIXELS)
    page.locator(".st-key-model_picker").click()
    page.get_by_role("option").filter(has_text=other).first.click()
    poll(page, lambda: (page.locator(PAD_ROOT).get_attribute("data-model") or "").startswith(other + "@"),
         timeout=60, message=f"the pad to hold {other}")
    page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for()
    wait_ready(page)
    page.wait_for_timeout(300)
    wait_ready(page)
    # the previous model's points are not this model's: the trail starts empty and stays so
    assert trail() == [], f"the previous model's kept points came back: {trail()}"
    assert page.locator(DIGIT).evaluate(DIGIT_PIXELS) != digit, "the digit is still the previous model's"
    box, extent = geometry(page)
    page.evaluate(RECORD_POINTER_UPS)
    page.mouse.click(*page_xy(box, 0.4, 0.6))
    poll(page, lambda: len(trail()) >= 1, message="a point kept under the new model")
    wait_ready(page)
    assert same_points(trail(), kept_points(page.evaluate("window.__vaeUps"), extent)), trail()
    assert f"model={other}" in page.url
    no_exceptions(page)
