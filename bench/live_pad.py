"""The live latent pad as a user feels it, in headless Chromium. Prints JSON.

One `streamlit run app.py` server; every run opens fresh browser sessions on it.

  hover_ms                 vae-pad-hover: our pointermove handler starts → digit drawn
  hover_from_event_ms      vae-pad-hover-from-event: the event's timeStamp → digit drawn
                           (adds Chromium's input queue, which aligns moves to frames)
  sweep_in_page            a scripted 2-second sweep across the pad (a Lissajous path): one
                           pointermove per animation frame, dispatched from a
                           requestAnimationFrame loop in the page (the rate Chromium gives our
                           handler for a real mouse, whose moves it aligns to frames); frames
                           per second counted by that loop, the worst frame gap, and the
                           websocket frames the page sent meanwhile (goal 0)
  baseline_idle_in_page    the same loop dispatching the same moves to the page title, which
                           does nothing with them, just before and just after: the rAF rate this
                           page and machine give at all
  sweep_fps_vs_idle        sweep fps / idle fps (1.0 = the pad costs no frames)
  sweep_playwright         the same path driven by Playwright's mouse (real input events, as
                           fast as Playwright can send them): the source of hover_ms and
                           hover_from_event_ms, with its own fps and idle baseline
  clicks_1_page            20 clicks 150 ms apart on one page: kept, lost, in order, last in URL
  clicks_6_pages           the same on 6 pages at once (6 sessions); under that load each
                           Playwright click takes long to dispatch, so click_gap_ms_median says
                           how far apart the clicks really were
  clicks_6_pages_in_page   the same, with the clicks dispatched in each page exactly 150 ms
                           apart (synthetic pointer events on the pad)
  hover_ms_by_model        vae-pad-hover's median over the in-page sweep, for every shipped model,
                           on this checkout and on a baseline (--baseline, a git ref: by default
                           the runtime before its convolutions were blocked) served at the same
                           time from a `git archive` of it; the two alternate model by model

Usage: python bench/live_pad.py [--runs 2] [--sweep-s 2] [--baseline REF]
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.browser import (CHROMIUM, CHROMIUM_ARGS, MARGIN, OVERLAY, PAD_ROOT,  # noqa: E402
                             count_frames_sent, page_xy, rapid_clicks, wait_for_frame, wait_ready)
from harness.server import checkout, start_server, stop_server  # noqa: E402

UNBLOCKED_CONVOLUTIONS = "59fdf54"

RAF_COUNTER = """() => {
    window.__raf = [];
    const tick = (t) => { window.__raf.push(t); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
}"""
# A pointermove per animation frame on `el`, along the sweep path over its plot area.
IN_PAGE_SWEEP = """(el, {seconds, inset, margin}) => new Promise((resolve) => {
    const r = el.getBoundingClientRect(), frames = [];
    const w = r.width - margin.left - margin.right, h = r.height - margin.top - margin.bottom;
    let start = null;
    const step = (t) => {
        start ??= t;
        frames.push(t);
        const elapsed = (t - start) / 1000;
        if (elapsed >= seconds) return resolve(frames);
        const phase = 2 * Math.PI * elapsed / seconds;
        const fx = 0.5 + (0.5 - inset) * Math.sin(phase), fy = 0.5 + (0.5 - inset) * Math.sin(1.5 * phase + 0.7);
        el.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + margin.left + fx * w,
            clientY: r.top + margin.top + fy * h, bubbles: true, composed: true, pointerType: 'mouse',
            isPrimary: true, pointerId: 1}));
        requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
})"""
MEASURES = """(names) => Object.fromEntries(names.map((n) => [n, performance.getEntriesByName(n).map((e) => e.duration)]))"""
CLEAR_MEASURES = "(names) => names.forEach((n) => performance.clearMeasures(n))"
HOVER = ["vae-pad-hover", "vae-pad-hover-from-event"]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def stats(values):
    if not values:
        return {"n": 0}
    return {"median": round(statistics.median(values), 2), "p95": round(pct(values, 0.95), 2),
            "max": round(max(values), 2), "n": len(values)}


def sweep(page, box, seconds, inset=0.04):
    """Move the pointer along a Lissajous path over `box` for `seconds`; rAF frames counted in
    the page over exactly that time. Returns fps, the worst frame gap and the moves sent."""
    def at(t):
        phase = 2 * math.pi * t / seconds
        fx, fy = 0.5 + (0.5 - inset) * math.sin(phase), 0.5 + (0.5 - inset) * math.sin(1.5 * phase + 0.7)
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    page.mouse.move(*at(0))
    page.wait_for_timeout(200)
    start_page = page.evaluate("performance.now()")
    start, moves = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < seconds:
        page.mouse.move(*at(elapsed))
        moves += 1
    end_page = page.evaluate("performance.now()")
    frames = [t for t in page.evaluate("window.__raf") if start_page <= t <= end_page]
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    span_s = (end_page - start_page) / 1000
    return {"fps": round(len(frames) / span_s, 1), "worst_frame_gap_ms": round(max(gaps), 1) if gaps else None,
            "p95_frame_gap_ms": round(pct(gaps, 0.95), 1) if gaps else None,
            "moves_sent": moves, "moves_per_s": round(moves / span_s), "seconds": round(span_s, 2)}


def frame_stats(frames):
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    return {"fps": round(len(gaps) / ((frames[-1] - frames[0]) / 1000), 1),
            "worst_frame_gap_ms": round(max(gaps), 1), "p95_frame_gap_ms": round(pct(gaps, 0.95), 1),
            "frames": len(frames)}


def in_page_sweep(locator, seconds, margin):
    return frame_stats(locator.evaluate(IN_PAGE_SWEEP, {"seconds": seconds, "inset": 0.04, "margin": margin}))


def plot_box(box):
    tl, br = page_xy(box, 0, 0), page_xy(box, 1, 1)
    return {"x": tl[0], "y": tl[1], "width": br[0] - tl[0], "height": br[1] - tl[1]}


def open_pad(browser, url, model=None):
    """A fresh session on the pad (of `model`, or the default), once its first messages are sent;
    returns (context, page, frames sent)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sent = count_frames_sent(page)
    page.goto(url + "/" + (f"?model={model}" if model else ""))
    wait_ready(page, timeout=180_000)
    page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=120_000)
    wait_for_frame(page, sent, '"have"', timeout=120)  # the model data's receipt: the first page's last message
    return context, page, sent


def hover_of(browser, url, model, seconds):
    """vae-pad-hover over an in-page sweep of `model`'s pad."""
    context, page, _ = open_pad(browser, url, model)
    try:
        page.evaluate(CLEAR_MEASURES, HOVER)
        in_page_sweep(page.locator(OVERLAY), seconds, MARGIN)
        return stats(page.evaluate(MEASURES, HOVER)["vae-pad-hover"])
    finally:
        context.close()


def hover_run(browser, url, seconds):
    context, page, sent = open_pad(browser, url)
    try:
        title = page.locator("h1").first
        overlay = page.locator(OVERLAY)
        no_margin = {"left": 0, "right": 0, "top": 0, "bottom": 0}
        # 1. in the page: idle, the pad, idle again
        idle_before = in_page_sweep(title, seconds, no_margin)
        page.evaluate(CLEAR_MEASURES, HOVER)
        frames_before, url_before = len(sent), page.url
        live = in_page_sweep(overlay, seconds, MARGIN)
        idle_after = in_page_sweep(title, seconds, no_margin)
        live["ws_frames_sent"] = len(sent) - frames_before
        live["url_changed"] = page.url != url_before
        live["hovers_drawn"] = len(page.evaluate(MEASURES, HOVER)["vae-pad-hover"])
        handler_in_page = page.evaluate(MEASURES, HOVER)["vae-pad-hover"]
        idle_fps = round((idle_before["fps"] + idle_after["fps"]) / 2, 1)
        # 2. Playwright's mouse: real input events through Chromium's input queue
        page.evaluate(RAF_COUNTER)
        title_box = title.bounding_box()
        pw_idle = sweep(page, {"x": title_box["x"], "y": title_box["y"], "width": 430,
                               "height": title_box["height"]}, seconds)
        page.evaluate(CLEAR_MEASURES, HOVER)
        frames_before = len(sent)
        pw_live = sweep(page, plot_box(overlay.bounding_box()), seconds)
        page.wait_for_timeout(300)
        pw_live["ws_frames_sent"] = len(sent) - frames_before
        pw_live["url_changed"] = page.url != url_before
        measures = page.evaluate(MEASURES, HOVER)
        pw_live["hovers_drawn"] = len(measures["vae-pad-hover"])
        pw_live["idle_fps"] = pw_idle["fps"]
        pw_live["fps_vs_idle"] = round(pw_live["fps"] / pw_idle["fps"], 3)
        return {"hover_ms": stats(measures["vae-pad-hover"]),
                "hover_from_event_ms": stats(measures["vae-pad-hover-from-event"]),
                "hover_ms_in_page_sweep": stats(handler_in_page),
                "sweep_in_page": live,
                "baseline_idle_in_page": {"fps": idle_fps, "before": idle_before, "after": idle_after},
                "sweep_fps_vs_idle": round(live["fps"] / idle_fps, 3),
                "sweep_playwright": pw_live}
    finally:
        context.close()


def click_summary(results):
    return {"pages": len(results), "clicks": sum(r["clicks"] for r in results),
            "kept": sum(r["kept"] for r in results), "lost": sum(max(0, r["lost"]) for r in results),
            "all_in_order": all(r["in_order"] for r in results),
            "last_in_url": all(r["last_in_url"] for r in results),
            "clicking_s": [r["clicking_s"] for r in results],
            "click_gap_ms_median": [r["click_gap_ms"]["median"] for r in results]}


def span(runs, path):
    values = []
    for run in runs:
        value = run
        for key in path:
            value = value[key]
        values.append(value)
    return [min(values), max(values)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--sweep-s", type=float, default=2.0)
    parser.add_argument("--baseline", default=UNBLOCKED_CONVOLUTIONS, help="the git ref to compare hovers with")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from vae.explorer import open_explorer
    from vae.settings import models_dir
    from vae.store.disk import DEFAULT_MODEL, list_model_dirs

    extent = open_explorer(models_dir() / DEFAULT_MODEL).extent()
    models = [d.name for d in list_model_dirs()]
    started = time.monotonic()
    runs = []
    with tempfile.TemporaryDirectory(prefix="vae-baseline-") as tmp:
        servers = {"new": start_server(), "baseline": start_server(cwd=checkout(args.baseline, tmp))}
        url = servers["new"][1]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(args.runs):
                    run = hover_run(browser, url, args.sweep_s)
                    run["clicks_1_page"] = click_summary(rapid_clicks(url, extent, pages=1))
                    run["clicks_6_pages"] = click_summary(rapid_clicks(url, extent, pages=6))
                    run["clicks_6_pages_in_page"] = click_summary(rapid_clicks(url, extent, pages=6, in_page=True))
                    run["hover_ms_by_model"] = {}
                    for model in models:
                        medians = {name: hover_of(browser, server_url, model, args.sweep_s)["median"]
                                   for name, (_, server_url, _) in servers.items()}
                        medians["speedup"] = round(medians["baseline"] / medians["new"], 2)
                        run["hover_ms_by_model"][model] = medians
                    runs.append(run)
                browser.close()
        finally:
            for proc, _, _ in servers.values():
                stop_server(proc)
    ranges = {name: span(runs, path) for name, path in {
        "hover_ms_median": ("hover_ms", "median"), "hover_ms_p95": ("hover_ms", "p95"),
        "hover_from_event_ms_median": ("hover_from_event_ms", "median"),
        "hover_from_event_ms_p95": ("hover_from_event_ms", "p95"),
        "hover_ms_in_page_sweep_median": ("hover_ms_in_page_sweep", "median"),
        "sweep_fps": ("sweep_in_page", "fps"), "idle_fps": ("baseline_idle_in_page", "fps"),
        "sweep_fps_vs_idle": ("sweep_fps_vs_idle",), "sweep_ws_frames_sent": ("sweep_in_page", "ws_frames_sent"),
        "sweep_playwright_fps": ("sweep_playwright", "fps"),
        "sweep_playwright_fps_vs_idle": ("sweep_playwright", "fps_vs_idle"),
        "sweep_playwright_ws_frames_sent": ("sweep_playwright", "ws_frames_sent"),
        "clicks_1_page_lost": ("clicks_1_page", "lost"), "clicks_6_pages_lost": ("clicks_6_pages", "lost"),
        "clicks_6_pages_in_page_lost": ("clicks_6_pages_in_page", "lost"),
        **{f"hover_ms_{model}_{name}": ("hover_ms_by_model", model, name)
           for model in models for name in ("new", "baseline", "speedup")},
    }.items()}
    print(json.dumps({"runs": runs, "ranges": ranges, "total_s": round(time.monotonic() - started, 1),
                      "load_average_1min": round(os.getloadavg()[0], 2)}, indent=2))


if __name__ == "__main__":
    main()
