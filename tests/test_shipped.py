"""The shipped models: models/shipped.txt is their one list, and it names exactly the model
folders git tracks. Every one is sound, listed by every store, marked shipped and never deleted."""
import subprocess

import pytest

from vae.store import disk
from vae.store.versions import Versions

from conftest import REPO_ROOT


def tracked_model_folders():
    """The folders under models/ that git tracks a model.keras in."""
    files = subprocess.run(["git", "ls-files", "models"], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    return {path.split("/")[1] for path in files if path.endswith("/" + disk.MODEL_FILE)}


def test_the_shipped_list_is_what_git_tracks():
    assert set(disk.SHIPPED_MODELS) == tracked_model_folders()
    assert len(disk.SHIPPED_MODELS) == len(set(disk.SHIPPED_MODELS))
    assert disk.DEFAULT_MODEL in disk.SHIPPED_MODELS


def test_the_check_above_sees_a_model_missing_from_the_list(tmp_path):
    """Control: the list the bug had (five of eight) differs from what git tracks."""
    old = tmp_path / "shipped.txt"
    old.write_text("# the list before\nreference\nelbo-sum  # a comment\nlarge\n\nfashion-reference\nfashion-large\n")
    assert disk.read_shipped(old) == ("reference", "elbo-sum", "large", "fashion-reference", "fashion-large")
    assert set(disk.read_shipped(old)) != tracked_model_folders()


@pytest.mark.parametrize("name", disk.SHIPPED_MODELS)
def test_a_shipped_model_is_sound_and_cannot_be_deleted(name):
    versions = Versions(REPO_ROOT / "models")
    assert versions.entry(name).damage is None
    with pytest.raises(PermissionError, match="ships with VAE Explorer"):
        versions.delete(name)
    assert disk.is_model_dir(REPO_ROOT / "models" / name)


def test_an_object_store_lists_and_keeps_every_shipped_model(s3_models, tmp_path):
    from vae.store.s3 import S3Versions

    versions = S3Versions(s3_models, cache_dir=tmp_path / "cache")
    listed = versions.list()
    assert listed[0] == disk.DEFAULT_MODEL
    assert set(disk.SHIPPED_MODELS) <= set(listed)
    for name in disk.SHIPPED_MODELS:
        assert versions.entry(name).damage is None
        with pytest.raises(PermissionError):
            versions.delete(name)
        with pytest.raises(ValueError):
            versions.write(name, None, {}, None)
