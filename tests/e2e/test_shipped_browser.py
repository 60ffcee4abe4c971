"""Every shipped model, in Chromium: the Model tab offers no delete control, even to the
operator who unlocked the page, while a trained version beside them does (the control)."""
import shutil

import pytest

from harness.browser import REPO_ROOT, no_exceptions, pick_model, screenshot, wait_ready
from harness.server import start_server, stop_server
from tests.e2e.axe import assert_accessible
from vae.store.disk import SHIPPED_MODELS

pytestmark = pytest.mark.browser

PASSWORD = "teacher-7f3a"
DELETE = ".st-key-delete_model"


def open_delete_section(page):
    """Unfold the Model tab's "Delete this version" expander, as a user does."""
    summary = page.locator("[data-testid=stExpander] summary").filter(has_text="Delete this version")
    if summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()


@pytest.fixture(scope="module")
def operator_server(tmp_path_factory):
    """A server over a copy of models/ (nothing real can be lost) plus one trained version."""
    models = tmp_path_factory.mktemp("shipped") / "models"
    shutil.copytree(REPO_ROOT / "models", models)
    shutil.copytree(REPO_ROOT / "models" / "fast", models / "mine")
    proc, url, _ = start_server({"VAE_MODELS_DIR": str(models), "VAE_OPERATOR_PASSWORD": PASSWORD})
    yield url, models
    stop_server(proc)


def test_no_shipped_model_offers_delete_even_to_the_operator(page, operator_server):
    url, models = operator_server
    page.goto(url + "/?view=Model&model=mine")
    wait_ready(page)
    open_delete_section(page)
    field = page.locator(".st-key-model_password input")  # the Model tab's unlock form
    field.fill(PASSWORD)
    field.press("Enter")
    page.get_by_text("Operator mode").first.wait_for()
    page.locator(DELETE).get_by_role("button").wait_for()  # the control: a trained version offers it
    wait_ready(page)
    assert_accessible(page, "Model tab, operator unlocked, delete open")

    for name in SHIPPED_MODELS:
        pick_model(page, name)
        open_delete_section(page)
        page.get_by_text("Models that ship with VAE Explorer cannot be deleted.").wait_for()
        assert page.locator(DELETE).count() == 0, f"{name} offers delete"
        picker = page.locator(".st-key-model_picker").evaluate("e => e.textContent + (e.querySelector('input')?.value ?? '')")
        assert f"{name} (shipped) · " in picker, picker
        assert (models / name / "model.keras").is_file()
    screenshot(page, "model-shipped-operator")
    no_exceptions(page)
