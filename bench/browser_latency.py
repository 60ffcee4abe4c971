"""Latency of the explorer as a user feels it, in Chromium: this checkout against an older
commit (the baseline), both served at once and measured in the same run, interleaved.
Prints JSON.

  draw_to_verdict_ms   mouse released after a stroke → the verdict is on screen: today the
                       drawing's point on the Draw tab's plane (the view's data-z), in the
                       baseline the "your digit" marker on its plotly map. It includes the
                       drawing canvas' own 200 ms debounce (streamlit-drawable-canvas sends a
                       stroke 200 ms after the last change), so it is split in two:
    up_to_send_ms      mouse up → the canvas sends the drawing (the debounce)
    send_to_verdict_ms the drawing sent → the verdict drawn: the server, what it sends back
                       and the page's drawing of it; the part this app controls
    received_bytes     what the page received per stroke
  pad_commit_ms        click on the pad → the kept point is back from the server (in the trail)
  manifold_40_ms       grid size set to 40 → the new manifold is drawn

Each stroke is a fresh page (a new session) on the Draw tab; one unmeasured stroke per server
first, which also waits for the Keras model's background load.

The baseline is the code at --baseline (default: the last commit whose Draw tab sent a plotly
map of the 10,000 test codes after every stroke), taken with `git archive` into a temporary
directory and started from there.

Usage: python bench/browser_latency.py [--baseline REF] [--strokes 8] [--clicks 10]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.browser import (CHROMIUM, CHROMIUM_ARGS, DRAW_VIEW, OVERLAY, PAD_ROOT, ScriptRuns,  # noqa: E402
                             page_xy, trail, wait_ready)
from harness.server import checkout, start_server, stop_server  # noqa: E402

PLOTLY_DRAW_MAP = "59fdf54"
# The page's clock at every pointer-up and websocket send (the canvas' drawing is the first
# send after the pointer-up).
RECORD = """(() => {
    window.__bench = {up: null, sends: []};
    addEventListener('pointerup', () => { window.__bench.up = performance.now(); window.__bench.sends = []; }, true);
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (...args) {
        window.__bench.sends.push(performance.now());
        return send.apply(this, args);
    };
})()"""
# The verdict on screen, as the page's clock when it was first seen (checked every frame).
NEW_VERDICT = "el => el.dataset.z ? performance.now() : null"
NEW_MANIFOLD = """h => { const image = document.querySelector('.st-key-manifold_chart image');
    return image !== null && image.getAttribute('href') !== h; }"""
OLD_VERDICT = """() => [...document.querySelectorAll('.st-key-draw_map .legendtext')]
    .some(e => e.textContent === 'your digit') ? performance.now() : null"""


def stroke(page, i):
    """A slanted "1" on the canvas, a little to the side each time; returns once the mouse is up."""
    box = page.locator(".st-key-canvas_0 canvas.upper-canvas").bounding_box()
    x, y = box["x"] + 100 + 12 * (i % 8), box["y"] + 40
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 25):
        page.mouse.move(x - k * 0.5, y + k * 8)
    page.mouse.up()


def draw_once(browser, url, baseline, i):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.add_init_script(RECORD)
        runs = ScriptRuns(page)
        page.goto(url + "/?view=Draw")
        wait_ready(page, timeout=180_000)
        page.locator(".st-key-canvas_0 canvas.upper-canvas").wait_for(timeout=120_000)
        if not baseline:
            page.locator(f"{DRAW_VIEW}[data-ready=true]").wait_for(timeout=120_000)
        received = len(runs.received)
        stroke(page, i)
        if baseline:
            verdict = page.wait_for_function(OLD_VERDICT, timeout=120_000, polling="raf").json_value()
        else:
            view = page.locator(DRAW_VIEW).element_handle()
            verdict = page.wait_for_function(NEW_VERDICT, arg=view, timeout=120_000, polling="raf").json_value()
        marks = page.evaluate("window.__bench")
        sent = marks["sends"][0]
        return {"draw_to_verdict_ms": verdict - marks["up"], "up_to_send_ms": sent - marks["up"],
                "send_to_verdict_ms": verdict - sent, "received_bytes": sum(map(len, runs.received[received:]))}
    finally:
        context.close()


def pad_clicks(browser, url, clicks):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url + "/")
        wait_ready(page, timeout=180_000)
        page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=120_000)
        box = page.locator(OVERLAY).bounding_box()
        times = []
        for i in range(clicks):
            before = len(trail(page))
            start = time.perf_counter()
            page.mouse.click(*page_xy(box, 0.1 + 0.8 * ((i * 7) % 11) / 10, 0.1 + 0.8 * ((i * 3) % 7) / 6))
            root = page.locator(PAD_ROOT).element_handle()
            page.wait_for_function("([el, n]) => JSON.parse(el.dataset.trail).length > n", arg=[root, before],
                                   timeout=30_000, polling="raf")
            times.append((time.perf_counter() - start) * 1000)
            wait_ready(page)
        return times
    finally:
        context.close()


def manifold_40(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url + "/?view=Manifold&manifold_n=39")
        wait_ready(page, timeout=180_000)
        page.locator(".st-key-manifold_chart image").first.wait_for(timeout=120_000)
        before = page.locator(".st-key-manifold_chart image").first.get_attribute("href")
        page.locator(".st-key-manifold_n input[type=range]").focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight")  # 39 → 40
        page.wait_for_function(NEW_MANIFOLD, arg=before, timeout=60_000, polling="raf")
        return (time.perf_counter() - start) * 1000
    finally:
        context.close()


def summary(values):
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "n": len(values)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default=PLOTLY_DRAW_MAP, help="the git ref to compare with")
    parser.add_argument("--strokes", type=int, default=8)
    parser.add_argument("--clicks", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vae-baseline-") as tmp:
        servers = {"new": start_server(), "baseline": start_server(cwd=checkout(args.baseline, Path(tmp)))}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for name, (_, url, _) in servers.items():  # warm up: the Keras model loads on the first stroke
                    draw_once(browser, url, name == "baseline", 0)
                strokes = {name: [] for name in servers}
                for i in range(args.strokes):  # interleaved, so that load and warmth favour neither
                    for name, (_, url, _) in servers.items():
                        strokes[name].append(draw_once(browser, url, name == "baseline", i + 1))
                clicks = {name: pad_clicks(browser, url, args.clicks) for name, (_, url, _) in servers.items()}
                manifold = {name: manifold_40(browser, url) for name, (_, url, _) in servers.items()}
                browser.close()
        finally:
            for proc, _, _ in servers.values():
                stop_server(proc)
    result = {"baseline_ref": args.baseline}
    for name in servers:
        result[name] = {key: summary([s[key] for s in strokes[name]]) for key in strokes[name][0]}
        result[name]["pad_commit_ms"] = summary(clicks[name])
        result[name]["manifold_40_ms"] = round(manifold[name], 1)
    result["draw_to_verdict_speedup"] = round(result["baseline"]["draw_to_verdict_ms"]["median"]
                                              / result["new"]["draw_to_verdict_ms"]["median"], 2)
    result["send_to_verdict_speedup"] = round(result["baseline"]["send_to_verdict_ms"]["median"]
                                              / result["new"]["send_to_verdict_ms"]["median"], 2)
    result["received_bytes_ratio"] = round(result["baseline"]["received_bytes"]["median"]
                                           / result["new"]["received_bytes"]["median"], 1)
    result["total_s"] = round(time.monotonic() - started, 1)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
