"""Writing a new version to the object store: made locally in the cache's staging folder (the
model and its browser files, as vae.store.versions writes them), its files uploaded, then its
manifest. An upload cut off before the manifest leaves objects nobody lists (orphans.py).
"""
import shutil

from vae.store.disk import METADATA_FILE
from vae.store.s3.manifest import make_manifest, manifest_key
from vae.store.versions import Versions


def put_file(link, name, file, local):
    """Upload one file of the version `name` (a step of its own: tests cut an upload here)."""
    link.call(link.fs.put_file, str(local), link.path(name, file))


def upload(link, cache, name, model, metadata, x_test):
    """Write the version `name`; it also enters `cache`. Returns (its cache key, manifest bytes,
    files table)."""
    staged = cache.staging()
    try:
        local = Versions(staged).write(name, model, metadata, x_test).path
        raw, files = make_manifest(local, metadata)
        (local / METADATA_FILE).write_bytes(raw)
        for file in files:  # the files first ...
            put_file(link, name, file, local / file)
        link.call(link.fs.pipe_file, link.path(name, METADATA_FILE), raw)  # ... the manifest last
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    key = manifest_key(raw)
    cache.put(staged, key, name)
    return key, raw, files
