"""Model versions on disk: listing, and deleting only what may be deleted."""
import json
import shutil

import pytest

from vae.store import disk


def fake_model(root, name):
    path = root / name
    path.mkdir()
    (path / disk.MODEL_FILE).write_bytes(b"weights")
    (path / disk.METADATA_FILE).write_text(json.dumps({"name": name}))
    return path


def test_listing_shows_damaged_versions_skips_hidden_and_foreign_dirs_default_first(tmp_path):
    fake_model(tmp_path, "b-version")
    fake_model(tmp_path, disk.DEFAULT_MODEL)
    (tmp_path / "half-gone").mkdir()
    (tmp_path / "half-gone" / disk.MODEL_FILE).write_bytes(b"x")
    (tmp_path / "not-a-model").mkdir()  # neither file: someone else's folder
    shutil.copytree(tmp_path / "b-version", tmp_path / ".tmp-b-version-123")
    names = [p.name for p in disk.list_model_dirs(tmp_path)]
    assert names[0] == disk.DEFAULT_MODEL
    assert sorted(names[1:]) == ["b-version", "half-gone"]


def real_keras_zip(path):
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\0" * 50_000)


@pytest.mark.parametrize("damage, reason", [
    (lambda d: (d / disk.METADATA_FILE).unlink(), "no metadata.json"),
    (lambda d: (d / disk.METADATA_FILE).write_text('{"name": '), "unreadable metadata.json"),
    (lambda d: (d / disk.METADATA_FILE).write_text('[1, 2]'), "unreadable metadata.json"),
    (lambda d: (d / disk.MODEL_FILE).unlink(), "no model.keras"),
    (lambda d: (d / disk.MODEL_FILE).write_bytes((d / disk.MODEL_FILE).read_bytes()[:30_000]),
     "model.keras is truncated or not a .keras file"),
    (lambda d: (d / disk.MODEL_FILE).write_bytes(b"not a zip at all"),
     "model.keras is truncated or not a .keras file"),
])
def test_a_damaged_version_says_what_is_wrong(tmp_path, damage, reason):
    path = fake_model(tmp_path, "v")
    real_keras_zip(path / disk.MODEL_FILE)
    assert disk.version_damage(path) is None
    damage(path)
    assert disk.version_damage(path) == reason
    assert [p.name for p in disk.list_model_dirs(tmp_path)] == ["v"]  # still listed


def test_the_shipped_models_are_sound():
    from conftest import REPO_ROOT
    for name in disk.SHIPPED_MODELS:
        assert disk.version_damage(REPO_ROOT / "models" / name) is None


def test_a_damaged_version_can_be_deleted(tmp_path):
    path = fake_model(tmp_path, "broken")
    (path / disk.METADATA_FILE).unlink()
    disk.delete_model_dir("broken", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", disk.SHIPPED_MODELS)
def test_shipped_models_cannot_be_deleted(tmp_path, name):
    path = fake_model(tmp_path, name)
    with pytest.raises(PermissionError):
        disk.delete_model_dir(name, tmp_path)
    assert (path / disk.MODEL_FILE).exists()


def test_deleting_a_version_leaves_nothing_behind(tmp_path):
    fake_model(tmp_path, "mine")
    disk.delete_model_dir("mine", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["missing", "../outside", "."])
def test_deleting_something_that_is_not_a_version_is_refused(tmp_path, name):
    (tmp_path / "models").mkdir()
    fake_model(tmp_path, "outside")
    with pytest.raises(FileNotFoundError):
        disk.delete_model_dir(name, tmp_path / "models")
    assert (tmp_path / "outside" / disk.MODEL_FILE).exists()


@pytest.fixture
def disk_log(monkeypatch):
    """Records fsync (with the path of the fd) and rename/replace, in the order they happen."""
    import os
    log = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd):
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src, dst):
        log.append(("rename", str(src), str(dst)))
        real_rename(src, dst)

    def replace(src, dst):
        log.append(("rename", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    return log


def test_atomic_file_fsyncs_the_file_before_the_rename_and_the_dir_after(tmp_path, disk_log):
    target = tmp_path / "state.json"
    disk.write_json_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    kinds = [entry[0] for entry in disk_log]
    assert kinds == ["fsync", "rename", "fsync"], disk_log
    (_, synced_file), (_, tmp, dst), (_, synced_dir) = disk_log
    assert synced_file == tmp and dst == str(target)  # the temporary file itself was synced
    assert synced_dir == str(tmp_path)


class FakeModel:
    def save(self, path):
        path.write_bytes(b"weights")


def test_a_model_dir_is_fsynced_file_by_file_then_renamed_then_its_parent_synced(tmp_path, disk_log):
    dest = disk.write_model_dir(FakeModel(), {"name": "x"}, tmp_path / "v1")
    assert disk.is_model_dir(dest)
    rename = next(i for i, e in enumerate(disk_log) if e[0] == "rename")
    tmp = disk_log[rename][1]
    before = {e[1] for e in disk_log[:rename]}
    assert before == {f"{tmp}/{disk.MODEL_FILE}", f"{tmp}/{disk.METADATA_FILE}", tmp}, disk_log
    assert disk_log[rename - 1] == ("fsync", tmp)  # the directory's entries, after its files
    assert disk_log[rename + 1:] == [("fsync", str(tmp_path))]
