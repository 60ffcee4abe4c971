"""Objects of no version: an upload or a delete cut off halfway, or files a manifest does not
list. An object store has no rename, so they cannot be avoided, only removed once they are old
enough that no upload can still be under way. Each server does it hourly (its listing's chore);
`python -m vae.store.s3 cleanup` does it at once."""
import time

from vae.store.disk import METADATA_FILE
from vae.store.s3.gallery import GALLERY_DIR
from vae.store.s3.manifest import read_manifest
from vae.store.thumbnails import THUMBNAIL_FILES

ORPHAN_SECONDS = 24 * 3600  # objects of no version, older than this, are removed


def remove_orphans(link, older_than=ORPHAN_SECONDS):
    """Remove the objects of no version older than `older_than` seconds; returns their paths."""
    cutoff = time.time() - older_than
    doomed = []
    for name, files in link.call(link.objects).items():
        if name == GALLERY_DIR:
            continue  # the gallery's featured list: no version's, and never an orphan
        listed = set()
        if METADATA_FILE in files:
            try:
                _, table, _ = read_manifest(link.call(link.fs.cat_file, link.path(name, METADATA_FILE)))
            except FileNotFoundError:
                continue  # deleted meanwhile
            if table is None:
                continue  # a damaged version: the operator decides
            listed = set(table) | {METADATA_FILE} | set(THUMBNAIL_FILES)  # made beside an older version
        for file, info in files.items():
            modified = info.get("LastModified")
            if file not in listed and hasattr(modified, "timestamp") and modified.timestamp() < cutoff:
                doomed.append(link.path(name, file))
    if doomed:
        link.call(link.fs.rm, doomed)
    return doomed


def remove_orphans_quietly(link):
    """The hourly chore: a failure is the next listing's to report."""
    try:
        remove_orphans(link)
    except Exception:
        pass
