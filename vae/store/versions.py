"""A model version, one concept with one home: its metadata, dataset, architecture, Keras
model and browser files, found from its name.

  <models>/<name>/model.keras     the Keras model, loaded with safe_mode
                 /metadata.json   options, history, held-out metrics, "dataset", "arch"
                 /decoder.json    the browser files (vae.store.browser_files), made at write time,
                 /encoder.json    or once at the first open of an older version (only those it
                 /test_codes.npz  lacks: one saved before encoder.json existed gets that alone)
                 /thumb_map.png   the gallery's thumbnails (vae.store.thumbnails), made at write time,
                 /thumb_manifold.png  or once when the gallery first shows an older version

`Versions` is a models folder with four verbs: list, open, write, delete, and what the picker
and the runners ask before they act: `entries()`/`entry(name)` (damage, metadata and a revision
for each, from the listing), `exists(name)`, `refresh()`, `check_writable()` and `problem` (why
the store could not be read, or None). Everything below it (vae.store.disk) is files on a local disk.
vae.store.s3 is the other implementation, an object store behind an s3:// URL, and
vae.store.location picks one from a location.

Opening a model for the explorer is a straight trip down the layers (every call goes to a
module the caller imports; tests/test_layers.py follows one and fails if a call climbs up):

  ui.state.get_explorer(name)
    location.open_versions().open(name) → Version
                                          (an s3:// store: vae.store.s3 → vae.store.cache, the
                                          download, then Versions(cache folder).open, as below)
    explorer.open_explorer(version)       (or a directory or name: versions.open_dir, a CLI's --model)
      Versions.open(name) → Version       → store (is it a version, damaged?, metadata.json),
                                            config (recorded dataset, arch), datasets (spec)
      Version.test_set()                  → data.load_arrays → datasets
      Version.browser_files(x_test)       → browser_files (read)
        only for an older version         → model.load_vae → architectures;
        without them:                       browser_files (write → export, model → data)
    → Explorer

Before this module the explorer did the opening itself, and the same open entered 9 files
in 15 stays, climbing back up 6 times: explorer, store, datasets, config, data,
browser_files, explorer, browser_files, export, model, data, browser_files, store,
browser_files.
"""
import dataclasses
import functools
from pathlib import Path

from vae import settings
from vae.store import disk
from vae.store.cache import Remote
from vae.store.disk import DamagedVersionError
from vae.store.browser_files import model_fingerprint, read_browser_files, stale_browser_files, write_browser_files
from vae.store.thumbnails import make_thumbnails, read_thumbnails, test_labels, thumbnails_from, write_thumbnails
from vae.ml.config import recorded_arch, recorded_dataset
from vae.data.datasets import DatasetSpec, get_dataset


@dataclasses.dataclass(frozen=True)
class Entry:
    """One version as a listing shows it, without opening it."""
    name: str
    damage: str | None  # why it cannot be opened, in a few words; None when it looks sound
    metadata: dict | None  # its metadata.json, when readable
    revision: str  # changes whenever its content does: names what an explorer was built from


@dataclasses.dataclass(frozen=True)
class Version:
    name: str
    path: Path  # its directory
    metadata: dict
    dataset: DatasetSpec  # what it was trained on: image shape, classes, colours, nouns
    arch: str  # its name in vae.ml.architectures
    # A version opened from a cache (vae.store.s3) gets its files back from here when the
    # cache evicted them while an explorer still used it.
    refetch: Remote | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def model_file(self):
        if self.refetch is not None and not (self.path / disk.MODEL_FILE).exists():
            self.refetch()
        return self.path / disk.MODEL_FILE

    @functools.cached_property
    def fingerprint(self):
        """SHA-256 of model.keras: names what the browser files were made from."""
        return model_fingerprint(self.path)

    def load_model(self):
        """The Keras model (imports TensorFlow), with Keras' safe_mode on."""
        from vae.ml.model import load_vae
        return load_vae(self.model_file)

    def test_set(self):
        """The verified arrays of its dataset (x_test, y_test are what the explorer shows)."""
        from vae.data.arrays import load_arrays
        return load_arrays(dataset=self.dataset)

    def browser_files(self, x_test):
        """(BrowserFiles, model): the browser files, those missing or stale made now, in which
        case `model` is the Keras model loaded to make them (else None)."""
        files = read_browser_files(self.path, self.fingerprint)
        if files is not None:
            return files, None
        model = self.load_model()
        write_browser_files(model, self.path, x_test, stale_browser_files(self.path, self.fingerprint))
        return read_browser_files(self.path, self.fingerprint), model

    def make_thumbnails(self):
        """{file name: PNG bytes} of its thumbnails, from its browser files (made first if missing)."""
        files = read_browser_files(self.path, self.fingerprint)
        if files is None:
            files, _ = self.browser_files(self.test_set()["x_test"])
        return make_thumbnails(files.decoder, files.z_mean, test_labels(self.dataset), self.dataset.class_colors,
                               self.fingerprint)

    def thumbnails(self):
        """Its Thumbnails, kept beside it; made and kept now when missing or stale."""
        found = read_thumbnails(self.path, self.fingerprint)
        if found is not None:
            return found
        made = self.make_thumbnails()
        write_thumbnails(self.path, made)
        return thumbnails_from(made, self.fingerprint)


class Versions:
    """The model versions in one folder (settings.models_dir() by default)."""

    problem = None  # a local folder is read at every call: there is no stale listing to explain

    def __init__(self, root=None):
        self.root = Path(root or settings.models_dir())

    @property
    def location(self):
        return str(self.root)

    def list(self):
        """Every version's name, damaged ones included, the default first, then newest first."""
        return [path.name for path in disk.list_model_dirs(self.root)]

    def entries(self):
        return [self._entry(path) for path in disk.list_model_dirs(self.root)]

    def entry(self, name):
        path = self.root / str(name)
        if path.parent != self.root or not disk.is_version_dir(path):
            return None
        return self._entry(path)

    @staticmethod
    def _entry(path):
        return _entry_of(path, _files_signature(path))

    def exists(self, name):
        """Is anything called `name` there (a version, or a leftover in its way)?"""
        return (self.root / str(name)).exists()

    def refresh(self):
        """Forget any cached listing (a folder has none)."""

    def check_writable(self):
        disk.check_writable(self.root)

    def open(self, name):
        """The version called `name`; FileNotFoundError when there is none, DamagedVersionError
        when its files cannot be read."""
        path = self.root / str(name)
        if path.parent != self.root or not disk.is_version_dir(path):  # a name, never a path
            raise FileNotFoundError(f"No model version {name!r} in {self.root}: it needs "
                                    f"{disk.MODEL_FILE} and {disk.METADATA_FILE}.")
        damage = disk.version_damage(path)
        if damage:
            raise DamagedVersionError(f"the model version {name!r} is damaged: {damage}")
        metadata = disk.read_metadata(path)
        return Version(name=path.name, path=path, metadata=metadata,
                       dataset=get_dataset(recorded_dataset(metadata)), arch=recorded_arch(metadata))

    def write(self, name, model, metadata, x_test):
        """Save a trained model as the new version `name`, atomically, with its browser files."""
        path = disk.write_model_dir(model, metadata, self.root / name)
        # A crash before the browser files or the thumbnails only means the first open makes them.
        write_browser_files(model, path, x_test)
        version = self.open(name)
        write_thumbnails(path, version.make_thumbnails())
        return version

    def thumbnails(self, name):
        """The gallery's Thumbnails of the version `name` (made once, and kept, when it lacks them);
        FileNotFoundError or DamagedVersionError as open()."""
        return self.open(name).thumbnails()

    def delete(self, name):
        """Remove a version; the shipped ones are refused (PermissionError)."""
        disk.delete_model_dir(name, self.root)

    def featured(self):
        """The names the operator featured in the gallery (a hidden file: never listed as a version)."""
        return featured_names(disk.read_json(self.root / FEATURED_FILE, []))

    def set_featured(self, name, featured=True):
        """Feature or unfeature the version `name` (FileNotFoundError when there is none)."""
        if featured and self.entry(name) is None:
            raise FileNotFoundError(f"no model version named {name!r}")
        names = self.featured() - {name} | ({name} if featured else set())
        disk.write_json_atomic(self.root / FEATURED_FILE, sorted(names))


def _files_signature(path):
    """(size, mtime, inode) of a version's two files, None for a missing one: what changes when
    either is written, replaced (our writers rename) or cut short."""
    signature = []
    for file in (disk.MODEL_FILE, disk.METADATA_FILE):
        try:
            found = (path / file).stat()
            signature.append((found.st_size, found.st_mtime_ns, found.st_ino))
        except OSError:
            signature.append(None)
    return tuple(signature)


@functools.lru_cache(maxsize=2048)
def _entry_of(path, signature):
    # Keyed by the files' signature: a listing of a hundred versions, asked at every rerun (the
    # picker, the gallery's refresh), stats them instead of parsing each metadata.json and
    # opening each model.keras again. The Entry (its metadata too) is shared: read, never changed.
    metadata = disk.read_json(path / disk.METADATA_FILE)
    model = signature[0]
    return Entry(name=path.name, damage=disk.version_damage(path),
                 metadata=metadata if isinstance(metadata, dict) else None,
                 revision=str(model[1]) if model else "")


FEATURED_FILE = ".featured.json"


def featured_names(raw):
    """The featured names from a featured file's JSON, anything else in it ignored."""
    return {name for name in raw if isinstance(name, str)} if isinstance(raw, list) else set()


def open_dir(name_or_path=None, models_dir=None):
    """The version in the directory `name_or_path`, wherever it is (a CLI's --model), else the
    one of that name in `models_dir` (the setting's by default); the default model when None."""
    path = Path(name_or_path) if name_or_path else None
    if path is None or (not path.exists() and not path.is_absolute()):
        folder = Path(models_dir or settings.models_dir())
        path = folder / (str(name_or_path) if name_or_path else disk.DEFAULT_MODEL)
    path = path.absolute()
    if not disk.is_version_dir(path):  # said with the whole path: the CLI's user typed it
        raise FileNotFoundError(f"No model at {path}: it needs {disk.MODEL_FILE} and {disk.METADATA_FILE}. "
                                f"Train one with `python -m vae.train`.")
    return Versions(path.parent).open(path.name)
