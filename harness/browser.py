"""Browser helpers shared by the e2e tests, bench/ and docs/: Debian's Chromium, the page's
selectors, waits on the page's own events, and the latent pad's geometry. The server they talk
to is started by harness.server.

The fixtures live in tests/e2e/conftest.py, built on these. The pad is a Streamlit v2 custom component in an open shadow root: Playwright's CSS
locators pierce it; plain `document.querySelector` does not, so page-side code goes through
a located element (`locator.evaluate`) instead.
"""
import asyncio
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO_ROOT / "tests" / "screenshots"
CHROMIUM = os.environ.get("VAE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
READY = "[data-testid=stApp][data-test-script-state=notRunning]"

PAD = ".st-key-latent_pad"
PAD_ROOT = f"{PAD} .vae-pad"
OVERLAY = f"{PAD} canvas.overlay"
DIGIT = f"{PAD} canvas.digit"
READOUT = f"{PAD} .readout"
LINE = ".st-key-interp_line"
DRAW_VIEW = ".st-key-draw_view .vae-draw"
MARGIN = {"left": 44, "right": 8, "top": 8, "bottom": 36}  # the plane's plot area inside the overlay (plane.js)

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
# The pad's trail holds n points and the URL the last of them: Python has caught up.
CAUGHT_UP = """([root, n, last]) => {
    const kept = JSON.parse(root.dataset.trail || '[]');
    const z = new URLSearchParams(location.search).get('z');
    if (kept.length < n || z === null) return false;
    const [x, y] = z.split(',').map(Number);
    return !last || (Math.abs(x - last[0]) <= 0.002 && Math.abs(y - last[1]) <= 0.002);
}"""
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


# -- the page -------------------------------------------------------------------------------

def wait_ready(page, timeout=90_000):
    """Wait as Streamlit's own e2e suite does: script not running, no skeletons left."""
    page.wait_for_selector(READY, timeout=timeout)
    page.wait_for_function("document.querySelectorAll('[data-testid=stSkeleton]').length === 0",
                           timeout=timeout)
    page.wait_for_selector(READY, timeout=timeout)


# Where plotly drew test image i on the Test-set map, in page pixels, and its trace's label
MAP_POINT_ON_PAGE = """i => {
    const gd = document.querySelector('.st-key-map_chart .js-plotly-plot');
    const trace = gd._fullData.find(t => Array.from(t.customdata || []).includes(i));
    const j = Array.from(trace.customdata).indexOf(i);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.d2p(trace.x[j]), y: box.top + ya._offset + ya.d2p(trace.y[j]),
            label: trace.name};
}"""


def set_quick_run(page, images=400):
    """On the Train tab: a quick run of the page's default recipe, on `images` images, 1 epoch."""
    page.locator(".st-key-train_limit input").fill(str(images))
    page.keyboard.press("Enter")
    wait_ready(page)
    page.locator(".st-key-train_epochs-fast input[type=range]").focus()
    page.keyboard.press("Home")  # 1 epoch
    wait_ready(page)


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_exceptions(page):
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.all_inner_texts()


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


class ScriptRuns:
    """The page's script runs, read from its websocket in Streamlit's own protobuf messages: each
    rerun it asks for, and each run the server starts and finishes. `sent` and `received` hold
    the payloads (bytes) of the frames the page sent and received. Create it before page.goto: only sockets opened
    afterwards are seen."""

    def __init__(self, page):
        self.sent, self.events, self.received = [], [], []
        page.on("websocket", lambda ws: (ws.on("framesent", self._sent), ws.on("framereceived", self._received)))

    def _sent(self, payload):
        from streamlit.proto.BackMsg_pb2 import BackMsg

        payload = payload if isinstance(payload, bytes) else payload.encode()
        self.sent.append(payload)
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "rerun_script":
            self.events.append("asked")

    def _received(self, payload):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        payload = payload if isinstance(payload, bytes) else payload.encode()
        self.received.append(payload)
        message = ForwardMsg()
        message.ParseFromString(payload)
        kind = message.WhichOneof("type")
        if kind == "new_session":  # sent as every run, whole or fragment, starts
            self.events.append("started")
        elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self.events.append("finished")

    def settled(self):
        """A run has started since the last rerun the page asked for, and no run is going on."""
        asked = max((i for i, e in enumerate(self.events) if e == "asked"), default=-1)
        since = self.events[asked + 1:]
        return "started" in since and since[-1] == "finished"


def count_frames_sent(page):
    """A list that grows by the payload (bytes) of every websocket frame the page sends to the
    server. Attach before page.goto: only sockets opened after this are seen."""
    return ScriptRuns(page).sent


def wait_for_frame(page, sent, text, start=0, timeout=30.0):
    """The index in `sent` of the first frame from `start` on that carries `text` (a component's
    state travels as JSON inside the frame), once the page has sent it."""
    needle = text.encode()
    return poll(page, lambda: next((i + 1 for i in range(start, len(sent)) if needle in sent[i]), None),
                timeout=timeout, message=f"a websocket frame with {text!r}") - 1


def wait_settled(page, runs, timeout=90.0):
    """Wait until every script run the page asked for has finished, and the page is ready."""
    poll(page, runs.settled, timeout=timeout, message="the script runs the page asked for")
    wait_ready(page, timeout * 1000)


def pick_model(page, name):
    """Choose a model in the sidebar's picker, as a user does; returns once the URL names it."""
    page.get_by_role("combobox", name="Active model").click()
    page.get_by_role("option").filter(has_text=re.compile(rf"^{re.escape(name)} ")).first.click()
    page.wait_for_function("n => new URL(location.href).searchParams.get('model') === n", arg=name)
    wait_ready(page)


# -- the latent pad -------------------------------------------------------------------------

def open_pad(page, server, query=""):
    page.goto(f"{server}/{query}")
    wait_ready(page)
    page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=60_000)
    no_exceptions(page)


def model_extent(name):
    """A shipped model's plane extent, from Python's own explorer."""
    from vae.explorer import open_explorer
    from vae.settings import models_dir

    return open_explorer(models_dir() / name).extent()


def dataset_of(model_name):
    """The DatasetSpec a shipped model was trained on."""
    from vae.store.versions import open_dir
    return open_dir(model_name).dataset


def geometry(page):
    """The overlay's box on the page and the model's extent."""
    key = page.locator(PAD_ROOT).get_attribute("data-model")
    return page.locator(OVERLAY).bounding_box(), model_extent(key.split("@")[0])


def z_at(x, y, size, extent):
    """Overlay pixel (css px from its top left) → z, as the plane maps it (margins, y up)."""
    (x0, x1), (y0, y1) = extent
    plot_w, plot_h = size - MARGIN["left"] - MARGIN["right"], size - MARGIN["top"] - MARGIN["bottom"]
    fx = min(1.0, max(0.0, (x - MARGIN["left"]) / plot_w))
    fy = min(1.0, max(0.0, (y - MARGIN["top"]) / plot_h))
    return [x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)]


def px_of(z, size, extent):
    """z → overlay pixel (css px from its top left): z_at's inverse."""
    (x0, x1), (y0, y1) = extent
    plot_w, plot_h = size - MARGIN["left"] - MARGIN["right"], size - MARGIN["top"] - MARGIN["bottom"]
    return MARGIN["left"] + (z[0] - x0) / (x1 - x0) * plot_w, MARGIN["top"] + (y1 - z[1]) / (y1 - y0) * plot_h


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


def trail(page):
    return json.loads(page.locator(PAD_ROOT).get_attribute("data-trail") or "[]")


async def _rapid_clicks_async(browser, server, n, gap_ms, extent, in_page=False):
    """One fresh session: n clicks on the pad, gap_ms apart (Playwright's mouse, or events
    dispatched in the page when in_page). Returns what was kept."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        await page.goto(server + "/")
        await page.wait_for_selector(READY, timeout=120_000)
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
                await page.wait_for_timeout(gap_ms)  # the pace of the clicks is what is tested
        clicking_s = time.monotonic() - started
        ups = await page.evaluate("window.__vaeUps")
        expected = kept_points(ups, extent)
        gaps = sorted(b["t"] - a["t"] for a, b in zip(ups, ups[1:]))
        # Python has caught up when the trail holds every click and the URL holds the last one
        # (or a minute has passed: the caller then sees what was lost).
        last = expected[-1] if expected else None
        root = await page.locator(PAD_ROOT).element_handle()
        try:
            await page.wait_for_function(CAUGHT_UP, arg=[root, len(expected), last], timeout=60_000, polling=100)
        except PlaywrightTimeout:  # the result says what was kept
            pass
        await page.wait_for_selector(READY, timeout=60_000)
        kept = json.loads(await page.locator(PAD_ROOT).get_attribute("data-trail") or "[]")
        return {"clicks": n, "expected": expected, "trail": kept, "url": page.url,
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
