"""A version's manifest in the object store: its metadata.json plus a "files" table, the SHA-256
and size of each of its other files. The manifest is written last, so its arrival is what makes
a version exist; the SHA-256 of its bytes is the version's revision and its cache key.
"""
import hashlib
import json
import re

from vae.store.disk import METADATA_FILE, MODEL_FILE, VERSION_NAME, sha256_file

SHA256 = re.compile(r"[0-9a-f]{64}")


def manifest_key(raw):
    """The revision of the version whose manifest is `raw` (bytes): its cache key."""
    return hashlib.sha256(raw).hexdigest()


def make_manifest(folder, metadata):
    """(manifest bytes, files table) for the version written in the local `folder`."""
    files = {f.name: {"sha256": sha256_file(f), "size": f.stat().st_size}
             for f in sorted(folder.iterdir()) if f.is_file() and f.name != METADATA_FILE}
    raw = (json.dumps({**metadata, "files": files}, indent=2, sort_keys=True) + "\n").encode()
    return raw, files


def read_manifest(raw):
    """(metadata, files table, damage): the manifest's content, and why it is unusable (or None)."""
    try:
        metadata = json.loads(raw)
    except ValueError:
        return None, None, f"unreadable {METADATA_FILE}"
    if not isinstance(metadata, dict):
        return None, None, f"unreadable {METADATA_FILE}"
    files = metadata.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        return metadata, None, f"{METADATA_FILE} lists no {MODEL_FILE}"
    for file, want in files.items():
        if (not VERSION_NAME.fullmatch(file) or file == METADATA_FILE or not isinstance(want, dict)
                or not SHA256.fullmatch(str(want.get("sha256"))) or not isinstance(want.get("size"), int)):
            return metadata, None, f"{METADATA_FILE} has a bad entry for {file!r}"
    return metadata, files, None


def damage_against(files, objects):
    """Why the objects listed for a version do not match its manifest's files table (a file
    missing or of another size), or None."""
    for file, want in (files or {}).items():
        got = objects.get(file)
        if got is None:
            return f"no {file}"
        if got.get("size") != want["size"]:
            return f"{file} is {got.get('size'):,} bytes where its manifest says {want['size']:,}"
    return None
