"""The Gallery tab's first paint with a hundred versions, in seconds. Prints JSON.

A models folder of N versions is made by copying a small shipped model (`fast`) under new names;
the same-run baseline is a folder of the 8 shipped versions alone. Each scenario gets a fresh
server; each run a fresh browser page, timed from page.goto(…?view=Gallery) until the script run
has finished and every card's thumbnail on the first screen has loaded (img.complete):

  shipped_8          the baseline: 8 versions, thumbnails kept with each
  versions_N         N versions with their thumbnails (copied with the model)
  versions_N_cold    N versions saved before thumbnails: the first paint makes the first screen's,
                     once (the runs after the first read them back)
  versions_N_returning  as versions_N, in one browser context visited once before: Streamlit's own
                     JavaScript comes from the browser's cache, as for a returning visitor

Each scenario also splits its first paint: page_loaded_s (the page's own HTML and JavaScript,
domContentLoaded) and first_card_s (the first card in the page: the script run has reached it);
and server_cpu_s, the server process' CPU time over the visit (its script run, the thumbnails,
the files it served): unlike the wall-clock times, barely moved by other work on the machine.

The budget: the first screen of N = 100 drawn in ≤ 2 s.

Usage: python bench/gallery.py [--versions 100] [--runs 3]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.browser import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, wait_ready  # noqa: E402
from harness.server import start_server, stop_server  # noqa: E402

SHIPPED = REPO_ROOT / "models"
SOURCE = "fast"  # the smallest shipped model: 1.2 MB
BUDGET_S = 2.0
VIEWPORT = {"width": 1400, "height": 1000}
MARK_FIRST_CARD = """new MutationObserver((_, observer) => {
  if (document.querySelector('[class*=st-key-gallery_card_]')) {
    window.vaeFirstCard = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});"""
ALL_LOADED = """() => {
  const imgs = [...document.querySelectorAll('[class*=st-key-gallery_card_] img')];
  return imgs.length > 0 && imgs.every(img => img.complete && img.naturalWidth > 0);
}"""


def shipped_folder(root):
    for path in SHIPPED.iterdir():
        if path.is_dir():
            shutil.copytree(path, root / path.name)
    return root


def many_versions(root, n, thumbnails=True):
    """The shipped versions plus n copies of SOURCE, each under a new name, newest last."""
    shipped_folder(root)
    for i in range(n - len(list(root.iterdir()))):
        target = root / f"copy-{i:03d}"
        shutil.copytree(SHIPPED / SOURCE, target)
        if not thumbnails:
            for png in target.glob("thumb_*.png"):
                png.unlink()
    return root


def cpu_seconds(pid):
    """User + system CPU time of the process `pid` so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_paint(context, url):
    """(seconds to the first screen drawn, cards drawn, {part: seconds}) of one visit in `context`."""
    page = context.new_page()
    try:
        page.add_init_script(MARK_FIRST_CARD)
        start = time.perf_counter()
        page.goto(f"{url}/?view=Gallery")
        wait_ready(page)
        page.wait_for_function(ALL_LOADED, timeout=60_000)
        elapsed = time.perf_counter() - start
        cards = page.locator("[class*=st-key-gallery_card_]").count()
        parts = page.evaluate("""() => ({page_loaded_s: performance.getEntriesByType('navigation')[0]
                                         .domContentLoadedEventEnd / 1000, first_card_s: window.vaeFirstCard / 1000})""")
        return round(elapsed, 3), cards, parts
    finally:
        page.close()


def scenario(browser, folder, runs, returning=False):
    proc, url, _ = start_server(env_extra={"VAE_MODELS_DIR": str(folder)})
    shared = browser.new_context(viewport=VIEWPORT) if returning else None
    try:
        if returning:
            first_paint(shared, url)  # the visit before: fills the browser's cache
        times, cards, parts = [], None, {}
        for _ in range(runs):
            context = shared or browser.new_context(viewport=VIEWPORT)
            cpu = cpu_seconds(proc.pid)
            try:
                elapsed, cards, split = first_paint(context, url)
                split["server_cpu_s"] = cpu_seconds(proc.pid) - cpu
            finally:
                if context is not shared:
                    context.close()
            times.append(elapsed)
            for part, seconds in split.items():
                parts.setdefault(part, []).append(seconds)
        return {"first_paint_s": times, "median_s": round(statistics.median(times), 3), "cards_drawn": cards,
                **{f"{part}_median": round(statistics.median(values), 3) for part, values in parts.items()}}
    finally:
        if shared is not None:
            shared.close()
        stop_server(proc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100, help="versions in the big gallery (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="page loads per scenario (default 3)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = {"versions": args.versions, "runs": args.runs}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        out["shipped_8"] = scenario(browser, shipped_folder(tmp / "shipped" / "models"), args.runs)
        n = args.versions
        out[f"versions_{n}"] = scenario(browser, many_versions(tmp / "warm" / "models", n), args.runs)
        out[f"versions_{n}_cold"] = scenario(browser, many_versions(tmp / "cold" / "models", n, thumbnails=False),
                                             args.runs)
        out[f"versions_{n}_returning"] = scenario(browser, tmp / "warm" / "models", args.runs, returning=True)
        browser.close()
    big = out[f"versions_{args.versions}"]["median_s"]
    out["big_over_baseline"] = round(big / out["shipped_8"]["median_s"], 2)
    out["within_budget"] = max(out[f"versions_{args.versions}"]["first_paint_s"]) <= BUDGET_S
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
