"""Everything a pointer does, done from the keyboard alone, in Chromium: no mouse call anywhere in
this file. Tab to the pad, move with the arrows and keep with Enter (the URL and the live region
follow, and a held key does not flood the reader); hide a class from the legend; pick a test image
on the map by its number and a random one of a class; keep a point on both compare pads; start
and stop a training run. axe-core
checks the Train tab with the job running and after it ended."""
import re
import shutil

import pytest

from harness.browser import PAD, REPO_ROOT, no_exceptions, poll, url_point, wait_ready
from harness.server import start_server, stop_server
from tests.e2e.axe import assert_accessible
from vae.ui.state import TABS

pytestmark = pytest.mark.browser

ANNOUNCE = f"{PAD} .announce"
IS_FOCUSED = "el => el.getRootNode().activeElement === el"  # in the page or in a view's shadow root
# Every text the pad's live region ever holds, recorded in the page as it changes.
RECORD_ANNOUNCEMENTS = """el => { window.__vaeSaid = []; new MutationObserver(() => window.__vaeSaid.push(el.textContent))
    .observe(el, {childList: true, characterData: true, subtree: true}); }"""


@pytest.fixture(scope="module")
def keyboard_server(tmp_path_factory):
    """A server on a throw-away models folder: the run started here never touches models/."""
    models = tmp_path_factory.mktemp("keyboard-models")
    for name in ("reference", "fast"):  # two versions, to compare
        shutil.copytree(REPO_ROOT / "models" / name, models / name)
    proc, url, _ = start_server({"VAE_MODELS_DIR": str(models)})
    yield url
    stop_server(proc)


def tab_to(page, target, backwards=False, presses=80):
    """Press Tab (or Shift+Tab) until `target` has the focus, as a keyboard user does."""
    for _ in range(presses):
        if target.count() and target.first.evaluate(IS_FOCUSED):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{presses} presses of Tab never reached {target}")


def open_tab_by_keyboard(page, name):
    """The tab strip by the keyboard: Shift+Tab back to the open tab, then the arrow keys.
    Streamlit's tabs follow the focus (each arrow opens the next tab, and its run redraws the
    panel), so one step at a time: wait for the page, find the open tab again, move one."""
    for _ in range(2 * len(TABS)):
        wait_ready(page)
        opened = page.get_by_role("tab", selected=True)
        here = opened.text_content()
        if here == name:
            return
        tab_to(page, opened, backwards=True, presses=300)
        page.keyboard.press("ArrowRight" if TABS.index(here) < TABS.index(name) else "ArrowLeft")
        page.wait_for_function("n => new URL(location.href).searchParams.get('view') !== n", arg=here)
    raise AssertionError(f"the arrow keys never opened the tab {name!r}")


def test_the_keyboard_alone_reaches_everything_a_pointer_does(page, keyboard_server):
    page.goto(keyboard_server + "/?view=Latent+pad")
    wait_ready(page)
    page.locator(f"{PAD} .vae-pad[data-ready=true]").wait_for(timeout=60_000)

    # The pad: Tab to it, move with the arrows, keep with Enter.
    overlay = page.locator(f"{PAD} canvas.overlay")
    tab_to(page, overlay)
    page.locator(ANNOUNCE).evaluate(RECORD_ANNOUNCEMENTS)
    before = url_point(page.url) if "z=" in page.url else None
    for key in ["ArrowRight"] * 6 + ["Shift+ArrowUp"] * 2:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function("() => new URL(location.href).searchParams.has('z')")
    kept = poll(page, lambda: url_point(page.url) != before and url_point(page.url), message="the kept point in the URL")
    said = page.locator(ANNOUNCE)
    poll(page, lambda: said.inner_text().startswith("Kept z = "), message="the kept point announced")
    label = page.locator(f"{PAD} .vae-pad").get_attribute("data-label")
    assert said.inner_text().endswith(f"looks like {label}"), said.inner_text()
    x, y = (float(v.replace("−", "-")) for v in re.search(r"\(([^)]*)\)", said.inner_text()).group(1).split(", "))
    assert abs(x - kept[0]) < 0.006 and abs(y - kept[1]) < 0.006, (said.inner_text(), kept)
    # Nine key presses in quick succession were announced once, not nine times
    announcements = page.evaluate("window.__vaeSaid")
    assert 1 <= len(announcements) <= 2, announcements
    digit = page.locator(f"{PAD} canvas.digit")
    assert digit.get_attribute("role") == "img"
    assert digit.get_attribute("aria-label").startswith("decoded digit at z = ")

    # The legend: the next stop after the plane; Space hides the class, and says so.
    first_class = page.locator(f"{PAD} .legend-item").first
    tab_to(page, first_class)
    assert first_class.get_attribute("aria-pressed") == "true"
    page.keyboard.press("Space")
    assert first_class.get_attribute("aria-pressed") == "false"

    # The map: a test image by its number, then a random one of a class.
    open_tab_by_keyboard(page, "Test-set map")
    number = page.locator(".st-key-map_pick_number input")
    tab_to(page, number)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("42")
    page.keyboard.press("Enter")
    original = page.locator(".st-key-map_original img")
    original.wait_for()
    assert original.get_attribute("alt").startswith("test digit #42, labelled ")
    page.locator(".st-key-map_view .vae-draw[data-z]").wait_for()  # and through the VAE, with its ELBO
    tab_to(page, page.locator(".st-key-map_pick_class input"))
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    wait_ready(page)
    tab_to(page, page.locator(".st-key-map_pick_random button"))
    page.keyboard.press("Enter")
    page.wait_for_function("""() => [...document.querySelectorAll('.st-key-map_original img')]
        .some(img => / labelled 7$/.test(img.alt) && !img.alt.startsWith('test digit #42,'))""")

    # Compare: the arrows over A's plane move both, Enter keeps the point in both, and the
    # reader hears both verdicts once.
    open_tab_by_keyboard(page, "Compare")
    compare = page.locator(".vae-compare[data-ready=true]")
    compare.wait_for(timeout=60_000)
    tab_to(page, page.locator(".vae-compare .side-a canvas.overlay"))
    for key in ["ArrowLeft"] * 4:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    poll(page, lambda: compare.get_attribute("data-kept") is not None, message="a point kept in both")
    said = page.locator(".vae-compare .announce")
    poll(page, lambda: said.inner_text().startswith("Kept in both: "), message="the kept point announced")
    assert f"looks like {compare.get_attribute('data-label-a')}" in said.inner_text().split("; ")[0]
    assert f"looks like {compare.get_attribute('data-label-b')}" in said.inner_text().split("; ")[1]

    # Train: start a run, then stop it, with Enter on the buttons.
    open_tab_by_keyboard(page, "Train")
    tab_to(page, page.locator(".st-key-train_start button"))
    page.keyboard.press("Enter")
    stop = page.locator(".st-key-stop_discard button:enabled, .st-key-job_cancel button")
    stop.first.wait_for(timeout=60_000)
    wait_ready(page)
    assert_accessible(page, "Train with a job running")
    tab_to(page, stop, backwards=True)
    page.keyboard.press("Enter")
    page.get_by_text(re.compile("The run was stopped and discarded|The job was cancelled before it started")).wait_for(
        timeout=60_000)
    wait_ready(page)
    assert_accessible(page, "Train after the job ended")
    no_exceptions(page)
