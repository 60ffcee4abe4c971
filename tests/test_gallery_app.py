"""AppTest: the Gallery and Compare tabs on the shipped models: hostile ?compare= links give a
message and a working page; delete and feature follow the operator lock; never a shipped delete."""
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from vae.settings import SETTINGS

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")
PASSWORD_ENV = SETTINGS["operator_password"].env


def run(view, **params):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = view
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("value, said", [
    ("reference", "two version names"),
    ("reference,reference", "twice"),
    ("reference,nope", "“nope”, which is not a version"),
    ("../x,reference", "names a name"),
    ("<img src=x onerror=alert(1)>,fast", "names a name"),
    ("a" * 10_000, "10,000 characters"),
])
def test_a_hostile_compare_link_gets_a_message_and_a_working_compare_page(value, said):
    at = run("Compare", compare=value)
    assert any(said in w.value for w in at.warning), [w.value for w in at.warning]
    assert [h.value for h in at.header] == ["Compare two versions"]
    assert at.selectbox(key="compare_a").value == "reference" and at.selectbox(key="compare_b").value != "reference"
    assert {s.value for s in at.subheader} >= {"Held-out metrics", "Training curves"}
    if "<" in value or "/" in value or len(value) > 100:  # nothing hostile is echoed
        shown = "\n".join([m.value for m in at.markdown] + [w.value for w in at.warning])
        assert value.split(",")[0] not in shown


def test_a_good_compare_link_opens_its_pair_with_the_fit_and_the_differences():
    at = run("Compare", compare="fast,mlp")
    assert not at.warning
    assert (at.selectbox(key="compare_a").value, at.selectbox(key="compare_b").value) == ("fast", "mlp")
    assert any("Residual" in m.value for m in at.markdown)
    metrics = at.table[0].value
    assert list(metrics.columns) == ["metric", "A: fast", "B: mlp", "B − A", "better"]
    assert len(at.table[1].value) == 10  # one row per class


def test_the_gallery_lists_every_version_with_its_facts():
    at = run("Gallery")
    headings = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert len(headings) == 8 and "### reference" in headings
    assert any("Showing 8 of 8 versions" in m.value for m in at.markdown)
    at.selectbox(key="gallery_dataset").set_value("fashion-mnist").run()
    headings = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert sorted(headings) == ["### fashion\\-large", "### fashion\\-mlp", "### fashion\\-reference"]


def test_locked_the_gallery_offers_no_feature_or_delete(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "gallery-secret-123")
    at = run("Gallery")
    labels = {b.label for b in at.button}
    assert "Open" in labels and not labels & {"Feature", "Unfeature", "Delete this version"}


def test_unlocked_the_operator_features_but_never_deletes_a_shipped_version(tmp_path, monkeypatch):
    root = tmp_path / "models"
    for name in ("reference", "fast"):
        shutil.copytree(REPO_ROOT / "models" / name, root / name)
    shutil.copytree(REPO_ROOT / "models" / "fast", root / "copy")  # a version of nobody's: deletable
    monkeypatch.setenv("VAE_MODELS_DIR", str(root))
    monkeypatch.setenv(PASSWORD_ENV, "gallery-secret-123")
    at = run("Gallery")
    at.text_input(key="gallery_password").input("gallery-secret-123")
    at.button(key="gallery_unlock").click().run()
    deletes = [b for b in at.button if b.label == "Delete this version"]
    assert len(deletes) == 1, "only the version that does not ship"
    copy_index = int(deletes[0].key.rsplit("_", 1)[1])
    at.button(key=f"gallery_feature_{copy_index}").click().run()
    assert (root / ".featured.json").read_text() == '["copy"]'
    assert "### copy ★" in [m.value for m in at.markdown], "featured, and so first"
    at.checkbox(key="gallery_sure_copy").check().run()
    next(b for b in at.button if b.label == "Delete this version").click().run()
    assert not (root / "copy").exists() and not at.exception
