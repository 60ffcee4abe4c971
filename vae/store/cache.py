"""This server's copies of versions from an object store: keyed by content hash, with a size cap,
the least recently used evicted first.

  <cache>/versions/<key>/<name>/model.keras, metadata.json, decoder.json, encoder.json, test_codes.npz

The key is the SHA-256 of the version's manifest (vae.store.s3), which holds the hash of each
of its other files: so the key names the whole content, is the same on every server, and changes
when anything in the version does. A version is downloaded once per cache folder, however many
sessions open it.

An entry appears only complete: it is filled under a .tmp-* name and renamed into place. Its
directory's mtime records its last use. Eviction renames an entry away before removing it, so a
reader never finds half of one; a Version still in use gets its files back (Version.refetch).
Several server processes may share one cache folder.

Hand-written (a few dozen lines): fsspec's file caches are keyed by path and expire by age; none
caps the size or keeps a version's files together in one folder, which Keras and the explorer need.
"""
import dataclasses
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from vae.store.disk import METADATA_FILE, TMP_PREFIX, DamagedVersionError, fsync_path, read_json, sha256_file


class FileMismatch(DamagedVersionError):
    """A downloaded file whose size or SHA-256 is not its manifest's."""


@dataclasses.dataclass(frozen=True)
class Remote:
    """Where one cached version's files come from: its store's file system, its manifest's bytes
    and files, and the cache they go into. Called, it fetches them (again, after an eviction).

    Plain data and library calls (fsspec's get_file) only: a Version calls it from below the
    store that made it, so the call goes down the layers, never back up into vae.store.s3.
    """
    cache: "VersionCache"
    key: str  # the SHA-256 of the manifest: the cache entry's name
    name: str
    manifest: bytes
    files: dict  # file name → {"sha256", "size"}
    prefix: str  # the version's folder in the store: bucket/prefix/<name>
    fs: object  # an fsspec file system

    def __call__(self):
        return self.cache.fetch(self)


class VersionCache:
    def __init__(self, root, max_bytes):
        self.root = Path(root) / "versions"
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()  # one eviction at a time in this process
        self._fetch_lock = threading.Lock()  # one download at a time in this process
        self.downloads = 0  # versions fetched into this cache by this process, refetches included

    def fetch(self, remote):
        """Download `remote`'s files, check each against its manifest and put them in as one
        entry. True when it downloaded; False when the entry was here already (another session
        of this server fetched it meanwhile). Raises FileMismatch, or DamagedVersionError when a
        file is missing; the store's own errors pass through."""
        with self._fetch_lock:
            if self.get(remote.key, remote.name) is not None:
                return False
            staged = self.staging()
            try:
                (staged / remote.name).mkdir()
                for file, want in remote.files.items():
                    local = staged / remote.name / file
                    remote.fs.get_file(f"{remote.prefix}/{file}", str(local))
                    if local.stat().st_size != want["size"] or sha256_file(local) != want["sha256"]:
                        raise FileMismatch(f"the model version {remote.name!r} is damaged: "
                                           f"{file} does not match its manifest's SHA-256")
                (staged / remote.name / METADATA_FILE).write_bytes(remote.manifest)
            except FileNotFoundError as err:  # deleted meanwhile, or a file missing
                shutil.rmtree(staged, ignore_errors=True)
                raise DamagedVersionError(f"the model version {remote.name!r} is damaged: a file is "
                                          f"missing ({str(err).strip()[:200] or type(err).__name__})") from err
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
            self.put(staged, remote.key, remote.name)
            self.downloads += 1
            return True

    def path(self, key, name):
        return self.root / key / name

    def get(self, key, name):
        """The cached copy's directory, marked as just used; None when it is not here."""
        path = self.path(key, name)
        if not (path / METADATA_FILE).is_file():
            return None
        try:
            _touch(path.parent)  # its last use, for LRU eviction
        except OSError:
            return None  # evicted by another process just now
        return path

    def staging(self):
        """A new temporary directory in the cache's file system (so `put` is a rename)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.root))

    def put(self, staged, key, name):
        """Move the staged `staged/<name>/` into place as entry `key`; evict past the cap. Returns
        the entry's version directory. Another process may have put the same key first: then
        its copy stands, and ours is dropped (same key, same content)."""
        final = self.root / key
        for path in sorted(staged.rglob("*"), reverse=True) + [staged]:  # files, then their folders
            fsync_path(path)  # on disk before the name points at it, as vae.store.disk writes a version
        try:
            os.rename(staged, final)
        except OSError:
            if not (final / name / METADATA_FILE).is_file():
                shutil.rmtree(staged, ignore_errors=True)
                raise
            shutil.rmtree(staged, ignore_errors=True)
        fsync_path(self.root)  # the rename itself
        _touch(final)
        self.evict(keep=key)
        return final / name

    def entries(self):
        """[(key, name, directory, bytes, last use)] of the complete entries."""
        out = []
        if not self.root.is_dir():
            return out
        for entry in self.root.iterdir():
            if entry.name.startswith("."):
                continue
            try:
                versions = [p for p in entry.iterdir() if (p / METADATA_FILE).is_file()]
                size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
                used = entry.stat().st_mtime
            except OSError:  # removed under us
                continue
            out += [(entry.name, version.name, version, size, used) for version in versions[:1]]
        return out

    def evict(self, keep=None):
        """Remove the least recently used entries until the cache is within its cap; `keep` stays."""
        with self._lock:
            entries = sorted(self.entries(), key=lambda e: e[4])
            total = sum(e[3] for e in entries)
            for key, _, directory, size, _ in entries:
                if total <= self.max_bytes:
                    break
                if key == keep:
                    continue
                self.remove(key)
                total -= size

    def remove(self, key):
        doomed = self.root / f"{TMP_PREFIX}evicted-{key}-{os.getpid()}-{threading.get_ident()}"
        try:
            os.rename(self.root / key, doomed)
        except OSError:
            return  # gone already
        shutil.rmtree(doomed, ignore_errors=True)

    def newest_by_name(self):
        """{name: (key, directory, metadata)} of what is cached, the most recently used copy of each
        name: what a server can still open while its store cannot be reached."""
        out = {}
        for key, name, directory, _, used in sorted(self.entries(), key=lambda e: e[4]):
            metadata = read_json(directory / METADATA_FILE)
            if isinstance(metadata, dict):
                out[name] = (key, directory, metadata)
        return out


def _touch(path):
    # An explicit time keeps its nanoseconds; os.utime(path) alone takes the file system's clock,
    # which ticks every few milliseconds, and two uses in one tick would tie.
    now = time.time_ns()
    os.utime(path, ns=(now, now))
