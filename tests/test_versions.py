"""A models folder through vae.store.versions: list, open, write, delete."""
import json
import shutil

import pytest

from conftest import REPO_ROOT
from vae.store import disk
from vae.data.datasets import MNIST
from vae.store.versions import DamagedVersionError, Versions, open_dir


@pytest.fixture
def folder(tmp_path, tiny_model_dir):
    shutil.copytree(REPO_ROOT / "models" / disk.DEFAULT_MODEL, tmp_path / disk.DEFAULT_MODEL)
    shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    return Versions(tmp_path)


def test_open_finds_metadata_dataset_and_architecture(folder):
    version = folder.open(disk.DEFAULT_MODEL)
    assert (version.name, version.dataset, version.arch) == (disk.DEFAULT_MODEL, MNIST, "reference")
    assert version.metadata == disk.read_metadata(folder.root / disk.DEFAULT_MODEL)
    assert open_dir(folder.root / "tiny").path == folder.open("tiny").path
    assert folder.list()[0] == disk.DEFAULT_MODEL and sorted(folder.list()) == ["reference", "tiny"]


@pytest.mark.parametrize("name", ["missing", "../tiny", "", "."])
def test_open_takes_a_name_in_the_folder_and_nothing_else(folder, name):
    with pytest.raises(FileNotFoundError):
        folder.open(name)


def test_a_damaged_version_is_refused_saying_why(folder):
    (folder.root / "tiny" / disk.MODEL_FILE).write_bytes(b"not a zip")
    with pytest.raises(DamagedVersionError, match="tiny.*truncated or not a .keras file"):
        folder.open("tiny")
    assert "tiny" in folder.list()  # still listed, so the picker can say it is damaged


def test_write_saves_model_metadata_and_browser_files_then_delete_removes_them(folder):
    tiny = folder.open("tiny")
    model, arrays = tiny.load_model(), tiny.test_set()
    written = folder.write("copy", model, {**tiny.metadata, "name": "copy"}, arrays["x_test"])
    assert written.name == "copy" and "copy" in folder.list()
    assert json.loads((written.path / disk.METADATA_FILE).read_text())["name"] == "copy"
    _, loaded = written.browser_files(arrays["x_test"])
    assert loaded is None, "write made the browser files"
    with pytest.raises(disk.ModelExistsError):
        folder.write("copy", model, tiny.metadata, arrays["x_test"])
    folder.delete("copy")
    assert "copy" not in folder.list() and not written.path.exists()
    with pytest.raises(PermissionError):
        folder.delete(disk.DEFAULT_MODEL)


def test_a_listing_is_read_once_and_sees_a_version_changed_in_place(tmp_path):
    """Entries are kept by their files' size, time and inode (no metadata.json parsed, no
    model.keras opened again at every rerun), and still follow a change to either file."""
    shutil.copytree(REPO_ROOT / "models" / "fast", tmp_path / "copy")
    versions = Versions(tmp_path)
    first = versions.entry("copy")
    assert first.damage is None and versions.entries() == [first]
    assert versions.entry("copy") is first, "the same files: the same Entry, not read again"
    metadata = tmp_path / "copy" / disk.METADATA_FILE
    metadata.write_text(json.dumps({**json.loads(metadata.read_text()), "epochs_run": 12345}))  # in place
    assert versions.entry("copy").metadata["epochs_run"] == 12345
    model = tmp_path / "copy" / disk.MODEL_FILE
    with model.open("r+b") as f:  # cut short in place
        f.truncate(model.stat().st_size // 2)
    assert "truncated" in versions.entry("copy").damage and "truncated" in versions.entries()[0].damage
