"""From `streamlit run` to a pad that decodes under the pointer, in seconds. Prints JSON.

Each run starts a fresh server process (its own free port, killed afterwards) and a fresh
browser page, and times from the moment the process is started:

  health_s     the server answers /_stcore/health
  page_s       the first page has finished its script run (no skeletons left)
  pad_ready_s  the pad holds the model (data-ready="true")
  decodes_s    a pointer move over the pad changes the readout and the digit: the pad works

The new path (the pad from the exported decoder and test codes; TensorFlow loads in the
background after the first page) is compared, in the same run, with the old path: the same
app behind a page that first imports TensorFlow and loads the shipped model's Keras file, as
the explorer did before the first page until the browser decoder existed. That page is
written by this bench (OLD_PATH_PAGE) into a temporary folder; the product has no switch for
it. The two alternate (new, old, new, old) so that a warmer disk cache favours neither.

Usage: python bench/first_page.py [--runs 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.browser import (CHROMIUM, CHROMIUM_ARGS, DIGIT, OVERLAY, PAD_ROOT, READOUT, REPO_ROOT,  # noqa: E402
                             page_xy, wait_ready)
from harness.server import free_port, stop_server  # noqa: E402


OLD_PATH_PAGE = """
import runpy

import streamlit as st


@st.cache_resource
def keras_model_first():  # once per server, before the first page, as the old path did
    from vae.ml.model import load_vae
    from vae.settings import models_dir
    from vae.store.disk import DEFAULT_MODEL, MODEL_FILE
    return load_vae(models_dir() / DEFAULT_MODEL / MODEL_FILE)


keras_model_first()
runpy.run_path({app!r}, run_name="__main__")
"""


def old_path_page(folder):
    page = Path(folder) / "old_path_app.py"
    page.write_text(OLD_PATH_PAGE.format(app=str(REPO_ROOT / "app.py")))
    return page


def first_page(browser, env_extra, timeout_s=240, script="app.py"):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"vae-bench-first-page-{port}.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env_extra}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() - started > timeout_s:
                raise RuntimeError("the server did not answer")
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                page.wait_for_timeout(50)
        result = {"health_s": time.monotonic() - started}
        page.goto(url + "/")
        wait_ready(page, timeout=timeout_s * 1000)
        result["page_s"] = time.monotonic() - started
        page.locator(f"{PAD_ROOT}[data-ready=true]").wait_for(timeout=timeout_s * 1000)
        result["pad_ready_s"] = time.monotonic() - started
        readout, digit = page.locator(READOUT).inner_text(), page.locator(DIGIT).evaluate("c => c.toDataURL()")
        box = page.locator(OVERLAY).bounding_box()
        page.mouse.move(*page_xy(box, 0.3, 0.3))
        page.mouse.move(*page_xy(box, 0.7, 0.6), steps=3)
        page.wait_for_function(
            "([el, before]) => el.textContent !== before && el.textContent.includes('under the pointer')",
            arg=[page.locator(READOUT).element_handle(), readout], timeout=10_000, polling="raf")
        result["decodes_s"] = time.monotonic() - started
        assert page.locator(DIGIT).evaluate("c => c.toDataURL()") != digit, "the digit did not change"
        assert page.locator("[data-testid=stException]").count() == 0
        return {k: round(v, 2) for k, v in result.items()}
    finally:
        context.close()
        stop_server(proc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = {"new": [], "old_tensorflow_first": []}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as folder:
        old_page = old_path_page(folder)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            out["new"].append(first_page(browser, {}))
            out["old_tensorflow_first"].append(first_page(browser, {"PYTHONPATH": str(REPO_ROOT)}, script=old_page))
        browser.close()
    new = [r["decodes_s"] for r in out["new"]]
    old = [r["decodes_s"] for r in out["old_tensorflow_first"]]
    out["decodes_s_range"] = {"new": [min(new), max(new)], "old_tensorflow_first": [min(old), max(old)]}
    out["old_over_new"] = round(statistics.median(old) / statistics.median(new), 2)
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
