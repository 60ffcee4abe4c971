"""The explorer in a real Chromium: load, click the pad, draw, read the legend."""
import urllib.parse

import pytest

from tests.e2e.conftest import no_exceptions, screenshot, wait_ready

pytestmark = pytest.mark.browser


def open_view(page, server, view=None, width=1400):
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(server + (f"/?view={urllib.parse.quote(view)}" if view else "/"))
    wait_ready(page)
    no_exceptions(page)


def test_page_loads_without_errors(page, server):
    open_view(page, server)
    assert page.locator("h1").first.inner_text().startswith("VAE Explorer")
    page.wait_for_selector(".st-key-latent_pad .vae-pad[data-ready=true]")
    screenshot(page, "pad-desktop")


def test_drawing_a_stroke_encodes_it(page, server):
    open_view(page, server, "Draw")
    canvas = page.locator(".st-key-canvas_0 canvas.upper-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 150, y + 40)
    page.mouse.down()
    for k in range(1, 25):  # a slightly slanted "1"
        page.mouse.move(x + 150 - k, y + 40 + k * 8)
    page.mouse.up()
    page.wait_for_selector(".st-key-draw_reconstruction img", timeout=30_000)
    wait_ready(page)
    assert page.locator(".st-key-draw_input img").count() == 1
    legend = page.locator(".st-key-draw_map .legendtext").all_text_contents()
    assert "your digit" in legend
    marker = page.evaluate("""() => {
        const plot = document.querySelector('.st-key-draw_map .js-plotly-plot');
        const trace = plot.data.find(t => t.name === 'your digit');
        return {visible: trace.visible, n: Array.from(trace.x).length};
    }""")
    assert marker == {"visible": True, "n": 1}
    no_exceptions(page)
    screenshot(page, "draw-desktop")


def test_scatter_legend_lists_all_digits(page, server):
    open_view(page, server, "Test-set map")
    page.wait_for_selector(".st-key-map_chart .legendtext")
    legend = page.locator(".st-key-map_chart .legendtext").all_text_contents()
    assert legend[:10] == [str(d) for d in range(10)]
    screenshot(page, "map-desktop")


@pytest.mark.parametrize("view", ["Manifold", "Interpolate", "Train", "Model"])
def test_other_views_render(page, server, view):
    open_view(page, server, view)
    if view == "Interpolate":
        page.wait_for_selector(".st-key-interp_line .vae-line[data-ready=true]")
    elif view != "Train":
        page.wait_for_selector("[data-testid=stPlotlyChart]")
    else:
        page.wait_for_selector(".st-key-train_start button")
    screenshot(page, f"{view.lower()}-desktop")


@pytest.mark.parametrize("view", [None, "Draw", "Test-set map", "Manifold", "Interpolate", "Train"])
def test_narrow_screen(page, server, view):
    open_view(page, server, view, width=390)
    # nothing may stick out sideways: the page itself must not scroll horizontally
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot(page, f"{(view or 'pad').split()[0].lower()}-narrow")


POINT_ON_PAGE = """i => {
    const gd = document.querySelector('.st-key-map_chart .js-plotly-plot');
    const trace = gd._fullData.find(t => Array.from(t.customdata || []).includes(i));
    const j = Array.from(trace.customdata).indexOf(i);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.d2p(trace.x[j]), y: box.top + ya._offset + ya.d2p(trace.y[j]),
            label: trace.name};
}"""


def test_clicking_a_test_digit_shows_it(page, server):
    open_view(page, server, "Test-set map")
    page.wait_for_selector(".st-key-map_chart .js-plotly-plot")
    target = page.evaluate(POINT_ON_PAGE, 0)  # where plotly drew test digit #0, in page pixels
    page.mouse.click(target["x"], target["y"])
    page.wait_for_selector(".st-key-map_original img", timeout=30_000)
    wait_ready(page)
    text = page.locator("[data-testid=stMarkdownContainer]").all_inner_texts()
    picked = next(t for t in text if t.startswith("Test digit #"))
    index, label = int(picked.split("#")[1].split(",")[0]), picked.rsplit(" ", 1)[1]
    # The dot under the cursor is #0, or a neighbour drawn over it: either way the page must
    # show the digit plotly drew there, with the label of the trace it belongs to.
    drawn = page.evaluate(POINT_ON_PAGE, index)
    assert label == drawn["label"]
    assert abs(drawn["x"] - target["x"]) < 8 and abs(drawn["y"] - target["y"]) < 8
    assert page.locator(".st-key-map_reconstruction img").count() == 1
    no_exceptions(page)
    screenshot(page, "map-picked")
