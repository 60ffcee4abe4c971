"""The explorer in a real Chromium: load, draw, read the legend, every tab's content."""
import urllib.parse

import pytest

from harness.browser import (DRAW_VIEW, MAP_POINT_ON_PAGE, ScriptRuns, model_extent, no_exceptions, px_of,
                             screenshot, wait_ready, wait_settled)

pytestmark = pytest.mark.browser


# the spread of a canvas' grey levels, 0 (one flat colour) to 1 (black and white)
SPREAD = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
    return (hi - lo) / 255; }"""
PIXEL = "(c, [x, y]) => Array.from(c.getContext('2d').getImageData(Math.round(x), Math.round(y), 1, 1).data)"


def fmt(v):
    """A coordinate as the views print it."""
    return f"{0 if abs(v) < 0.005 else v:.2f}".replace("-", "\u2212")


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


def test_a_stroke_lands_on_the_plane_with_its_ellipse(page, server):
    runs = ScriptRuns(page)
    open_view(page, server, "Draw")
    view = page.locator(f"{DRAW_VIEW}[data-ready=true]")
    view.wait_for(timeout=60_000)
    assert "Draw a digit on the canvas" in view.locator(".hint").inner_text()
    canvas = page.locator(".st-key-canvas_0 canvas.upper-canvas")
    box = canvas.bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 150, y + 40)
    page.mouse.down()
    for k in range(1, 25):  # a slightly slanted "1"
        page.mouse.move(x + 150 - k, y + 40 + k * 8)
    received = len(runs.received)
    page.mouse.up()
    # the view's last update reads the finished stroke; then Python answers with its code
    page.locator(f"{DRAW_VIEW}[data-pen-down=false][data-server-z]:not([data-server-z=''])").wait_for(timeout=30_000)
    wait_settled(page, runs)
    z, readout = view.evaluate("el => [JSON.parse(el.dataset.z), el.querySelector('.readout').innerText]")
    assert f"μ = ({fmt(z[0])}, {fmt(z[1])}), σ = (" in readout
    assert view.get_attribute("data-label") in [str(d) for d in range(10)]
    assert f"Looks like {view.get_attribute('data-label')} · " in view.locator(".looks").inner_text()
    # the model's input and the reconstruction, decoded in the page, are pictures
    for name in ("input", "reconstruction"):
        assert view.locator(f"canvas.{name}").evaluate(SPREAD) > 0.3, name
    # the star sits at z on the plane
    overlay = view.locator("canvas.overlay")
    size = overlay.bounding_box()["width"]
    cx, cy = px_of(z, size, model_extent(view.get_attribute("data-model").split("@")[0]))
    assert overlay.evaluate(PIXEL, [cx, cy]) == [255, 212, 0, 255]
    # A stroke brings back Python's code of it: not the model's data (test codes and networks,
    # about 640 kB), nor a figure. (The view's own JavaScript, about 61 kB, comes with every rerun
    # of an inline Streamlit component: the bound is that plus 16 kB.)
    from vae.ui.latent_view import module_source
    after = runs.received[received:]
    assert not any(b'"payload"' in frame for frame in after)
    assert sum(map(len, after)) < len(module_source("draw").encode()) + 16_000, [len(frame) for frame in after]
    assert page.locator("[data-testid=stPlotlyChart]").count() == 0
    no_exceptions(page)
    screenshot(page, "draw-desktop")


def test_scatter_legend_lists_all_digits(page, server):
    open_view(page, server, "Test-set map")
    page.wait_for_selector(".st-key-map_chart .legendtext")
    legend = page.locator(".st-key-map_chart .legendtext").all_text_contents()
    assert legend[:10] == [str(d) for d in range(10)]
    screenshot(page, "map-desktop")


def test_the_manifold_is_a_grid_of_decoded_images(page, server):
    open_view(page, server, "Manifold")
    image = page.locator(".st-key-manifold_chart image").first
    image.wait_for(timeout=60_000)
    assert image.get_attribute("href").startswith("data:image/")
    assert page.locator(".st-key-manifold_chart .xtitle").text_content() == "z[0]"
    screenshot(page, "manifold-desktop")


def test_interpolate_shows_the_strip_and_its_path(page, server):
    open_view(page, server, "Interpolate")
    line = page.locator(".st-key-interp_line .vae-line[data-ready=true]")
    line.wait_for(timeout=60_000)
    steps = int(page.locator(".st-key-interp_steps [data-testid=stSliderThumbValue]").inner_text())
    assert line.locator(".strip canvas").count() == steps
    assert line.get_attribute("data-t") == "0.50"
    assert line.locator(".readout").inner_text().startswith("z = (")
    screenshot(page, "interpolate-desktop")


def test_train_offers_a_run(page, server):
    open_view(page, server, "Train")
    # A first visit has no identity cookie yet: the button is disabled ("Identifying this
    # browser…") until the page's identity component has answered, one rerun later.
    page.locator(".st-key-train_start button:not([disabled])").wait_for(timeout=30_000)
    wait_ready(page)
    assert page.get_by_text("Identifying this browser").count() == 0
    assert page.get_by_text("one at a time").count() == 0
    screenshot(page, "train-desktop")


def test_the_model_tab_shows_the_cards_metrics_and_curves(page, server):
    from vae.store.disk import DEFAULT_MODEL
    from vae.store.versions import open_dir

    open_view(page, server, "Model")
    page.locator(".st-key-model_history .js-plotly-plot").wait_for(timeout=60_000)
    neg_elbo = open_dir(DEFAULT_MODEL).metadata["metrics"]["neg_elbo"]
    metrics = page.locator("[data-testid=stMetricValue]").all_inner_texts()
    assert f"{neg_elbo:.2f}" in metrics, metrics
    screenshot(page, "model-desktop")


@pytest.mark.parametrize("view", [None, "Draw", "Test-set map", "Manifold", "Interpolate", "Train"])
def test_narrow_screen(page, server, view):
    open_view(page, server, view, width=390)
    # nothing may stick out sideways: the page itself must not scroll horizontally
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot(page, f"{(view or 'pad').split()[0].lower()}-narrow")


def test_clicking_a_test_digit_shows_it(page, server):
    open_view(page, server, "Test-set map")
    page.wait_for_selector(".st-key-map_chart .js-plotly-plot")
    target = page.evaluate(MAP_POINT_ON_PAGE, 0)  # where plotly drew test digit #0, in page pixels
    page.mouse.click(target["x"], target["y"])
    page.wait_for_selector(".st-key-map_original img", timeout=30_000)
    wait_ready(page)
    text = page.locator("[data-testid=stMarkdownContainer]").all_inner_texts()
    picked = next(t for t in text if t.startswith("Test digit #"))
    index, label = int(picked.split("#")[1].split(",")[0]), picked.rsplit(" ", 1)[1]
    # The dot under the cursor is #0, or a neighbour drawn over it: either way the page must
    # show the digit plotly drew there, with the label of the trace it belongs to.
    drawn = page.evaluate(MAP_POINT_ON_PAGE, index)
    assert label == drawn["label"]
    assert abs(drawn["x"] - target["x"]) < 8 and abs(drawn["y"] - target["y"]) < 8
    assert page.locator(".st-key-map_reconstruction img").count() == 1
    no_exceptions(page)
    screenshot(page, "map-picked")
