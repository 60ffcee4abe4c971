"""Make the docs' pictures (docs/img) from the real app in Chromium: one screenshot per tab and an
animated WebP of a pad sweep with the digit morphing.

    python docs/make_screenshots.py [--out docs/img] [--frames 40]

Starts `streamlit run app.py` on a free port, drives Debian's Chromium with Playwright
(1400 × 1000 css px), and writes:

  pad.*  draw.*  map.*  manifold.*  interpolate.*  train.*  model.*  gallery.*   one per tab
  compare.*        ?compare=reference,fast: the linked pads, aligned, with the metrics beneath
  draw-elbo.*      the whole Draw view after a stroke: the plane, the ELBO taken apart, ε
  pad-sweep.webp   the pad and its digit while the pointer sweeps through the classes

Each still is written as a 256-colour PNG or as WebP, whichever is smaller (PNG near a
tie), so the set stays under about 1 MB; a remake keeps each file's format so that the
README's and docs/' links hold. The sizes are printed at the end.
"""
import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.browser import (CHROMIUM, CHROMIUM_ARGS, DRAW_VIEW, OVERLAY, PAD_ROOT, READOUT,  # noqa: E402
                             page_xy, wait_ready)
from harness.server import start_server, stop_server  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
PNG_PREFERRED_UP_TO = 1.25  # keep the crisp PNG unless it is this much bigger than the WebP
WEBP_QUALITY = 82
SWEEP_WIDTH = 600


def save_still(png_bytes, out_dir, name):
    """A screenshot → a 256-colour PNG or a WebP, whichever is smaller (PNG preferred near a tie)."""
    image = Image.open(io.BytesIO(png_bytes)).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    png = io.BytesIO()
    palette.save(png, "PNG", optimize=True)
    webp = io.BytesIO()
    image.save(webp, "WEBP", quality=WEBP_QUALITY, method=6)
    use_png = png.tell() <= PNG_PREFERRED_UP_TO * webp.tell()
    existing = sorted(p.suffix for p in out_dir.glob(f"{name}.*"))
    if existing in ([".png"], [".webp"]):  # a remake keeps the format, and so the docs' links
        use_png = existing == [".png"]
    data, ext = (png, "png") if use_png else (webp, "webp")
    for old in out_dir.glob(f"{name}.*"):
        old.unlink()
    path = out_dir / f"{name}.{ext}"
    path.write_bytes(data.getvalue())
    return path


def open_tab(page, url, view):
    page.goto(url + ("/" if view is None else f"/?view={view.replace(' ', '%20')}"))
    wait_ready(page, timeout=180_000)


def settle(page, ms=800):
    page.wait_for_timeout(ms)  # plotly's and the canvas' own first paints
    wait_ready(page, timeout=120_000)


def class_loop(explorer):
    """The class centres of the test codes, in order around the plane: a loop through the digits."""
    centres = np.array([np.median(explorer.z_test[explorer.y_test == c], axis=0)
                        for c in range(len(explorer.class_names))])
    middle = centres.mean(axis=0)
    order = np.argsort(np.arctan2(centres[:, 1] - middle[1], centres[:, 0] - middle[0]))
    return centres[order]


def loop_points(centres, n):
    """n points evenly spaced along the closed polyline through the centres."""
    closed = np.vstack([centres, centres[:1]])
    lengths = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    cumulative = np.concatenate([[0], np.cumsum(lengths)])
    out = []
    for s in np.linspace(0, cumulative[-1], n, endpoint=False):
        i = min(np.searchsorted(cumulative, s, side="right") - 1, len(lengths) - 1)
        f = (s - cumulative[i]) / lengths[i]
        out.append(closed[i] * (1 - f) + closed[i + 1] * f)
    return out


def z_to_page(box, extent, z):
    (x0, x1), (y0, y1) = extent
    return page_xy(box, (z[0] - x0) / (x1 - x0), (y1 - z[1]) / (y1 - y0))


def pad_shots(page, url, out_dir, frames):
    from vae.explorer import open_explorer
    from vae.settings import models_dir

    open_tab(page, url, None)
    page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=120_000)
    explorer = open_explorer(models_dir() / page.locator(PAD_ROOT).get_attribute("data-model").split("@")[0])
    extent = explorer.extent()
    box = page.locator(OVERLAY).bounding_box()
    path = loop_points(class_loop(explorer), frames)

    # The sweep: the component's box, frame by frame, as the pointer walks the loop.
    # the plane with its legend, and the digit beside it: the union of the two boxes
    boxes = [page.locator(f"{PAD_ROOT} {part}").bounding_box() for part in (".pad-main", ".pad-side")]
    left, top = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
    right, bottom = max(b["x"] + b["width"] for b in boxes), max(b["y"] + b["height"] for b in boxes)
    clip = {"x": left - 4, "y": top - 4, "width": right - left + 8, "height": bottom - top + 8}
    images, labels = [], []
    page.mouse.move(*z_to_page(box, extent, path[-1]))
    for z in path:
        page.mouse.move(*z_to_page(box, extent, z), steps=2)
        page.wait_for_function("() => true", polling="raf")  # the frame with the new digit is painted
        shot = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
        scale = SWEEP_WIDTH / shot.width
        images.append(shot.resize((SWEEP_WIDTH, round(shot.height * scale)), Image.Resampling.LANCZOS))
        labels.append(page.locator(PAD_ROOT).get_attribute("data-label"))
    sweep = out_dir / "pad-sweep.webp"
    images[0].save(sweep, "WEBP", save_all=True, append_images=images[1:], duration=110, loop=0,
                   quality=75, method=6)

    # The still: mid-hover over the border between two classes.
    page.mouse.move(*z_to_page(box, extent, (path[len(path) // 3] + path[len(path) // 3 + 1]) / 2))
    page.wait_for_function("() => true", polling="raf")
    assert "under the pointer" in page.locator(READOUT).inner_text()
    still = save_still(page.screenshot(), out_dir, "pad")
    return [still, sweep], {"sweep_labels": labels}


def draw_shot(page, url, out_dir):
    open_tab(page, url, "Draw")
    canvas = page.locator(".st-key-canvas_0 canvas.upper-canvas")
    canvas.wait_for(timeout=60_000)
    page.locator(f"{DRAW_VIEW}[data-canvas]").wait_for(timeout=60_000)  # the view follows the canvas
    box = canvas.bounding_box()
    w, h = box["width"], box["height"]
    # a "2": an arc over the top, a diagonal down to the left, a stroke along the bottom
    stroke = [(0.28 + 0.2 * (1 - math.cos(a)), 0.32 - 0.16 * math.sin(a))
              for a in np.linspace(0.15, math.pi * 0.95, 12)]  # left to right over the top
    stroke += [(0.68 - 0.38 * t, 0.32 + 0.44 * t) for t in np.linspace(0.05, 1, 12)]  # down to the left
    stroke += [(0.30 + 0.42 * t, 0.76 + 0.02 * t) for t in np.linspace(0.05, 1, 10)]  # along the bottom
    page.mouse.move(box["x"] + stroke[0][0] * w, box["y"] + stroke[0][1] * h)
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(box["x"] + x * w, box["y"] + y * h, steps=2)
    page.mouse.up()
    page.locator(f"{DRAW_VIEW}[data-server-z]:not([data-server-z=''])").wait_for(timeout=60_000)
    settle(page)
    still = save_still(page.screenshot(), out_dir, "draw")
    page.set_viewport_size({**VIEWPORT, "height": 1900})  # the whole view, its ELBO panel included
    page.locator(f"{DRAW_VIEW} details.explain summary").click()
    settle(page)
    whole = save_still(page.locator(DRAW_VIEW).screenshot(), out_dir, "draw-elbo")
    page.set_viewport_size(VIEWPORT)
    return [still, whole], {}


def tab_shot(page, url, out_dir, view, name, ready_selector):
    open_tab(page, url, view)
    page.wait_for_selector(ready_selector, timeout=120_000)
    settle(page)
    return [save_still(page.screenshot(), out_dir, name)], {}


def interpolate_shot(page, url, out_dir):
    open_tab(page, url, "Interpolate")
    page.locator(".st-key-interp_line .vae-line[data-ready=true]").wait_for(timeout=120_000)
    slider = page.locator(".st-key-interp_line input[type=range]")
    box = slider.bounding_box()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.62 * box["width"], box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    settle(page)
    return [save_still(page.screenshot(), out_dir, "interpolate")], {}


def compare_shot(page, url, out_dir):
    page.goto(f"{url}/?view=Compare&compare=reference,fast")
    wait_ready(page)
    page.locator(".vae-compare[data-ready=true]").wait_for(timeout=120_000)
    settle(page)
    return [save_still(page.screenshot(), out_dir, "compare")], {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    proc, url, _ = start_server()
    written, notes = [], {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            for make in [
                lambda: pad_shots(page, url, out_dir, args.frames),
                lambda: draw_shot(page, url, out_dir),
                lambda: tab_shot(page, url, out_dir, "Test-set map", "map", ".st-key-map_chart .js-plotly-plot"),
                lambda: tab_shot(page, url, out_dir, "Manifold", "manifold", ".st-key-manifold_chart .js-plotly-plot"),
                lambda: interpolate_shot(page, url, out_dir),
                lambda: tab_shot(page, url, out_dir, "Train", "train", ".st-key-train_start button"),
                lambda: tab_shot(page, url, out_dir, "Model", "model", "[data-testid=stPlotlyChart]"),
                lambda: tab_shot(page, url, out_dir, "Gallery", "gallery", "[class*=st-key-gallery_card_] img"),
                lambda: compare_shot(page, url, out_dir),
            ]:
                paths, note = make()
                written += paths
                notes.update(note)
                if page.locator("[data-testid=stException]").count():
                    raise RuntimeError(f"an exception is shown on the page while making {paths}")
            browser.close()
    finally:
        stop_server(proc)
    sizes = {p.name: p.stat().st_size for p in written}
    print(json.dumps({"files": sizes, "total_bytes": sum(sizes.values()), **notes}, indent=2))


if __name__ == "__main__":
    main()
