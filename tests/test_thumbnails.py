"""The gallery's thumbnails (vae.store.thumbnails): made from a version's browser files, kept beside
it, made once for a version saved before they existed, remade when stale; on the folder store here
and on an object store (moto's S3 server) below."""
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from vae.data.datasets import get_dataset
from vae.store import disk
from vae.store.browser_files import model_fingerprint
from vae.store.disk import DamagedVersionError
from vae.store.thumbnails import MANIFOLD_FILE, MAP_FILE, THUMBNAIL_FILES, png_fingerprint, read_thumbnails
from vae.store.versions import Versions

from conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "models"


def older_copy(root, shipped="reference", name="old"):
    """A copy of a shipped version as saved before thumbnails existed."""
    shutil.copytree(SHIPPED / shipped, root / name)
    for file in THUMBNAIL_FILES:
        (root / name / file).unlink()
    return root / name


def rgb_pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)


@pytest.mark.parametrize("name", disk.SHIPPED_MODELS)
def test_every_shipped_model_keeps_current_thumbnails(name):
    assert read_thumbnails(SHIPPED / name, model_fingerprint(SHIPPED / name)) is not None, \
        f"{name}: thumbnails missing or stale (make them with Versions('models').thumbnails(name))"


def test_an_older_version_gets_its_thumbnails_once_and_keeps_them(tmp_path):
    path = older_copy(tmp_path)
    made = Versions(tmp_path).thumbnails("old")
    assert all((path / file).is_file() for file in THUMBNAIL_FILES)
    assert (path / MAP_FILE).read_bytes() == made.latent_map and (path / MANIFOLD_FILE).read_bytes() == made.manifold
    stamps = {file: (path / file).stat().st_mtime_ns for file in THUMBNAIL_FILES}
    assert Versions(tmp_path).thumbnails("old") == made
    assert {file: (path / file).stat().st_mtime_ns for file in THUMBNAIL_FILES} == stamps, "made once"
    assert png_fingerprint(made.latent_map) == model_fingerprint(path)


def test_the_map_shows_each_class_in_its_colour_and_the_manifold_shows_images(tmp_path):
    older_copy(tmp_path)
    made = Versions(tmp_path).thumbnails("old")
    pixels = {tuple(p) for p in rgb_pixels(made.latent_map)}
    colours = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in get_dataset("mnist").class_colors]
    assert all(colour in pixels for colour in colours), "every class has dots of its colour"
    manifold = np.asarray(Image.open(io.BytesIO(made.manifold)))
    assert manifold.shape == (224, 224) and manifold.min() < 30 and manifold.max() > 220  # ink on black


def test_a_replaced_model_or_a_damaged_png_gets_new_thumbnails(tmp_path):
    path = older_copy(tmp_path)
    first = Versions(tmp_path).thumbnails("old")
    shutil.copy(SHIPPED / "fast" / disk.MODEL_FILE, path / disk.MODEL_FILE)  # a retrained model
    for file in ("decoder.json", "encoder.json", "test_codes.npz"):
        shutil.copy(SHIPPED / "fast" / file, path / file)
    second = Versions(tmp_path).thumbnails("old")
    assert second.manifold != first.manifold and png_fingerprint(second.manifold) == model_fingerprint(path)
    (path / MAP_FILE).write_bytes(second.latent_map[:100])  # cut short
    assert Versions(tmp_path).thumbnails("old").latent_map == second.latent_map
    assert (path / MAP_FILE).read_bytes() == second.latent_map


def test_a_damaged_version_has_no_thumbnails(tmp_path):
    path = older_copy(tmp_path)
    (path / disk.MODEL_FILE).write_bytes(b"not a zip")
    with pytest.raises(DamagedVersionError):
        Versions(tmp_path).thumbnails("old")
    with pytest.raises(FileNotFoundError):
        Versions(tmp_path).thumbnails("../old")


# -- on an object store (moto's S3 server)

def test_a_written_version_carries_its_thumbnails_in_its_manifest(s3_models, tmp_path, tiny_model_dir):
    from test_versions_s3 import handle
    source = Versions(tiny_model_dir.parent).open(tiny_model_dir.name)
    writer = handle(s3_models, tmp_path, "writer")
    writer.write("v1", source.load_model(), source.metadata, source.test_set()["x_test"])
    manifest = json.loads(writer.fs.cat_file(f"{writer.root}/v1/metadata.json"))
    assert set(THUMBNAIL_FILES) <= set(manifest["files"])
    reader = handle(s3_models, tmp_path, "reader")
    thumbs = reader.thumbnails("v1")
    assert reader.downloads == 0, "read from the store, not by downloading the version"
    assert png_fingerprint(thumbs.manifold) == manifest["files"]["model.keras"]["sha256"]
    assert reader.thumbnails(disk.DEFAULT_MODEL) == Versions(SHIPPED).thumbnails(disk.DEFAULT_MODEL)


def test_an_older_store_version_gets_thumbnails_once_beside_it(s3_models, tmp_path, tiny_model_dir):
    from test_versions_s3 import handle, objects
    source = Versions(tiny_model_dir.parent).open(tiny_model_dir.name)
    writer = handle(s3_models, tmp_path, "writer")
    writer.write("old", source.load_model(), source.metadata, source.test_set()["x_test"])
    manifest_path = f"{writer.root}/old/metadata.json"
    manifest = json.loads(writer.fs.cat_file(manifest_path))
    for file in THUMBNAIL_FILES:  # as written before thumbnails existed
        del manifest["files"][file]
        writer.fs.rm_file(f"{writer.root}/old/{file}")
    writer.fs.pipe_file(manifest_path, json.dumps(manifest).encode())

    first = handle(s3_models, tmp_path, "first")
    made = first.thumbnails("old")
    assert first.downloads == 1  # its browser files, to make them from
    assert {f"old/{file}" for file in THUMBNAIL_FILES} <= set(objects(first, "old"))
    later = handle(s3_models, tmp_path, "later")
    assert later.thumbnails("old") == made and later.downloads == 0, "made once, then read by every server"
    assert later.entry("old").damage is None  # files outside the manifest do not damage it
    assert later.cleanup(older_than=0) == [], "cleanup keeps them"
    later.delete("old")
    assert objects(later, "old") == [], "and they go with the version"
