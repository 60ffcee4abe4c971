"""Latency of the explorer as a user feels it, measured in Chromium. Prints JSON.

  pad_commit_ms      click on the pad → the kept point is back from the server (in the URL and
                     the trail); the digit itself is drawn in the browser before that, see
                     bench/live_pad.py
  draw_to_marker_ms  mouse released after a stroke → the encoded marker is on the map
                     (includes the canvas' own 200 ms debounce)
  manifold_40_ms     grid size set to 40 → the new manifold is drawn
  first_ready_s      `streamlit run` → first full page ready (see bench/first_page.py for the pad)

Baseline, measured in the same run: the same pad clicks against a server started
with VAE_NO_GC_FREEZE=1, i.e. without the gc.freeze() after loading the model.
Commits are measured once the Keras model has loaded in the background.

Usage: python bench/browser_latency.py [--clicks 15] [--no-baseline]
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, wait_ready  # noqa: E402

TRAIL = "JSON.parse(document.querySelector('.st-key-latent_pad .vae-pad')?.dataset.trail || '[]').length"


def pad_clicks(page, url, clicks):
    page.goto(url + "/")
    wait_ready(page)
    page.wait_for_selector(".st-key-latent_pad .vae-pad[data-ready=true]")
    page.wait_for_timeout(12_000)  # let the Keras model finish loading in the background first
    area = page.locator(".st-key-latent_pad canvas.overlay").bounding_box()
    times = []
    for i in range(clicks):
        before = page.evaluate(TRAIL)
        fx, fy = 0.2 + 0.6 * ((i * 7) % 11) / 10, 0.2 + 0.6 * ((i * 3) % 7) / 6
        start = time.perf_counter()
        page.mouse.click(area["x"] + fx * area["width"], area["y"] + fy * area["height"])
        page.wait_for_function(f"n => {TRAIL} > n", arg=before, timeout=30_000, polling="raf")
        times.append((time.perf_counter() - start) * 1000)
        wait_ready(page)
    return times


def draw_to_marker(page, url, strokes=5):
    times = []
    for i in range(strokes):
        page.goto(url + "/?view=Draw")
        wait_ready(page)
        box = page.locator(".st-key-canvas_0 canvas.upper-canvas").bounding_box()
        x, y = box["x"] + 100 + 20 * i, box["y"] + 40
        page.mouse.move(x, y)
        page.mouse.down()
        for k in range(1, 25):
            page.mouse.move(x + k, y + k * 8)
        start = time.perf_counter()
        page.mouse.up()
        page.wait_for_function(
            "[...document.querySelectorAll('.st-key-draw_map .legendtext')].some(e => e.textContent === 'your digit')",
            timeout=30_000, polling="raf")
        times.append((time.perf_counter() - start) * 1000)
    return times


def manifold_40(page, url):
    page.goto(url + "/?view=Manifold&manifold_n=39")
    wait_ready(page)
    before = page.evaluate("document.querySelector('.st-key-manifold_chart image')?.getAttribute('href')")
    page.locator(".st-key-manifold_n input[type=range]").focus()
    start = time.perf_counter()
    page.keyboard.press("ArrowRight")  # 39 → 40
    page.wait_for_function(
        "h => { const i = document.querySelector('.st-key-manifold_chart image'); return i && i.getAttribute('href') !== h; }",
        arg=before, timeout=30_000, polling="raf")
    wait_ready(page)
    return (time.perf_counter() - start) * 1000


def summary(times):
    return {"median": round(statistics.median(times), 1), "min": round(min(times), 1),
            "max": round(max(times), 1), "n": len(times)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=15)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    result = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.perf_counter()
        proc, url, _ = start_server()
        try:
            page.goto(url + "/")
            wait_ready(page, timeout=180_000)
            page.wait_for_selector(".st-key-latent_pad .vae-pad[data-ready=true]")
            result["first_ready_s"] = round(time.perf_counter() - started, 2)
            result["pad_commit_ms"] = summary(pad_clicks(page, url, args.clicks))
            result["draw_to_marker_ms"] = summary(draw_to_marker(page, url))
            result["manifold_40_ms"] = round(manifold_40(page, url), 1)
        finally:
            stop_server(proc)
        if not args.no_baseline:
            proc, url, _ = start_server({"VAE_NO_GC_FREEZE": "1"})
            try:
                page.goto(url + "/")
                wait_ready(page, timeout=180_000)
                result["baseline_no_gc_freeze_pad_commit_ms"] = summary(pad_clicks(page, url, args.clicks))
            finally:
                stop_server(proc)
            result["pad_speedup_vs_baseline"] = round(
                result["baseline_no_gc_freeze_pad_commit_ms"]["median"] / result["pad_commit_ms"]["median"], 2)
        browser.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
