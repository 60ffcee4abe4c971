"""Two people train at once in real Chromium, once on each runner: each sees their own job
first with its place, the other's job listed without Stop; a reload re-attaches; a shared
link does not; both finish, and each explores their own version."""
import re
import shutil

import pytest

from harness.browser import (REPO_ROOT, no_exceptions, screenshot, set_quick_run, wait_ready)
from harness.server import start_server, stop_server

pytestmark = pytest.mark.browser

YOUR_JOB, EVERYONE = ".st-key-your_job", ".st-key-everyones_jobs"


@pytest.fixture(params=["local", "ray"])
def class_server(request, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(REPO_ROOT / "models" / "reference", models / "reference")
    env = {"VAE_MODELS_DIR": str(models), "VAE_MAX_JOBS": "1"}  # one at a time: the second waits
    if request.param == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        env.update(VAE_JOB_RUNNER="ray", RAY_ADDRESS=cluster.address, VAE_JOB_CPUS="2")  # 2 of its 2 CPUs
    proc, url, _ = start_server(env)
    yield request.param, url
    stop_server(proc)


def person(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 1300})
    return context, context.new_page()


def ask_for_a_run(page, url, quick=True):
    """The Train tab ready to start: a quick run, or the page's default (the fast recipe on every
    image, a minute or more: a job that is surely still running until it is stopped)."""
    page.goto(url + "/?view=Train")
    wait_ready(page)
    if quick:
        set_quick_run(page)
    page.locator(".st-key-train_start button:not([disabled])").wait_for()


def rows(page):
    """The "Everyone's jobs" table: [who, what, where it stands] per row."""
    return page.locator(f"{EVERYONE} tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.querySelectorAll('td, th')].map(td => td.innerText.trim()).filter(t => t))")


def my_version(page):
    caption = page.locator(YOUR_JOB).inner_text()
    return re.search(r"version “([^”]+)”", caption).group(1)


def test_two_people_train_at_once_each_with_their_own_job(browser, class_server):
    runner, url = class_server
    (ctx_a, alice), (ctx_b, bob) = person(browser), person(browser)
    try:
        ask_for_a_run(alice, url, quick=False)  # Alice's job runs until she stops it, below
        ask_for_a_run(bob, url)
        alice.locator(".st-key-train_start button").click()
        alice.locator(YOUR_JOB).wait_for()
        bob.locator(".st-key-train_start button").click()
        bob.locator(YOUR_JOB).wait_for()
        # Bob waits behind Alice, and is told his place
        bob.locator(YOUR_JOB).get_by_text(re.compile(r"1st.* in the queue")).wait_for(timeout=60_000)
        assert bob.locator(".st-key-job_cancel button").count() == 1
        # each sees their own job first, and the other's in the list, anonymous, without Stop
        for page in (alice, bob):
            page.locator(f"{EVERYONE} tbody tr").nth(1).wait_for()
            table = rows(page)
            assert len(table) == 2, table
            assert sum("(you)" in row[0] for row in table) == 1
            assert page.locator(f"{EVERYONE} button").count() == 0
        bob_row = next(row for row in rows(bob) if "(you)" in row[0])
        assert "waiting: 1st in the queue" in bob_row[2]
        # Alice's job runs (on Ray it may still be starting while Bob already waits): her page shows
        # Stop once its poll sees it running
        alice.locator(YOUR_JOB).get_by_role("button", name="Stop and discard").wait_for(timeout=60_000)
        screenshot(bob, f"classroom-{runner}-waiting")
        alice.locator(YOUR_JOB).get_by_role("button", name="Stop and keep").click()  # her version is kept; Bob's turn

        # a reload re-attaches Bob to his job; a shared link does not carry it to someone else
        bob_version = my_version(bob)
        bob.reload()
        wait_ready(bob)
        bob.locator(YOUR_JOB).wait_for()
        assert my_version(bob) == bob_version
        ctx_c, carol = person(browser)
        carol.goto(bob.url)
        wait_ready(carol)
        carol.locator(EVERYONE).wait_for()
        # once her browser is identified (Start enabled), the page shows her own jobs: none
        carol.locator(".st-key-train_start button:not([disabled])").wait_for()
        wait_ready(carol)
        assert carol.locator(YOUR_JOB).count() == 0
        assert carol.locator(f"{EVERYONE} button").count() == 0 and carol.get_by_role("button", name="Cancel").count() == 0
        ctx_c.close()

        # both finish; each gets their own version, active for them only
        alice_version = my_version(alice)
        for page, version in ((alice, alice_version), (bob, bob_version)):
            page.locator(YOUR_JOB).get_by_text("Saved as").wait_for(timeout=420_000)
            wait_ready(page)
            picker = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox] input")
            page.wait_for_function("([el, v]) => el.value.startsWith(v)", arg=[picker.element_handle(), version])
            no_exceptions(page)
        assert alice_version != bob_version
        assert (REPO_ROOT / "models" / alice_version).exists() is False  # never in the repo's models/
        screenshot(alice, f"classroom-{runner}-done")
    finally:
        ctx_a.close()
        ctx_b.close()


def test_an_unreachable_cluster_is_told_and_the_pad_still_works(browser, tmp_path):
    from harness.ray_cluster import free_port
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(REPO_ROOT / "models" / "reference", models / "reference")
    proc, url, _ = start_server({"VAE_MODELS_DIR": str(models), "VAE_JOB_RUNNER": "ray",
                                 "RAY_ADDRESS": f"http://127.0.0.1:{free_port()}"})
    context, page = person(browser)
    try:
        page.goto(url + "/?view=Train")
        wait_ready(page)
        alert = page.locator("[data-testid=stAlertContentError]").first
        alert.wait_for()
        assert "cannot be reached" in alert.inner_text() and "ray start" in alert.inner_text()
        page.get_by_role("tab", name="Latent pad").click()
        wait_ready(page)
        page.locator(".st-key-latent_pad .vae-pad[data-ready=true]").wait_for()
        no_exceptions(page)
    finally:
        context.close()
        stop_server(proc)

