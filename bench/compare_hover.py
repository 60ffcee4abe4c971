"""Hover in the Compare view beside the single pad's, for the same models, in headless Chromium.
Prints JSON.

One `streamlit run app.py` server on the shipped models. Each round opens, in a fresh browser
session each, and in this order:

  compare           ?view=Compare&compare=A,B: half the moves over A's map, half over B's;
                    each move decodes and draws both sides ("vae-compare-hover", compare.js)
  single_A          ?view=Latent+pad&model=A ("vae-pad-hover", pad.js)
  single_B          ?view=Latent+pad&model=B

The moves are pointermove events dispatched in the page, one per animation frame, along a
Lissajous path over the plot area (as bench/live_pad.py's in-page sweep), so every view gets the
same moves whatever Playwright's own latency. Each measure runs from our pointermove handler's
start to the digit(s) drawn; the "-from-event" ones start at the event's timestamp.

The goal (issue 21): the compare view's hover ≤ 2 × the single pad's for the same models. Two
models are decoded there, so the single pad's time is the mean of the two singles' medians
(compare ≤ 2 × that mean ⇔ compare ≤ both singles together). Ratios to each single are given too.

Usage: python bench/compare_hover.py [--moves 200] [--rounds 2] [--models reference,fast]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.browser import (CHROMIUM, CHROMIUM_ARGS, MARGIN, OVERLAY, PAD_ROOT,  # noqa: E402
                             count_frames_sent, wait_for_frame, wait_ready)
from harness.server import start_server, stop_server  # noqa: E402
from bench.live_pad import pct  # noqa: E402  (the nearest-rank percentile the pad's figures use)

COMPARE_ROOT = ".st-key-latent_compare .vae-compare"
GOAL_RATIO = 2.0
# `moves` pointermoves on `el`, one per animation frame, along a Lissajous path over its plot area.
IN_PAGE_MOVES = """(el, {moves, margin}) => new Promise((resolve) => {
    const r = el.getBoundingClientRect();
    const w = r.width - margin.left - margin.right, h = r.height - margin.top - margin.bottom;
    let i = 0;
    const step = () => {
        if (i >= moves) return resolve(i);
        const phase = 2 * Math.PI * i / moves;
        const fx = 0.5 + 0.46 * Math.sin(phase), fy = 0.5 + 0.46 * Math.sin(1.5 * phase + 0.7);
        el.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + margin.left + fx * w,
            clientY: r.top + margin.top + fy * h, bubbles: true, composed: true, pointerType: 'mouse',
            isPrimary: true, pointerId: 1}));
        i += 1;
        requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
})"""
DURATIONS = "(name) => performance.getEntriesByName(name).map((e) => e.duration)"
CLEAR = "(names) => names.forEach((n) => performance.clearMeasures(n))"


def stats(values):
    if not values:
        return {"n": 0}
    return {"median_ms": round(statistics.median(values), 3), "p95_ms": round(pct(values, 0.95), 3),
            "max_ms": round(max(values), 3), "n": len(values)}


def open_view(browser, url, query, ready):
    """A fresh session on `query`, once the view is ready and its model data's receipt ("have",
    the first page's last message) has been sent and answered."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sent = count_frames_sent(page)
    page.goto(f"{url}/?{query}")
    wait_ready(page, timeout=180_000)
    page.locator(ready).wait_for(timeout=120_000)
    wait_for_frame(page, sent, '"have"', timeout=120)
    wait_ready(page, timeout=180_000)
    return context, page


def hover_times(page, overlays, measure, moves):
    """{"hover": durations, "from_event": durations} of `measure` over `moves` moves, split over `overlays`."""
    names = {"hover": measure, "from_event": f"{measure}-from-event"}
    page.evaluate(CLEAR, list(names.values()))
    share = math.ceil(moves / len(overlays))
    for overlay in overlays:
        page.locator(overlay).evaluate(IN_PAGE_MOVES, {"moves": share, "margin": MARGIN})
    return {kind: page.evaluate(DURATIONS, name) for kind, name in names.items()}


def measure_view(browser, url, query, ready, overlays, measure, moves):
    context, page = open_view(browser, url, query, ready)
    try:
        return hover_times(page, overlays, measure, moves)
    finally:
        context.close()


def ratio(a, b):
    return round(a / b, 2) if b else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=200, help="pointer moves per view and round (default 200)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of the three views, in turn, each on fresh sessions (default 2)")
    parser.add_argument("--models", default="reference,fast", help="the two versions compared (default reference,fast)")
    args = parser.parse_args(argv)
    a, b = args.models.split(",")
    from playwright.sync_api import sync_playwright

    compare_overlays = [f"{COMPARE_ROOT} .side-{side} canvas.overlay" for side in "ab"]
    views = {
        "compare": (f"view=Compare&compare={a},{b}", f"{COMPARE_ROOT}[data-ready=true]", compare_overlays,
                    "vae-compare-hover"),
        f"single_{a}": (f"view=Latent+pad&model={a}", f"{PAD_ROOT}[data-ready=true]", [OVERLAY], "vae-pad-hover"),
        f"single_{b}": (f"view=Latent+pad&model={b}", f"{PAD_ROOT}[data-ready=true]", [OVERLAY], "vae-pad-hover"),
    }
    durations = {view: {"hover": [], "from_event": []} for view in views}
    started = time.monotonic()
    proc, url, _ = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.rounds):
                for view, (query, ready, overlays, measure) in views.items():
                    for kind, values in measure_view(browser, url, query, ready, overlays, measure,
                                                     args.moves).items():
                        durations[view][kind].extend(values)
            browser.close()
    finally:
        stop_server(proc)

    out = {"models": [a, b], "moves": args.moves, "rounds": args.rounds}
    for view, kinds in durations.items():
        out[view] = {kind: stats(values) for kind, values in kinds.items()}
    compare, single_a, single_b = (out[v]["hover"] for v in views)
    singles = {key: statistics.mean([single_a[key], single_b[key]]) for key in ("median_ms", "p95_ms")}
    out["compare_over_single"] = {
        "median": ratio(compare["median_ms"], singles["median_ms"]),
        "p95": ratio(compare["p95_ms"], singles["p95_ms"]),
        f"median_over_{a}": ratio(compare["median_ms"], single_a["median_ms"]),
        f"median_over_{b}": ratio(compare["median_ms"], single_b["median_ms"]),
    }
    out["goal_ratio"] = GOAL_RATIO
    out["within_goal"] = out["compare_over_single"]["median"] <= GOAL_RATIO
    out["total_s"] = round(time.monotonic() - started, 1)
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
