"""Usable by everyone, in Chromium: axe-core finds nothing on any tab or state of either dataset,
the page reflows at 320 CSS px and at 200% zoom without sideways scrolling, and with
prefers-reduced-motion nothing moves by itself. (The keyboard-only path, and the Train and
operator states, are in test_keyboard_browser.py, test_training_browser.py and
test_shipped_browser.py.)"""
import urllib.parse

import pytest

from harness.browser import DRAW_VIEW, LINE, PAD, PAD_ROOT, no_exceptions, screenshot, wait_ready
from tests.e2e.axe import assert_accessible, violations
from tests.e2e.test_live_draw_browser import CANVAS, stroke_points
from vae.ui.state import TABS

pytestmark = pytest.mark.browser

# What each tab shows once it is drawn: its in-page view ready, or its chart or form.
TAB_READY = {"Latent pad": f"{PAD_ROOT}[data-ready=true]", "Draw": f"{DRAW_VIEW}[data-ready=true]",
             "Test-set map": ".st-key-map_chart .js-plotly-plot", "Manifold": ".st-key-manifold_chart .js-plotly-plot",
             "Interpolate": f"{LINE} .vae-line[data-ready=true]", "Train": ".st-key-train_start",
             "Model": ".st-key-model_history .js-plotly-plot",
             "Gallery": "[class*=st-key-gallery_card_] img", "Compare": ".vae-compare[data-ready=true]"}
# Every element on show whose scrolling box is wider than itself, that would scroll sideways,
# anywhere in the page (shadow roots included). Not counted: the tab strip, which scrolls its own
# tabs as a widget; data tables, which WCAG's reflow exempts; and the sidebar while it is folded away.
SIDEWAYS = """() => {
    const found = [], walk = (root) => {
        for (const el of root.querySelectorAll('*')) {
            if (el.shadowRoot) walk(el.shadowRoot);
            const style = getComputedStyle(el);
            const scrolls = ['auto', 'scroll'].includes(style.overflowX) || el === document.scrollingElement;
            const tabStrip = el.querySelector('[role=tablist]') && !el.querySelector('[role=tabpanel]');
            if (scrolls && el.scrollWidth > el.clientWidth + 1 && !el.closest('[role=tablist]') && !tabStrip
                && el.getBoundingClientRect().right > 0  // the folded sidebar waits off screen, to the left
                && !el.closest('[data-testid=stTable], [data-testid=stDataFrame]'))
                found.push(`${el.tagName}.${el.className}`.slice(0, 80) + ` ${el.scrollWidth}>${el.clientWidth}`);
        }
    };
    walk(document);
    if (document.documentElement.scrollWidth > innerWidth + 1) found.push(`the page ${document.documentElement.scrollWidth}>${innerWidth}`);
    return found;
}"""
# Elements with a transition or an animation longer than 10 ms, shadow roots included.
MOVING = """() => {
    const seconds = (list) => Math.max(...list.split(',').map(v => parseFloat(v) * (v.trim().endsWith('ms') ? 0.001 : 1)));
    const found = [], walk = (root) => {
        for (const el of root.querySelectorAll('*')) {
            if (el.shadowRoot) walk(el.shadowRoot);
            const s = getComputedStyle(el);
            const moving = (s.transitionProperty !== 'none' && seconds(s.transitionDuration) > 0.01)
                || (s.animationName !== 'none' && seconds(s.animationDuration) > 0.01);
            if (moving) found.push(`${el.tagName}.${String(el.className).slice(0, 40)}`);
        }
    };
    walk(document);
    return found;
}"""


def open_tab(page, server, tab, model):
    page.goto(f"{server}/?view={urllib.parse.quote(tab)}&model={model}")
    wait_ready(page)
    page.locator(TAB_READY[tab]).first.wait_for(timeout=60_000)
    wait_ready(page)


def audit(page, state, found):
    """Collect the violations of one state: one failure then lists every state's."""
    try:
        assert_accessible(page, state)
    except AssertionError as err:
        found.append(str(err))


def take_test_image_on_draw(page, number):
    field = page.locator(".st-key-draw_test_number input")
    field.fill(str(number))
    field.press("Enter")
    wait_ready(page)
    page.locator(".st-key-draw_test_go button").click()
    page.get_by_text(f"Showing test").wait_for()
    page.locator(f"{DRAW_VIEW}[data-z]").wait_for()


@pytest.mark.parametrize("model", ["reference", "fashion-reference"])
def test_axe_finds_nothing_on_any_tab_or_state(page, server, model):
    found = []
    for tab in TABS:
        open_tab(page, server, tab, model)
        audit(page, f"{model}, tab {tab}", found)
        if tab == "Latent pad":
            page.locator(f"{PAD} .legend-item").first.click()  # a class hidden from the plane
            assert page.locator(f"{PAD} .legend-item").first.get_attribute("aria-pressed") == "false"
            audit(page, f"{model}, pad with a class hidden", found)
            page.get_by_text("Show the test set").click()
            page.locator(f"{PAD} .legend[hidden]").wait_for(state="attached")
            audit(page, f"{model}, pad with the test set hidden", found)
        elif tab == "Test-set map":
            field = page.locator(".st-key-map_pick_number input")
            field.fill("12")
            field.press("Enter")
            page.locator(".st-key-map_original img").wait_for()
            page.locator(".st-key-map_view .vae-draw[data-z]").wait_for()
            page.get_by_text("The map in numbers").click()
            page.locator("[data-testid=stTable]").first.wait_for()
            wait_ready(page)
            audit(page, f"{model}, map with test image 12 picked and its table open", found)
        elif tab == "Draw":
            if model == "reference":  # a drawing (Fashion-MNIST is not drawn)
                points = stroke_points(page.locator(CANVAS).bounding_box())
                page.mouse.move(*points[0])
                page.mouse.down()
                for x, y in points[1:]:
                    page.mouse.move(x, y)
                page.mouse.up()
                page.locator(f"{DRAW_VIEW}[data-server-z]:not([data-server-z=''])").wait_for(timeout=60_000)
                wait_ready(page)
                audit(page, f"{model}, Draw with a drawing", found)
            take_test_image_on_draw(page, 7)
            audit(page, f"{model}, Draw with test image 7", found)
        elif tab == "Interpolate":
            assert page.locator("[data-testid=stImage] img").count() == 2  # both endpoints shown
            for img in page.locator("[data-testid=stImage] img").all():
                assert img.get_attribute("alt").startswith("input ")
        elif tab == "Model":
            page.get_by_text("Architecture and metrics, precisely").click()
            page.locator("[data-testid=stDataFrame]").first.wait_for()
            audit(page, f"{model}, Model with its architecture open", found)
        no_exceptions(page)
    screenshot(page, f"a11y-{model}-model-tab")
    assert not found, "\n\n".join(found)


def test_the_audit_finds_a_planted_violation(page, server):
    """The control: an image without a text alternative, planted in the page, is reported."""
    open_tab(page, server, "Manifold", "reference")
    page.evaluate("""() => { const img = document.createElement('img');
        img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw='; document.querySelector('[data-testid=stMain]').append(img); }""")
    assert "image-alt" in [v["id"] for v in violations(page)]


@pytest.mark.parametrize("viewport", [{"width": 320, "height": 640, "scale": 1}, {"width": 640, "height": 400, "scale": 2}],
                         ids=["320px", "200% zoom on 1280px"])
def test_no_tab_scrolls_sideways_at_320px_or_at_200_percent_zoom(browser, server, viewport):
    """WCAG's reflow: at 320 CSS px, or 1280 px zoomed to 200% (640 CSS px at two device pixels
    each), every tab fits the width; the pad's plane and image fit too."""
    context = browser.new_context(viewport={"width": viewport["width"], "height": viewport["height"]},
                                  device_scale_factor=viewport["scale"])
    page = context.new_page()
    try:
        problems = {}
        for tab in TABS:
            open_tab(page, server, tab, "reference")
            wide = page.evaluate(SIDEWAYS)
            if wide:
                problems[tab] = wide
            if tab == "Latent pad":
                for part in ("canvas.overlay", "canvas.digit"):
                    box = page.locator(f"{PAD} {part}").bounding_box()
                    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (part, box)
        screenshot(page, f"reflow-{viewport['width']}")
        assert not problems, problems
        # the control: a block wider than the screen, planted in the open tab, is found
        page.evaluate("""() => { const wide = document.createElement('div'); wide.style.width = '900px';
            wide.textContent = 'wide'; document.querySelector('[role=tabpanel]').append(wide); }""")
        assert page.evaluate(SIDEWAYS)
    finally:
        context.close()


def test_with_reduced_motion_nothing_moves_by_itself(browser, server):
    """Streamlit's transitions (the tabs' underline, buttons, expanders) are there by default, the
    control; a person who asks the system for less motion gets none."""
    found = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion=motion)
        page = context.new_page()
        try:
            open_tab(page, server, "Latent pad", "reference")
            found[motion] = page.evaluate(MOVING)
        finally:
            context.close()
    assert found["no-preference"], "the control: Streamlit's page has transitions by default"
    assert found["reduce"] == [], found["reduce"]
