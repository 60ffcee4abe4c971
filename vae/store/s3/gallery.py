"""The gallery's objects in the store: each version's two thumbnails (vae.store.thumbnails) and
the operator's featured list. A version written before thumbnails existed has none in its
manifest: they are made once and put beside its files, outside the manifest (its hash names the
version's content; cleanup keeps them). The featured list lives under GALLERY_DIR, which no
version can be named (a version name starts with a letter or a digit)."""
import json

from vae.store.s3.link import StoreUnavailable
from vae.store.thumbnails import THUMBNAIL_FILES, thumbnails_from
from vae.store.versions import featured_names

GALLERY_DIR = ".gallery"
FEATURED = f"{GALLERY_DIR}/featured.json"


def read_thumbnails(link, name, fingerprint, make):
    """The Thumbnails of `name`, read without downloading the version; `make()` → {file: PNG bytes}
    when the store has none that match `fingerprint` (the model's SHA-256). What is made is stored."""
    paths = {file: link.path(name, file) for file in THUMBNAIL_FILES}
    try:
        raws = link.call(link.fs.cat, list(paths.values()), on_error="omit")
    except StoreUnavailable:
        raws = {}  # made from the cached version, if this server has it
    found = thumbnails_from({file: raws.get(path) for file, path in paths.items()}, fingerprint)
    if found is not None:
        return found
    made = make()
    for file, raw in made.items():
        try:
            link.call(link.fs.pipe_file, paths[file], raw)
        except StoreUnavailable:
            break  # shown now, kept the next time the store answers
    return thumbnails_from(made, fingerprint)


def read_featured(link):
    """The names the operator featured; none while the store cannot be read."""
    try:
        return featured_names(json.loads(link.call(link.fs.cat_file, f"{link.root}/{FEATURED}")))
    except (FileNotFoundError, StoreUnavailable, ValueError):
        return set()


def write_featured(link, names):
    link.call(link.fs.pipe_file, f"{link.root}/{FEATURED}", json.dumps(sorted(names)).encode())
