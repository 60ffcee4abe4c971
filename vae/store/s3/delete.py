"""Deleting a version for every server: its manifest first (it is gone from every listing at
once), then its files (a crash between leaves orphans for orphans.py), then this server's
cached copies."""
from vae.store.disk import METADATA_FILE


def delete_version(link, cache, name):
    """Remove the version `name` (a valid name, not a shipped model); FileNotFoundError when the
    store has no manifest of that name."""
    objects = link.call(link.fs.find, f"{link.root}/{name}/")
    objects = [p for p in objects if p.startswith(f"{link.root}/{name}/")]
    manifest = link.path(name, METADATA_FILE)
    if manifest not in objects:
        raise FileNotFoundError(f"no model version named {name!r}")
    link.call(link.fs.rm_file, manifest)
    rest = [p for p in objects if p != manifest]
    if rest:
        link.call(link.fs.rm, rest)
    for key, cached, _, _, _ in cache.entries():
        if cached == name:
            cache.remove(key)
