"""The Gallery tab's first paint with a hundred versions, in seconds. Prints JSON.

A models folder of N versions is made by copying a small shipped model (`fast`) under new names;
the same-run baseline is a folder of the 8 shipped versions alone. Each scenario gets a fresh
server; each run a fresh browser page, timed from page.goto(…?view=Gallery) until the script run
has finished and every card's thumbnail on the first screen has loaded (img.complete):

  shipped_8          the baseline: 8 versions, thumbnails kept with each
  versions_N         N versions with their thumbnails (copied with the model)
  versions_N_cold    N versions saved before thumbnails: the first paint makes the first screen's,
                     once (the runs after the first read them back)

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


def first_paint(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        start = time.perf_counter()
        page.goto(f"{url}/?view=Gallery")
        wait_ready(page)
        page.wait_for_function(ALL_LOADED, timeout=60_000)
        elapsed = time.perf_counter() - start
        cards = page.locator("[class*=st-key-gallery_card_]").count()
        return round(elapsed, 3), cards
    finally:
        page.close()


def scenario(browser, folder, runs):
    proc, url, _ = start_server(env_extra={"VAE_MODELS_DIR": str(folder)})
    try:
        times, cards = [], None
        for _ in range(runs):
            elapsed, cards = first_paint(browser, url)
            times.append(elapsed)
        return {"first_paint_s": times, "median_s": round(statistics.median(times), 3), "cards_drawn": cards}
    finally:
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
        browser.close()
    big = out[f"versions_{args.versions}"]["median_s"]
    out["big_over_baseline"] = round(big / out["shipped_8"]["median_s"], 2)
    out["within_budget"] = max(out[f"versions_{args.versions}"]["first_paint_s"]) <= BUDGET_S
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
