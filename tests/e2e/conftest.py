"""Real-browser fixtures: a `streamlit run app.py` server and Debian's Chromium via Playwright.
The helpers they use, shared with bench/ and docs/, are in harness/browser.py.

Set VAE_REQUIRE_BROWSER=1 (CI does) to turn a missing browser into a failure
instead of a skip.
"""
import os
import shutil
from pathlib import Path

import pytest

from harness.browser import CHROMIUM, CHROMIUM_ARGS
from harness.server import start_server, stop_server


def _missing(reason):
    if os.environ.get("VAE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def server():
    proc, url, _ = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -r requirements-dev.txt)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()
