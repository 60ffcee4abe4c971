"""The gallery's operator actions on an object store, against moto's S3 server: Feature and
Delete from a card (AppTest, the real page script) persist in the store, where another server
reads them; a shipped model is never deleted, by the page or by the store."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from vae.settings import SETTINGS
from vae.store import disk
from vae.store.s3 import S3Versions
from vae.store.s3.gallery import GALLERY_DIR

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")
PASSWORD = "gallery-s3-secret-123"


@pytest.fixture
def store_with_a_trained_version(s3_page, monkeypatch):
    """The page's settings over a store holding one trained version, "tiny", and an operator password."""
    monkeypatch.setenv(SETTINGS["operator_password"].env, PASSWORD)
    return s3_page


def another_server(store, tmp_path, label):
    """A fresh handle with its own cache: what a second replica reads from the store."""
    return S3Versions(store, cache_dir=tmp_path / f"cache-{label}")


def card_headings(at):
    return [m.value for m in at.markdown if m.value.startswith("### ")]


def run(at_or_widget):
    """Run the script (after a widget's change, when given one); no exception on the page."""
    at = at_or_widget.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_operator_features_and_deletes_a_store_version_from_its_card(store_with_a_trained_version, tmp_path):
    store = store_with_a_trained_version
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Gallery"
    run(at)
    assert "### tiny" in card_headings(at)
    assert not [b for b in at.button if b.label in ("Feature", "Delete this version")], "locked: neither"
    at.text_input(key="gallery_password").input(PASSWORD)
    run(at.button(key="gallery_unlock").click())

    deletes = [b for b in at.button if b.label == "Delete this version"]
    assert len(deletes) == 1, "only the trained version: every other card ships with the app"
    index = int(deletes[0].key.rsplit("_", 1)[1])
    run(at.button(key=f"gallery_feature_{index}").click())
    raw = another_server(store, tmp_path, "b").fs.cat_file(f"{store[len('s3://'):]}/{GALLERY_DIR}/featured.json")
    assert json.loads(raw) == ["tiny"], "kept in the store, as one small object"
    assert another_server(store, tmp_path, "c").featured() == {"tiny"}, "and read by another server"
    assert card_headings(at)[0] == "### tiny ★", "featured, and so first"

    run(at.checkbox(key="gallery_sure_tiny").check())
    run(next(b for b in at.button if b.label == "Delete this version").click())
    assert not at.error, [e.value for e in at.error]
    assert "### tiny ★" not in card_headings(at) and "### tiny" not in card_headings(at)
    elsewhere = another_server(store, tmp_path, "d")
    assert "tiny" not in elsewhere.list() and elsewhere.list()[0] == disk.DEFAULT_MODEL
    assert not elsewhere.fs.find(f"{elsewhere.root}/tiny/"), "its objects are gone from the store"


def test_the_store_refuses_to_delete_a_shipped_model_and_still_lists_it(store_with_a_trained_version, tmp_path):
    server = another_server(store_with_a_trained_version, tmp_path, "a")
    for name in disk.SHIPPED_MODELS:
        with pytest.raises(PermissionError, match="ships with VAE Explorer"):
            server.delete(name)
    assert set(disk.SHIPPED_MODELS) | {"tiny"} == set(server.list())
    server.set_featured(disk.DEFAULT_MODEL)  # featuring a shipped model is allowed: it changes no file of it
    assert another_server(store_with_a_trained_version, tmp_path, "b").featured() == {disk.DEFAULT_MODEL}
