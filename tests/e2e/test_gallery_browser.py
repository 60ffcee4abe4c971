"""The Gallery and Compare tabs in Chromium, on a server with an operator password and a models
folder of three shipped versions and one trained copy: the gallery's cards and pictures, sorting
and filtering, a compare link's two linked pads and aligned maps, and who sees Delete."""
import json
import shutil

import pytest

from harness.browser import poll, wait_ready, no_exceptions
from harness.server import start_server, stop_server
from tests.e2e.axe import assert_accessible

from harness.browser import REPO_ROOT

PASSWORD = "gallery-e2e-secret"
COMPARE = ".st-key-latent_compare .vae-compare"
SHIPPED_HERE = ("reference", "fast", "fashion-mlp")


@pytest.fixture(scope="module")
def gallery_server(tmp_path_factory, browser):  # `browser`: skipped, like the others, without Chromium
    root = tmp_path_factory.mktemp("gallery") / "models"
    for name in SHIPPED_HERE:
        shutil.copytree(REPO_ROOT / "models" / name, root / name)
    shutil.copytree(REPO_ROOT / "models" / "mlp", root / "trained-copy")
    for png in (root / "trained-copy").glob("thumb_*.png"):
        png.unlink()  # saved before thumbnails: the gallery makes them once
    proc, url, _ = start_server(env_extra={"VAE_MODELS_DIR": str(root), "VAE_OPERATOR_PASSWORD": PASSWORD})
    yield url, root
    stop_server(proc)


def card_names(page):
    return page.locator("[class*=st-key-gallery_card_] h3").all_inner_texts()


def open_gallery(page, url, query=""):
    page.goto(f"{url}/?view=Gallery{query}")
    wait_ready(page)
    page.get_by_role("heading", name="Gallery of model versions").wait_for()
    no_exceptions(page)


def test_the_gallery_lists_every_version_with_both_pictures(page, gallery_server):
    url, root = gallery_server
    open_gallery(page, url)
    names = [n.strip() for n in card_names(page)]
    assert sorted(names) == sorted([*SHIPPED_HERE, "trained-copy"])
    images = page.locator("[class*=st-key-gallery_card_] img")
    assert images.count() == 8
    poll(page, lambda: page.evaluate("""() => [...document.querySelectorAll('[class*=st-key-gallery_card_] img')]
                                            .every(img => img.complete && img.naturalWidth >= 192)"""),
         message="every thumbnail loaded")
    sources = images.evaluate_all("imgs => imgs.map(i => new URL(i.src).pathname)")
    assert all(src.endswith(".png") for src in sources), f"served as made, not re-encoded as JPEG: {sources}"
    alts = images.evaluate_all("imgs => imgs.map(i => i.alt)")
    assert all(alt.startswith(("Latent map of", "Manifold of")) for alt in alts), alts
    assert (root / "trained-copy" / "thumb_map.png").is_file(), "made once, and kept with the version"
    text = page.locator("[class*=st-key-gallery_card_]").first.inner_text()
    assert "−ELBO" in text and "5-NN" in text and "epochs" in text


def test_sorting_and_filtering(page, gallery_server):
    url, root = gallery_server
    open_gallery(page, url)
    elbo = {name: json.loads((root / name / "metadata.json").read_text())["metrics"]["neg_elbo"]
            for name in [*SHIPPED_HERE, "trained-copy"]}
    assert [n.strip() for n in card_names(page)] == sorted(elbo, key=lambda n: (elbo[n], n))
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="Fashion-MNIST").click()
    poll(page, lambda: [n.strip() for n in card_names(page)] == ["fashion-mlp"], message="only Fashion-MNIST")
    wait_ready(page)
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="All datasets").click()
    page.get_by_role("combobox", name="Sort by").click()
    page.get_by_role("option", name="Highest 5-NN accuracy").click()
    knn = {name: json.loads((root / name / "metadata.json").read_text())["metrics"]["knn5_accuracy"] for name in elbo}
    poll(page, lambda: [n.strip() for n in card_names(page)] == sorted(knn, key=lambda n: (-knn[n], n)),
         message="sorted by 5-NN")


def test_no_delete_unless_unlocked_and_never_for_a_shipped_version(page, gallery_server):
    url, _ = gallery_server
    open_gallery(page, url)
    assert page.get_by_role("button", name="Delete…").count() == 0
    assert page.get_by_role("button", name="Feature").count() == 0
    page.get_by_text("Operator: feature and delete versions").click()
    page.get_by_label("Operator password").fill(PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    poll(page, lambda: page.get_by_role("button", name="Feature").count() == 4, message="unlocked")
    deletes = page.locator("[class*=st-key-gallery_card_]").filter(has=page.get_by_role("button", name="Delete…"))
    assert deletes.count() == 1 and deletes.locator("h3").inner_text().strip() == "trained-copy"
    wait_ready(page)
    assert_accessible(page, "Gallery, operator unlocked")


def digit(page, side):
    return page.locator(f"{COMPARE} .side-{side} canvas.digit").evaluate("c => c.toDataURL()")


def move_over(page, side, fx, fy):
    overlay = page.locator(f"{COMPARE} .side-{side} canvas.overlay")
    box = overlay.bounding_box()
    left, top = box["x"] + 44, box["y"] + 8  # the plot area (plane.js margins)
    width, height = box["width"] - 52, box["height"] - 44
    page.mouse.move(left + fx * width, top + fy * height)


def test_a_compare_link_opens_two_linked_pads_with_aligned_maps(page, gallery_server):
    url, _ = gallery_server
    page.goto(f"{url}/?view=Compare&compare=reference,fast")
    wait_ready(page)
    view = page.locator(f"{COMPARE}[data-ready=true]")
    view.wait_for(timeout=60_000)
    no_exceptions(page)
    assert view.get_attribute("data-models").split(",")[0].startswith("reference@")
    assert view.get_attribute("data-aligned") == "true"
    assert page.get_by_text("Residual").count() == 1
    before = (digit(page, "a"), digit(page, "b"))
    move_over(page, "a", 0.2, 0.3)
    poll(page, lambda: (digit(page, "a"), digit(page, "b")) != before and digit(page, "a") != before[0]
         and digit(page, "b") != before[1], message="both digits decoded anew")
    seen = (digit(page, "a"), digit(page, "b"), view.get_attribute("data-label-a"), view.get_attribute("data-label-b"))
    move_over(page, "b", 0.8, 0.7)  # the other pad drives both too
    poll(page, lambda: digit(page, "a") != seen[0] and digit(page, "b") != seen[1], message="both follow pad B")
    page.mouse.down()
    page.mouse.up()
    kept = json.loads(view.get_attribute("data-kept"))
    page.mouse.move(5, 5)  # away: both show the kept point
    assert "kept point" in page.locator(f"{COMPARE} .side-a .readout").inner_text()
    assert "kept point" in page.locator(f"{COMPARE} .side-b .readout").inner_text()
    assert kept == json.loads(view.get_attribute("data-kept"))
    # Raw maps: the toggle re-draws B's plane in its own frame, and both decode the same z.
    page.get_by_text("Align B's map onto A's (Procrustes)").click()
    poll(page, lambda: view.get_attribute("data-aligned") == "false", message="raw maps")
    a_text = page.locator(f"{COMPARE} .side-a .readout").inner_text().split("z = ")[1]
    b_text = page.locator(f"{COMPARE} .side-b .readout").inner_text().split("z = ")[1]
    assert a_text == b_text
    wait_ready(page)
    assert_accessible(page, "Compare, raw maps, a point kept in both")


def test_a_hostile_compare_link_keeps_a_working_page(page, gallery_server):
    url, _ = gallery_server
    page.goto(f"{url}/?view=Compare&compare=..%2Fx,reference")
    wait_ready(page)
    no_exceptions(page)
    assert page.get_by_text("which is not a version here").count() == 1
    page.locator(f"{COMPARE}[data-ready=true]").wait_for(timeout=60_000)


def test_a_version_that_lands_shows_within_ten_seconds_and_a_damaged_one_as_damaged(page, gallery_server):
    url, root = gallery_server
    open_gallery(page, url)
    shutil.copytree(REPO_ROOT / "models" / "fast", root / ".tmp-landed")  # as a writer does: whole, then renamed
    (root / ".tmp-landed").rename(root / "landed")
    shutil.copytree(REPO_ROOT / "models" / "fast", root / "broken")
    (root / "broken" / "model.keras").write_bytes(b"cut short")
    try:
        poll(page, lambda: {"landed", "broken"} <= {n.strip() for n in card_names(page)}, timeout=10.0,
             message="the new versions in the gallery, without a click")
        broken = page.locator("[class*=st-key-gallery_card_]").filter(has=page.get_by_role("heading", name="broken"))
        poll(page, lambda: "Damaged" in broken.inner_text(), timeout=10.0, message="the damaged card")
        no_exceptions(page)
    finally:
        shutil.rmtree(root / "landed")
        shutil.rmtree(root / "broken")
