"""S3Versions: the four verbs of vae.store.versions (list, open, write, delete) on an object
store, and what the picker and the runners ask before they act (entries, exists, refresh,
check_writable, problem). Each job is a module of its own; this one puts them together with the
shipped models, which are not in the store: they come with the code, from the repository's
models/ folder, on every server (so a new, empty or unreachable store still has the default).

A server opens versions from its local cache (vae.store.cache), keyed by the SHA-256 of the
manifest: downloaded once, checked against the manifest's hashes, loaded with Keras' safe_mode.
"""
import dataclasses
import functools
import uuid

from vae import settings
from vae.error_text import first_line
from vae.store.cache import FileMismatch, Remote, VersionCache
from vae.store.disk import (DEFAULT_MODEL, METADATA_FILE, MODEL_FILE, SHIPPED_MODELS, VERSION_NAME, DamagedVersionError,
                            ModelExistsError, NotWritableError)
from vae.store.s3.delete import delete_version
from vae.store.s3.gallery import read_featured, read_thumbnails, write_featured
from vae.store.s3.link import StoreLink, StoreUnavailable
from vae.store.s3.listing import Listing, mtime
from vae.store.s3.manifest import read_manifest
from vae.store.s3.orphans import ORPHAN_SECONDS, remove_orphans, remove_orphans_quietly
from vae.store.s3.upload import upload
from vae.store.versions import Versions

MB = 1024 * 1024


class S3Versions:
    """The model versions under one s3:// URL, with this server's cache of them."""

    def __init__(self, url, cache_dir=None, cache_mb=None, shipped_root=None, fs=None):
        self.link = StoreLink(url, fs)
        self.cache = VersionCache(cache_dir or settings.cache_dir(), (cache_mb or settings.cache_mb()) * MB)
        self.shipped = Versions(shipped_root or settings.REPO_ROOT / "models")
        self.listing = Listing(self.link, self.cache, chore=lambda: remove_orphans_quietly(self.link))

    @property
    def url(self):
        return self.link.url

    @property
    def root(self):
        return self.link.root

    @property
    def fs(self):
        return self.link.fs

    @property
    def problem(self):
        """Why the store could not be read just now, for the page; None when fine."""
        return self.link.problem

    @property
    def downloads(self):
        """Versions this instance fetched from the store, a Version's refetch included."""
        return self.cache.downloads

    @property
    def location(self):
        return self.url

    def describe(self):
        return self.link.describe()

    # -- listing ----------------------------------------------------------------------

    def list(self):
        return [e.name for e in self.entries()]

    def entries(self):
        """Shipped models and the store's versions, damaged ones included: the default first, then newest first."""
        timed = list(self._shipped_entries().values()) + list(self.listing.entries().values())
        timed.sort(key=lambda pair: (pair[0].name != DEFAULT_MODEL, -pair[1]))
        return [e for e, _ in timed]

    def entry(self, name):
        found = (self._shipped_entries() if name in SHIPPED_MODELS else self.listing.entries()).get(name)
        return found[0] if found else None

    @functools.cache
    def _shipped_entries(self):
        """{name: (Entry, sort time)} of the shipped models: read once, they come with the code."""
        return {e.name: (e, mtime(self.shipped.root / e.name)) for e in self.shipped.entries()
                if e.name in SHIPPED_MODELS}

    def refresh(self):
        """Forget the listing: the next call lists the store again (waiting for it, a little)."""
        self.listing.refresh()

    # -- open ---------------------------------------------------------------------------

    def open(self, name):
        """The version `name`, from this server's cache; downloaded first when it is not there.
        Found through the listing (asked again when the name is not in it), so a cached version
        opens without the store, and a store that does not answer costs no wait here."""
        name = str(name)
        if name in SHIPPED_MODELS:
            return self.shipped.open(name)
        found = self.listing.entries().get(name) if VERSION_NAME.fullmatch(name) else None
        if found is None and VERSION_NAME.fullmatch(name):  # made a moment ago, perhaps, by another server
            self.refresh()
            found = self.listing.entries().get(name)
        if found is None:
            if self.problem:
                raise StoreUnavailable(self.problem)
            raise FileNotFoundError(f"No model version {name!r} in {self.url}")
        entry = found[0]
        if entry.damage:
            raise DamagedVersionError(f"the model version {name!r} is damaged: {entry.damage}")
        raw = self.listing.manifest(name)  # None when the listing came from the cache (the store is down)
        files = read_manifest(raw)[1] if raw is not None else None
        if self.cache.get(entry.revision, name) is None:
            if raw is None:  # evicted meanwhile, and the store cannot be asked
                raise StoreUnavailable(self.problem or f"the model version {name!r} is not cached here")
            self._download(name, entry.revision, raw, files)
        return self._open_cached(entry.revision, name, raw, files)

    def _open_cached(self, key, name, raw=None, files=None):
        directory = self.cache.get(key, name) or self.cache.path(key, name)
        version = Versions(directory.parent).open(name)  # the local checks: damage, metadata, dataset
        if raw is None:
            return version
        return dataclasses.replace(version, refetch=self._remote(name, key, raw, files))

    def _remote(self, name, key, raw, files):
        return Remote(cache=self.cache, key=key, name=name, manifest=raw, files=files,
                      prefix=f"{self.root}/{name}", fs=self.fs)

    def _download(self, name, key, raw, files):
        try:
            with self.link.asking():  # a store that fails is marked down
                return self._remote(name, key, raw, files)()
        except FileMismatch as err:
            self.listing.mark_damaged(name, key, str(err).split(": ", 1)[-1])
            raise

    # -- the gallery's objects (vae.store.s3.gallery) ----------------------------------------

    def thumbnails(self, name):
        """The gallery's Thumbnails of the version `name`, read from the store without downloading
        the version; made once (from its browser files, in the cache) when it has none. Each PNG
        records the model's SHA-256, checked against the manifest's."""
        name = str(name)
        if name in SHIPPED_MODELS:
            return self.shipped.thumbnails(name)
        entry = self.entry(name) if VERSION_NAME.fullmatch(name) else None
        if entry is None:
            raise FileNotFoundError(f"No model version {name!r} in {self.url}")
        if entry.damage:
            raise DamagedVersionError(f"the model version {name!r} is damaged: {entry.damage}")
        fingerprint = (((entry.metadata or {}).get("files") or {}).get(MODEL_FILE) or {}).get("sha256")
        return read_thumbnails(self.link, name, fingerprint, lambda: self.open(name).make_thumbnails())

    def featured(self):
        """The names the operator featured in the gallery, for every server."""
        return read_featured(self.link)

    def set_featured(self, name, featured=True):
        """Feature or unfeature the version `name` for every server (one small object)."""
        if featured and self.entry(str(name)) is None:
            raise FileNotFoundError(f"no model version named {name!r}")
        write_featured(self.link, self.featured() - {name} | ({name} if featured else set()))

    # -- write, delete ----------------------------------------------------------------------

    def exists(self, name):
        """Has `name` a manifest in the store now (asked, not from the listing)?"""
        return self.link.call(self.fs.exists, self.link.path(name, METADATA_FILE))

    def check_writable(self):
        """Raise NotWritableError, saying why, when this server cannot write to the store."""
        probe = f"{self.root}/.probe/{uuid.uuid4().hex}"  # left behind by a crash: an orphan
        try:
            self.link.call(self.fs.pipe_file, probe, b"")
            self.link.call(self.fs.rm_file, probe)
        except (StoreUnavailable, OSError) as err:
            raise NotWritableError(f"the model store {self.describe()} is not writable ({first_line(err)})") from err

    def write(self, name, model, metadata, x_test):
        """Save a trained model as the new version `name` (vae.store.s3.upload). It also enters
        this server's cache."""
        name = str(name)
        if name in SHIPPED_MODELS or not VERSION_NAME.fullmatch(name):
            raise ValueError(f"{name!r} cannot name a version in the store")
        if self.exists(name):
            raise ModelExistsError(f"{self.url}/{name} already exists; choose another name")
        key, raw, files = upload(self.link, self.cache, name, model, metadata, x_test)
        self.refresh()
        return self._open_cached(key, name, raw, files)

    def delete(self, name):
        """Remove a version for every server (vae.store.s3.delete)."""
        name = str(name)
        if name in SHIPPED_MODELS:
            raise PermissionError(f"{name!r} ships with VAE Explorer and cannot be deleted")
        if not VERSION_NAME.fullmatch(name):
            raise FileNotFoundError(f"no model version named {name!r}")
        delete_version(self.link, self.cache, name)
        self.refresh()

    def cleanup(self, older_than=ORPHAN_SECONDS):
        """Remove objects of no version older than `older_than` seconds (vae.store.s3.orphans)."""
        return remove_orphans(self.link, older_than)
