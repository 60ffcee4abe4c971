"""Model directories on disk: `<name>/model.keras` + `<name>/metadata.json`.

A directory is only ever complete: it is written under a temporary name in the
same parent and renamed into place, so a crash or kill mid-write leaves
nothing that looks like a model. As databases do, the data is fsynced before the
rename and the parent directory after it: without that, a power loss can leave
an empty or partial file behind the new name.

What a version is (its dataset, architecture, model and browser files) lives one layer up,
in vae.store.versions; this module only knows files on a local disk.
"""
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from vae import settings

DEFAULT_MODEL = "reference"  # the model the explorer opens with
SHIPPED_LIST = settings.REPO_ROOT / "models" / "shipped.txt"  # the one list of the models in the repo


def read_shipped(path=SHIPPED_LIST):
    """The names in a shipped list, in its order: one a line, '#' starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))


SHIPPED_MODELS = read_shipped()  # the UI never overwrites or deletes them; every store lists them
MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
TMP_PREFIX = ".tmp-"
# A version's name (and an object store's file's): letters, digits, '.', '_', '-', never a path
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ModelExistsError(FileExistsError):
    pass


class DamagedVersionError(ValueError):
    """A version whose files cannot be opened; the message says which and why."""


def sha256_file(path):
    """The SHA-256 of a file's bytes, in hex, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class NotWritableError(PermissionError):
    pass


def check_writable(directory, what="the models folder"):
    """Raise NotWritableError, saying why, when no file can be created in `directory`.

    Tried rather than asked (os.access): root passes every permission check, yet a
    read-only mount still refuses it.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(prefix=TMP_PREFIX, dir=directory):
            pass
    except OSError as err:
        raise NotWritableError(f"{what} {directory} is not writable ({err.strerror or err})") from err


def fsync_path(path):
    """Flush a file's or a directory's contents (a directory's: its entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_model_dir(model, metadata, dest):
    """Save `model` and `metadata` to the directory `dest`, atomically and durably."""
    dest = Path(dest)
    if dest.exists():
        raise ModelExistsError(f"{dest} already exists; choose another --out")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + dest.name + "-", dir=dest.parent))
    try:
        model.save(tmp / MODEL_FILE)  # Keras writes and closes the file; fsynced below
        fsync_path(tmp / MODEL_FILE)
        with open(tmp / METADATA_FILE, "w") as f:
            f.write(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o755)
        fsync_path(tmp)  # the two entries inside it
        os.rename(tmp, dest)
        fsync_path(dest.parent)  # the rename itself
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


@contextlib.contextmanager
def atomic_file(path, mode="w"):
    """Write `path` through a temporary file renamed into place: readers see the old
    content or the new, never half of it, even after a power loss; a failed write leaves
    no temporary behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
        fsync_path(path.parent)  # and the rename is on disk too
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path, obj):
    with atomic_file(path) as f:
        json.dump(obj, f)


def read_json(path, default=None):
    """The JSON in `path`, or `default` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def read_metadata(model_dir):
    return json.loads((Path(model_dir) / METADATA_FILE).read_text())


def is_model_dir(path):
    """A complete version: both files present (whether they are sound is version_damage's business)."""
    path = Path(path)
    return (not path.name.startswith(".") and (path / MODEL_FILE).is_file()
            and (path / METADATA_FILE).is_file())


def is_version_dir(path):
    """A version, complete or damaged: a visible directory with either of its two files.
    Our writers never leave one half-written (they write under .tmp-*), so a visible
    directory missing a file was damaged afterwards, and the user should see it."""
    path = Path(path)
    return (not path.name.startswith(".") and path.is_dir()
            and ((path / MODEL_FILE).exists() or (path / METADATA_FILE).exists()))


def version_damage(path):
    """Why the version at `path` cannot be opened, in a few words; None when it looks sound.

    Cheap enough for every rerun: metadata.json is small, and a .keras file is a zip whose
    directory sits at its end, so a truncated file fails to open without reading it all.
    """
    path = Path(path)
    try:
        meta = json.loads((path / METADATA_FILE).read_text())
    except FileNotFoundError:
        return f"no {METADATA_FILE}"
    except (OSError, ValueError):
        return f"unreadable {METADATA_FILE}"
    if not isinstance(meta, dict):
        return f"unreadable {METADATA_FILE}"
    try:
        with zipfile.ZipFile(path / MODEL_FILE) as archive:
            if "config.json" not in archive.namelist():
                return f"{MODEL_FILE} holds no model"
    except FileNotFoundError:
        return f"no {MODEL_FILE}"
    except (OSError, zipfile.BadZipFile):
        return f"{MODEL_FILE} is truncated or not a .keras file"
    return None


def list_model_dirs(models_dir=None):
    """Every version, damaged ones included (see version_damage), the default first,
    then newest first."""
    models_dir = Path(models_dir or settings.models_dir())
    if not models_dir.is_dir():
        return []
    dirs = [p for p in models_dir.iterdir() if is_version_dir(p)]
    return sorted(dirs, key=lambda p: (p.name != DEFAULT_MODEL, -p.stat().st_mtime))


def delete_model_dir(name, models_dir=None):
    """Remove a trained version. Shipped models are refused: the UI can never lose them.

    Renamed away first, so a crash mid-delete leaves a hidden .tmp-* dir, never half a model.
    """
    models_dir = Path(models_dir or settings.models_dir())
    if name in SHIPPED_MODELS:
        raise PermissionError(f"{name!r} ships with VAE Explorer and cannot be deleted")
    target = models_dir / name
    if target.parent != models_dir or not is_version_dir(target):  # a damaged one may go too
        raise FileNotFoundError(f"no model version named {name!r}")
    doomed = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + "deleted-", dir=models_dir))
    os.rename(target, doomed / name)
    shutil.rmtree(doomed, ignore_errors=True)
