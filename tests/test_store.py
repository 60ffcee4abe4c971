"""Model versions on disk: listing, and deleting only what may be deleted."""
import json
import shutil

import pytest

from vae import store


def fake_model(root, name):
    path = root / name
    path.mkdir()
    (path / store.MODEL_FILE).write_bytes(b"weights")
    (path / store.METADATA_FILE).write_text(json.dumps({"name": name}))
    return path


def test_listing_skips_incomplete_and_hidden_dirs_and_puts_the_default_first(tmp_path):
    fake_model(tmp_path, "b-version")
    fake_model(tmp_path, store.DEFAULT_MODEL)
    (tmp_path / "half-written").mkdir()
    (tmp_path / "half-written" / store.MODEL_FILE).write_bytes(b"x")
    shutil.copytree(tmp_path / "b-version", tmp_path / ".tmp-b-version-123")
    names = [p.name for p in store.list_model_dirs(tmp_path)]
    assert names == [store.DEFAULT_MODEL, "b-version"]


@pytest.mark.parametrize("name", store.SHIPPED_MODELS)
def test_shipped_models_cannot_be_deleted(tmp_path, name):
    path = fake_model(tmp_path, name)
    with pytest.raises(PermissionError):
        store.delete_model_dir(name, tmp_path)
    assert (path / store.MODEL_FILE).exists()


def test_deleting_a_version_leaves_nothing_behind(tmp_path):
    fake_model(tmp_path, "mine")
    store.delete_model_dir("mine", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["missing", "../outside", "."])
def test_deleting_something_that_is_not_a_version_is_refused(tmp_path, name):
    (tmp_path / "models").mkdir()
    fake_model(tmp_path, "outside")
    with pytest.raises(FileNotFoundError):
        store.delete_model_dir(name, tmp_path / "models")
    assert (tmp_path / "outside" / store.MODEL_FILE).exists()
