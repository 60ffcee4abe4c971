"""Train a tiny model from the page in a real Chromium and explore it."""
import shutil
import time

import pytest

from tests.e2e.conftest import REPO_ROOT, no_exceptions, screenshot, start_server, stop_server, wait_ready

pytestmark = pytest.mark.browser


def active_model(page):
    return page.locator("[data-testid=stSidebar] [data-testid=stSelectbox] input").input_value()


@pytest.fixture(scope="module")
def training_server(tmp_path_factory):
    """A server on a throw-away models directory, so runs never touch the repo's models/."""
    models = tmp_path_factory.mktemp("e2e-models")
    shutil.copytree(REPO_ROOT / "models" / "reference", models / "reference")
    proc, url, _ = start_server({"VAE_MODELS_DIR": str(models)})
    yield url, models
    stop_server(proc)


def test_train_one_epoch_in_the_browser_then_explore_it(page, training_server):
    url, models = training_server
    page.goto(url + "/?view=Train")
    wait_ready(page)
    page.locator(".st-key-train_limit input").fill("400")
    page.keyboard.press("Enter")
    wait_ready(page)
    page.locator(".st-key-train_epochs input[type=range]").focus()
    page.keyboard.press("Home")  # 1 epoch
    wait_ready(page)
    assert page.locator(".st-key-train_epochs [data-testid=stSliderThumbValue]").inner_text() == "1"
    page.locator(".st-key-train_start button").click()

    seen = set()
    deadline = time.time() + 240
    success = page.locator("[data-testid=stAlertContentSuccess]")
    while time.time() < deadline and success.count() == 0:
        seen.update(t for t in page.locator("[data-testid=stProgress]").all_inner_texts() if t)
        page.wait_for_timeout(250)
    assert success.count() == 1, f"no success message; progress seen: {seen}"
    assert any("Epoch 1/1" in t for t in seen), f"no live epoch progress seen: {seen}"
    wait_ready(page)
    screenshot(page, "train-finished")
    new_versions = [p.name for p in models.iterdir() if p.name.startswith("vae-")]
    assert len(new_versions) == 1
    name = new_versions[0]
    # the new version is in the picker and active
    assert name in active_model(page)

    page.get_by_role("tab", name="Latent pad").click()
    wait_ready(page)
    pad = page.locator(".st-key-latent_pad .vae-pad[data-ready=true]")
    pad.wait_for()
    # the page decodes with the new model: its key names the new version
    assert pad.get_attribute("data-model").startswith(name + "@")
    area = page.locator(".st-key-latent_pad canvas.overlay")
    box = area.bounding_box()
    # A 1-epoch model decodes near-identical blurs everywhere, so watch the z it reports
    before = page.locator(".st-key-latent_pad .readout").inner_text()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"])
    page.wait_for_function("() => new URL(location.href).searchParams.has('z')")
    assert page.locator(".st-key-latent_pad .readout").inner_text() != before
    assert name in active_model(page)
    assert "z=" in page.url and f"model={name}" in page.url
    no_exceptions(page)
    screenshot(page, "pad-new-model")
